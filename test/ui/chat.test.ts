// Two people, two web-mode nodes in their own processes, two browser profiles: the whole
// path a person takes, from first run to typing, unread messages, presence, searching
// history and coming back after a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { WebNode, freePort, launchChromium, uiSkipReason, shot } from './web-node.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker
// without pulling the DOM library into the Node-side program.
declare const window: { [key: string]: unknown; innerWidth: number };
declare const document: { [key: string]: any };
declare function getComputedStyle(el: unknown): { [key: string]: string };

const skip = uiSkipReason();

async function addPeer(page: Page, other: WebNode, screenshot?: string): Promise<void> {
  await page.getByRole('button', { name: 'Add peer' }).click();
  await page.locator('input[name=address]').fill(other.address);
  await page.locator('textarea[name=peerId]').fill(other.self.displayId);
  if (screenshot) await shot(page, screenshot);
  await page.locator('dialog button[type=submit]').click();
  await page.locator('dialog').waitFor({ state: 'detached' });
}

function person(page: Page, node: WebNode) {
  return page.locator(`button.person[data-peer-id="${node.self.id}"]`);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Within the visible part of the message list, not just in the DOM (it renders a few rows beyond the view). */
async function inView(locator: Locator): Promise<boolean> {
  if ((await locator.count()) === 0) return false;
  const box = await locator.first().boundingBox();
  const list = await locator.page().getByTestId('message-list').boundingBox();
  return !!box && !!list && box.y + box.height > list.y && box.y < list.y + list.height;
}

/**
 * Sends through a node's bridge, pipelined (the core queues sends in the order they arrive,
 * and commits each batch at once) but within the bridge's limit of requests in flight.
 */
async function sendMany(node: WebNode, convId: string, texts: string[]): Promise<void> {
  for (let i = 0; i < texts.length; i += 50) await Promise.all(texts.slice(i, i + 50).map((text) => node.call('send', { convId, text })));
}

async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await composer.press('Enter');
}

describe('Parley in the browser: two people', { skip: skip ?? false }, () => {
  let browser: Browser;
  let alice: WebNode;
  let bob: WebNode;
  let aliceCtx: BrowserContext;
  let pa: Page;
  let pb: Page;
  let base: string;
  let aliceDir: string;
  let bobDir: string;
  /** Short enough to watch a message become "not delivered yet". */
  const timing = { deliveryDeadlineMs: 2000, redialMinMs: 200, redialMaxMs: 1000 };
  let aliceWebPort: number;
  const pageErrors: string[] = [];

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-'));
    aliceDir = path.join(base, 'alice');
    bobDir = path.join(base, 'bob');
    aliceWebPort = await freePort();
    [alice, bob] = await Promise.all([
      WebNode.start({ dataDir: aliceDir, webPort: aliceWebPort, timing }),
      WebNode.start({ dataDir: bobDir, name: 'Bob', timing }),
    ]);
    browser = await launchChromium();
    aliceCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' });
    pa = await aliceCtx.newPage();
    pb = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' })).newPage();
    for (const [who, page] of [['alice', pa], ['bob', pb]] as const) page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop()]);
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
  });

  it('asks a new person for a display name and explains the firewall prompt', async () => {
    await pa.goto(alice.url);
    const card = pa.locator('.first-run-card');
    await card.waitFor();
    assert.match(await card.innerText(), /firewall/i);
    assert.match(await card.innerText(), new RegExp(alice.self.displayId));
    // The token left the address bar once read.
    assert.equal(new URL(pa.url()).hash, '');
    await shot(pa, 'first-run');
    await pa.locator('input[name=displayName]').fill('Alice');
    await pa.getByRole('button', { name: 'Start' }).click();
    await pa.locator('.self-name', { hasText: 'Alice' }).waitFor();
    assert.equal((await alice.call('getSelf', {})).name, 'Alice');
  });

  it('does not ask again once a name is chosen', async () => {
    await pb.goto(bob.url);
    await pb.locator('.self-name', { hasText: 'Bob' }).waitFor();
    assert.equal(await pb.locator('.first-run-card').count(), 0);
  });

  it('lets both add each other by address and ID, and shows them online', async () => {
    await addPeer(pa, bob, 'add-peer');
    await addPeer(pb, alice);
    await person(pa, bob).locator('.presence-online').waitFor();
    await person(pb, alice).locator('.presence-online').waitFor();
    assert.match(await pa.locator('.people-group', { has: person(pa, bob) }).locator('.group-title').innerText(), /on this lan/i);
    assert.equal(await person(pa, bob).locator('.person-name').innerText(), 'Bob');
  });

  it('carries messages both ways, with unread badges and receipts', async () => {
    // Adding Alice opened her conversation; after a reload Bob looks at none, so Alice's
    // message stays unread on his side.
    await pb.reload();
    await person(pb, alice).waitFor();
    await person(pa, bob).click();
    await send(pa, 'Hello Bob, lunch at noon?');
    const mine = pa.locator('.msg-row.mine', { hasText: 'Hello Bob, lunch at noon?' });
    await mine.waitFor();
    await pa.locator('.msg-row.mine[data-state="delivered"]', { hasText: 'lunch' }).waitFor();

    const bobSees = pb.locator('.msg-row.theirs', { hasText: 'Hello Bob, lunch at noon?' });
    // The page is showing Alice's conversation only if Bob opened it; he did not yet.
    await person(pb, alice).locator('.badge', { hasText: '1' }).waitFor();
    await person(pb, alice).click();
    await bobSees.waitFor();
    await pb.getByTestId('unread-marker').waitFor();
    await pa.locator('.msg-row.mine[data-state="read"]', { hasText: 'lunch' }).waitFor();
    assert.equal(await person(pb, alice).locator('.badge').count(), 0);

    await send(pb, 'Sure!\nSee you there.');
    await pa.locator('.msg-row.theirs', { hasText: 'See you there.' }).waitFor();
    assert.equal(await pa.locator('.msg-row.theirs .msg-text', { hasText: 'Sure!' }).innerText(), 'Sure!\nSee you there.');
    await pb.locator('.msg-row.mine[data-state="read"]', { hasText: 'See you there.' }).waitFor();
    await shot(pa, 'conversation');
    await shot(pb, 'conversation-other-side');
  });

  it('shows the other side that someone is typing, until the message is sent or the text cleared', async () => {
    const bobSees = pb.getByTestId('typing-indicator');
    assert.equal(await bobSees.getAttribute('aria-live'), 'polite');
    assert.equal(await bobSees.innerText(), '');
    const composer = pa.getByTestId('composer');
    await composer.pressSequentially('Running a bit');
    await bobSees.getByText('Alice is typing…').waitFor();
    // In the people list too, in place of the status line.
    await person(pb, alice).locator('.person-preview.typing', { hasText: 'typing…' }).waitFor();
    await shot(pb, 'typing');
    // Nobody is told about their own typing.
    assert.equal(await pa.getByTestId('typing-indicator').innerText(), '');

    await composer.press('Enter');
    await pb.locator('.msg-row.theirs', { hasText: 'Running a bit' }).waitFor();
    await bobSees.getByText('Alice is typing…').waitFor({ state: 'detached' });
    assert.equal(await person(pb, alice).locator('.person-preview.typing').count(), 0);

    await composer.pressSequentially('late, sorr');
    await bobSees.getByText('Alice is typing…').waitFor();
    await composer.fill('');
    await bobSees.getByText('Alice is typing…').waitFor({ state: 'detached' });
  });

  it('keeps a draft per conversation; Shift+Enter is a new line, Enter sends', async () => {
    const composer = pa.getByTestId('composer');
    await composer.fill('first line');
    await composer.press('Shift+Enter');
    await composer.pressSequentially('second line');
    assert.equal(await composer.inputValue(), 'first line\nsecond line');
    await pa.reload();
    await person(pa, bob).click();
    assert.equal(await pa.getByTestId('composer').inputValue(), 'first line\nsecond line');
    await pa.getByTestId('composer').press('Enter');
    await pa.locator('.msg-row.mine .msg-text', { hasText: 'second line' }).waitFor();
    assert.equal(await pa.getByTestId('composer').inputValue(), '');
  });

  it('turns http, https and mailto into links and leaves everything else as text', async () => {
    await send(pb, 'Docs: https://example.com/guide?x=1, mail me: mailto:bob@example.com, not this: javascript:alert(1)');
    const row = pa.locator('.msg-row.theirs', { hasText: 'Docs:' });
    await row.waitFor();
    const links = await row.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]));
    assert.deepEqual(links, [
      ['https://example.com/guide?x=1', '_blank', 'noopener noreferrer nofollow'],
      ['mailto:bob@example.com', '_blank', 'noopener noreferrer nofollow'],
    ]);
  });

  it('marks where the unread messages start when a conversation is opened, and jumps to the latest', async () => {
    // A long history from Bob, sent through his bridge and read by Alice as it arrives.
    const conv = await bob.call('openConversation', { peerId: alice.self.id });
    await sendMany(bob, conv.id, ['the quartz needle is here', ...Array.from({ length: 240 }, (_, i) => `older filler ${i}`)]);
    await pa.locator('.msg-row.theirs', { hasText: 'older filler 239' }).waitFor();
    await waitUntil(async () => (await bob.call('history', { convId: conv.id, limit: 1 }))[0]?.state === 'read');

    // Then Alice looks elsewhere (a reload opens no conversation) and Bob writes on.
    await pa.reload();
    await person(pa, bob).waitFor();
    assert.equal(await pa.locator('.conversation').count(), 0, 'no conversation is open');
    await sendMany(bob, conv.id, Array.from({ length: 40 }, (_, i) => `unread message ${i}`));
    await person(pa, bob).locator('.badge', { hasText: '40' }).waitFor();

    await person(pa, bob).click();
    const marker = pa.getByTestId('unread-marker');
    await marker.waitFor();
    assert.equal(await pa.getByTestId('unread-marker').count(), 1);
    // The line sits right above the first unread message, and the view opens there.
    const firstUnread = pa.locator('.vrow', { has: marker }).locator('.msg-row.theirs .msg-text');
    assert.equal(await firstUnread.innerText(), 'unread message 0');
    const box = await marker.boundingBox();
    assert.ok(box && box.y > 0 && box.y < 400, `marker near the top of the view: ${JSON.stringify(box)}`);
    const latest = pa.locator('.msg-row', { hasText: 'unread message 39' });
    assert.equal(await inView(latest), false, 'the latest is below the fold');
    // Opened is read (the line stays for this visit).
    await person(pa, bob).locator('.badge').waitFor({ state: 'detached' });
    await shot(pa, 'unread-marker');

    await pa.locator('.jump-latest').click();
    await waitUntil(() => inView(latest));
    await pa.locator('.jump-latest').waitFor({ state: 'detached' });
  });

  it('finds an old message and opens it in context, then goes back to the latest', async () => {
    await pa.getByRole('button', { name: 'Search messages' }).click();
    await pa.locator('.search-input').fill('quartz');
    const hit = pa.locator('.search-hit', { hasText: 'needle' });
    await hit.waitFor();
    assert.equal(await hit.locator('mark').innerText(), 'quartz');
    await shot(pa, 'search');
    await hit.click();
    const target = pa.locator('.msg-row.highlighted', { hasText: 'the quartz needle is here' });
    await target.waitFor();
    assert.ok(await target.isVisible());
    const box = await target.boundingBox();
    assert.ok(box && box.y > 60 && box.y < 720, `in view: ${JSON.stringify(box)}`);
    // In context: its neighbours are on screen too.
    assert.ok(await pa.locator('.msg-text', { hasText: /^older filler 0$/ }).isVisible());
    // The needle was older than the newest page: what came with it is the page around it,
    // not everything since.
    const list = pa.getByTestId('message-list');
    assert.equal(await list.getAttribute('data-has-newer'), 'true');
    assert.ok(Number(await list.getAttribute('data-count')) <= 200, `${await list.getAttribute('data-count')} loaded`);
    await shot(pa, 'search-jump');

    await pa.locator('.jump-latest').click();
    await pa.locator('.msg-row', { hasText: 'unread message 39' }).waitFor();
    assert.equal(await list.getAttribute('data-has-newer'), 'false');
  });

  it('says when a message is not delivered yet, and offers retry and cancel', async () => {
    await bob.stop();
    await person(pa, bob).locator('.presence-offline').waitFor({ timeout: 30_000 });
    await send(pa, 'are you still there?');
    const stuck = pa.locator('.msg-row.mine[data-state="overdue"]', { hasText: 'are you still there?' });
    await stuck.waitFor({ timeout: 15_000 });
    assert.match(await stuck.innerText(), /Not delivered yet/);
    await stuck.getByRole('button', { name: 'Cancel' }).click();
    await pa.locator('.msg-row.mine[data-state="canceled"]', { hasText: 'are you still there?' }).waitFor();

    await send(pa, 'ping when you are back');
    const waiting = pa.locator('.msg-row.mine', { hasText: 'ping when you are back' });
    await pa.locator('.msg-row.mine[data-state="overdue"]', { hasText: 'ping when you are back' }).waitFor({ timeout: 15_000 });
    await shot(pa, 'not-delivered-yet');
    // Retry while Bob is still away (once he is back, the message goes by itself and the
    // button leaves at a moment the test cannot choose): it stays queued, then arrives.
    await waiting.getByRole('button', { name: 'Retry' }).click();
    bob = await WebNode.start({ dataDir: bobDir, name: 'Bob', timing });
    await pa.locator('.msg-row.mine[data-state="delivered"]', { hasText: 'ping when you are back' }).waitFor({ timeout: 30_000 });
    await pb.goto('about:blank');
    await pb.goto(bob.url);
    await person(pb, alice).click();
    await pb.locator('.msg-row.theirs', { hasText: 'ping when you are back' }).waitFor();
    // The canceled one never arrives.
    assert.equal(await pb.locator('.msg-row', { hasText: 'are you still there?' }).count(), 0);
  });

  it('can be driven from the keyboard', async () => {
    await pa.keyboard.press('Control+k');
    assert.equal(await pa.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Filter people');
    await pa.keyboard.press('ArrowDown');
    assert.equal(await pa.evaluate(() => document.activeElement?.getAttribute('data-peer-id')), bob.self.id);
    await pa.keyboard.press('Enter');
    await pa.getByTestId('composer').focus();
    await pa.keyboard.type('typed without a mouse');
    await pa.keyboard.press('Enter');
    await pa.locator('.msg-row.mine', { hasText: 'typed without a mouse' }).waitFor();
    await pa.keyboard.press('Control+f');
    await pa.locator('.search-input:focus').waitFor();
    await pa.keyboard.press('Escape');
    await pa.locator('.search-dialog').waitFor({ state: 'detached' });
  });

  it('filters people as you type', async () => {
    const filter = pa.getByRole('searchbox', { name: 'Filter people' });
    await filter.fill('bo');
    await person(pa, bob).waitFor();
    await filter.fill('zzz');
    await pa.locator('.people-empty').waitFor();
    assert.equal(await person(pa, bob).count(), 0);
    await filter.fill('');
  });

  it('shows the full display ID in the peer details', async () => {
    await pa.getByRole('button', { name: 'Details about Bob' }).click();
    assert.equal(await pa.getByTestId('peer-display-id').innerText(), bob.self.displayId);
    await shot(pa, 'peer-details');
    await pa.keyboard.press('Escape');
  });

  it('switches theme and language at once', async () => {
    await pa.getByRole('button', { name: 'Settings', exact: true }).click();
    const bg = () => pa.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await bg();
    await pa.locator('.segmented label', { hasText: 'Dark' }).click();
    assert.equal(await pa.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.notEqual(await bg(), light);
    await pa.locator('select[name=language]').selectOption('zh-CN');
    await pa.locator('dialog h2', { hasText: '设置' }).waitFor();
    assert.equal(await pa.evaluate(() => document.documentElement.lang), 'zh-CN');
    await shot(pa, 'settings-dark-zh');
  });

  it('shows a presence and status change on the other side at once', async () => {
    await pa.locator('input[name=statusText]').fill('At lunch');
    await pa.locator('select[name=presence]').selectOption('busy');
    await pa.locator('dialog form.profile-form button[type=submit]').click();
    await pa.locator('dialog .saved').waitFor();
    await pa.keyboard.press('Escape');
    // Bob has Alice's conversation open: the list and the header both change.
    await person(pb, alice).locator('.presence-busy').waitFor();
    await person(pb, alice).locator('.person-preview', { hasText: 'At lunch' }).waitFor();
    const subtitle = pb.locator('.conv-subtitle');
    await subtitle.getByText('Busy', { exact: true }).waitFor();
    assert.match(await subtitle.innerText(), /^Busy · direct connection · At lunch$/);
    await shot(pb, 'presence-other-side');
    await shot(pa, 'conversation-dark-zh');
  });

  it('keeps profile and appearance settings across a restart', async () => {

    await alice.stop();
    alice = await WebNode.start({ dataDir: aliceDir, webPort: aliceWebPort, timing });
    // A fresh load (same origin, so the same localStorage), not just a new fragment.
    await pa.goto('about:blank');
    await pa.goto(alice.url);
    await pa.locator('.self-name', { hasText: 'Alice' }).waitFor();
    assert.equal(await pa.locator('.first-run-card').count(), 0, 'no first-run screen after a restart');
    assert.equal(await pa.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await pa.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await pa.locator('.self-status').innerText(), 'At lunch');
    const self = await alice.call('getSelf', {});
    assert.equal(self.presence, 'busy');
    assert.equal(self.statusText, 'At lunch');
    // History survived too, and Bob comes back online.
    await person(pa, bob).locator('.presence-online').waitFor({ timeout: 30_000 });
    await person(pa, bob).click();
    await pa.locator('.msg-row', { hasText: 'unread message 39' }).waitFor();
  });

  it('picks up a new address pasted into an open tab', async () => {
    await alice.stop();
    alice = await WebNode.start({ dataDir: aliceDir, webPort: aliceWebPort, timing });
    await pa.locator('.offline-banner').waitFor();
    // Same page, new fragment: the page reloads itself with the new token.
    await pa.goto(alice.url);
    await pa.locator('.offline-banner').waitFor({ state: 'detached' });
    await person(pa, bob).locator('.presence-online').waitFor({ timeout: 30_000 });
    assert.equal((await alice.call('getSelf', {})).name, 'Alice');
  });

  it('looks right in a small window', async () => {
    await pa.setViewportSize({ width: 800, height: 600 });
    await person(pa, bob).click();
    const overflow = await pa.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false);
    await shot(pa, 'small-window-dark-zh');
    await pa.getByRole('button', { name: '设置', exact: true }).click();
    await pa.locator('.segmented label', { hasText: '浅色' }).click();
    await pa.locator('select[name=language]').selectOption('en');
    await pa.keyboard.press('Escape');
    await shot(pa, 'small-window');
  });
});
