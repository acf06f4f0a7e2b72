// Who is who, in the browser: the people list grouped by how each person is reached, the
// verify flow, the loud warning when a new key carries a known contact's name, and the
// diagnostics view. Every node is a web-mode process with its own data directory; a
// "reinstalled" colleague is a fresh data directory (new key, new ID) with the same name; the
// relay is the real relay CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { RelayProcess } from '../integration/relay-harness.ts';
import { removeTempDirs } from '../helpers/nodes.ts';
import { WebNode, freePort, launchChromium, uiSkipReason, shot, waitUntil } from './web-node.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker.
declare const window: { [key: string]: unknown };
declare const document: { [key: string]: any };

const skip = uiSkipReason();
const timing = { redialMinMs: 200, redialMaxMs: 1000 };
const HOSTILE_NAME = '<img src=x onerror=window.__pwned=1>';

function person(page: Page, id: string) {
  return page.locator(`button.person[data-peer-id="${id}"]`);
}

function group(page: Page, g: 'lan' | 'relay' | 'offline') {
  return page.locator(`.people-group[data-group="${g}"]`);
}

/** Both add each other by address and ID. */
async function pair(a: WebNode, b: WebNode): Promise<void> {
  await a.call('addPeer', { address: b.address, id: b.self.id });
  await b.call('addPeer', { address: a.address, id: a.self.id });
}

/** One message from `from` to `to`, delivered: they have talked. */
async function talk(from: WebNode, to: WebNode, text: string): Promise<void> {
  const conv = await from.call('openConversation', { peerId: to.self.id });
  const m = await from.call('send', { convId: conv.id, text });
  await waitUntil('delivered', async () => (await from.call('history', { convId: conv.id, limit: 5 })).some((x) => x.id === m.id && (x.state === 'delivered' || x.state === 'read')));
}

describe('identity in the browser: groups, verifying, key changes, diagnostics', { skip: skip ?? false }, () => {
  let browser: Browser;
  let page: Page;
  let base: string;
  let relay: RelayProcess;
  let alice: WebNode;
  let bob: WebNode;
  let carol: WebNode;
  const extra = new Set<WebNode>();
  let aliceWebPort: number;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  async function startExtra(name: string, dir: string): Promise<WebNode> {
    const n = await WebNode.start({ dataDir: path.join(base, dir), name, timing });
    extra.add(n);
    return n;
  }

  async function stopExtra(n: WebNode): Promise<void> {
    extra.delete(n);
    await n.stop();
  }

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-trust-'));
    aliceWebPort = await freePort();
    [relay, alice, bob, carol] = await Promise.all([
      RelayProcess.start(),
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice', webPort: aliceWebPort, timing }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob', timing }),
      WebNode.start({ dataDir: path.join(base, 'carol'), name: 'Carol', timing }),
    ]);
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Bob: on the same network, added by address, talked to. Carol: only through the relay.
    await pair(alice, bob);
    await talk(alice, bob, 'Hi Bob, lunch?');
    await alice.call('addRelay', { address: relay.url });
    await carol.call('addRelay', { address: relay.url });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop(), carol?.stop(), ...[...extra].map((n) => n.stop())]);
    await relay?.kill();
    removeTempDirs();
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
  });

  it('groups people: on this LAN, via relay, offline, each with a count', async () => {
    // Dan was on the LAN once and has gone.
    const dan = await startExtra('Dan', 'dan');
    await pair(alice, dan);
    await page.goto(alice.url);
    await group(page, 'lan').locator(person(page, dan.self.id)).waitFor();
    await stopExtra(dan);

    await group(page, 'lan').locator(person(page, bob.self.id)).waitFor();
    await group(page, 'relay').locator(person(page, carol.self.id)).waitFor({ timeout: 20_000 });
    await group(page, 'offline').locator(person(page, dan.self.id)).waitFor({ timeout: 20_000 });
    assert.equal(await group(page, 'lan').locator('.group-title').innerText(), 'ON THIS LAN 1');
    assert.equal(await group(page, 'relay').locator('.group-title').innerText(), 'VIA RELAY 1');
    assert.equal(await group(page, 'offline').locator('.group-title').innerText(), 'OFFLINE 1');
    assert.equal(await page.getByRole('heading', { name: 'Via relay: 1' }).count(), 1, 'counts are in the accessible name');
    // The relay vouches for Carol being there.
    await person(page, carol.self.id).locator('.presence-online').waitFor();

    // Search-as-you-type still filters across the groups.
    const filter = page.getByRole('searchbox', { name: 'Filter people' });
    await filter.fill('car');
    await page.locator('.people-group[data-group="lan"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('button.person').count(), 1);
    await filter.fill('');

    // Keyboard: from the filter into the list, through the groups in order, Home and End.
    await filter.focus();
    await page.keyboard.press('ArrowDown');
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-peer-id'));
    assert.equal(await focused(), bob.self.id);
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), carol.self.id);
    await page.keyboard.press('End');
    assert.equal(await focused(), dan.self.id);
    await page.keyboard.press('Home');
    assert.equal(await focused(), bob.self.id);

    // A message to Carol opens a tunnel: still via relay, now linked.
    await person(page, carol.self.id).click();
    await page.getByTestId('composer').fill('Hello across the relay');
    await page.getByTestId('composer').press('Enter');
    await page.locator('.msg-row.mine[data-state="delivered"]', { hasText: 'Hello across the relay' }).waitFor({ timeout: 30_000 });
    await page.locator('.conv-subtitle', { hasText: 'via relay' }).waitFor();
    await group(page, 'relay').locator(person(page, carol.self.id)).waitFor();
  });

  it('verifies a peer by comparing both IDs out of band, and remembers it across a restart', async () => {
    await person(page, bob.self.id).click();
    await page.getByRole('button', { name: 'Details about Bob' }).click();
    const verify = page.getByTestId('verify-section');
    assert.equal(await verify.getByTestId('peer-display-id').innerText(), bob.self.displayId);
    assert.equal(await verify.getByTestId('my-display-id').innerText(), alice.self.displayId);
    assert.match(await verify.innerText(), /read the groups aloud/i);
    assert.match(await verify.innerText(), /Not verified yet/);
    await verify.getByRole('button', { name: 'Mark as verified' }).click();
    await verify.getByText('You compared this ID with Bob.').waitFor();
    await shot(page, 'peer-details-verified');
    await page.keyboard.press('Escape');
    await person(page, bob.self.id).getByTestId('verified-badge').waitFor();
    await page.locator('.conv-header').getByTestId('verified-badge').waitFor();
    assert.equal(await person(page, carol.self.id).getByTestId('verified-badge').count(), 0);

    await alice.stop();
    alice = await WebNode.start({ dataDir: path.join(base, 'alice'), webPort: aliceWebPort, timing });
    await page.goto('about:blank');
    await page.goto(alice.url);
    await person(page, bob.self.id).getByTestId('verified-badge').waitFor();
    assert.equal((await alice.call('listPeers', {})).find((p) => p.id === bob.self.id)?.verified, true);
    // Back on the relay for what follows (adding it again is harmless if the settings kept it).
    await alice.call('addRelay', { address: relay.url });
  });

  it('warns loudly when a new key carries a known contact’s name, until the new ID is verified', async () => {
    // Bob "reinstalled": a fresh data directory, so a new key and a new ID, under his name.
    const bob2 = await startExtra('Bob', 'bob-reinstalled');
    await bob2.call('addPeer', { address: alice.address, id: alice.self.id });
    const entry = person(page, bob2.self.id);
    await entry.getByTestId('person-key-change').waitFor();
    assert.equal(await entry.getByTestId('person-key-change').innerText(), 'Not the Bob you knew: different key');
    assert.equal(await entry.getByTestId('verified-badge').count(), 0);

    await entry.click();
    const banner = page.locator('.conversation').getByTestId('key-change-warning');
    await banner.waitFor();
    assert.equal(await banner.getAttribute('role'), 'alert');
    const text = await banner.innerText();
    assert.match(text, /This is not the Bob you talked to before: a different key\. If Bob reinstalled Parley, verify the new ID with them before trusting it\./);
    assert.match(text, /You had verified the earlier Bob\./);
    await shot(page, 'key-change');

    // "Verify new ID" leads into the verify flow, with the warning repeated there.
    await banner.getByRole('button', { name: 'Verify new ID' }).click();
    const dialog = page.locator('dialog.details-dialog');
    await dialog.getByTestId('key-change-warning').waitFor();
    assert.equal(await dialog.getByTestId('peer-display-id').innerText(), bob2.self.displayId);
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Mark as verified');
    await page.keyboard.press('Enter');
    await dialog.getByTestId('key-change-warning').waitFor({ state: 'detached' });
    // Files from this person: their own limit, kept by the core beside the default, and removed again.
    const limit = dialog.getByLabel('Accept their files without asking');
    await limit.selectOption(String(10 * 1024 * 1024));
    await waitUntil('the contact’s limit is saved', async () => (await alice.call('getSettings', {})).autoAccept.peers[bob2.self.id] === 10 * 1024 * 1024);
    assert.equal(await limit.inputValue(), String(10 * 1024 * 1024));
    await limit.selectOption('default');
    await waitUntil('and removed', async () => !(bob2.self.id in (await alice.call('getSettings', {})).autoAccept.peers));
    await page.keyboard.press('Escape');
    await banner.waitFor({ state: 'detached' });
    await entry.getByTestId('verified-badge').waitFor();
    assert.equal(await entry.getByTestId('person-key-change').count(), 0);
    const after = (await alice.call('listPeers', {})).find((p) => p.id === bob2.self.id);
    assert.deepEqual([after?.verified, after?.keyChange], [true, null]);

    // Another one, dismissed instead: the warning goes, nothing is verified.
    const bob3 = await startExtra('bob', 'bob-again');
    await bob3.call('addPeer', { address: alice.address, id: alice.self.id });
    await person(page, bob3.self.id).getByTestId('person-key-change').waitFor();
    await person(page, bob3.self.id).click();
    await page.locator('.conversation').getByTestId('key-change-warning').getByRole('button', { name: 'Dismiss' }).click();
    await person(page, bob3.self.id).getByTestId('person-key-change').waitFor({ state: 'detached' });
    const dismissed = (await alice.call('listPeers', {})).find((p) => p.id === bob3.self.id);
    assert.deepEqual([dismissed?.verified, dismissed?.keyChange], [false, null]);
    await stopExtra(bob3);
  });

  it('shows diagnostics: this node’s addresses and port, discovery, hints and links', async () => {
    // Carol's tunnel came back after Alice's restart (they have a conversation).
    await waitUntil('carol relayed again', async () => (await alice.call('diagnostics', {})).links.some((l) => l.peerId === carol.self.id && l.kind === 'relay'), 30_000);
    const expected = await alice.call('diagnostics', {});
    await person(page, bob.self.id).click();
    await page.getByRole('button', { name: 'Network diagnostics' }).click();
    const dialog = page.locator('dialog.diagnostics-dialog');
    await dialog.getByTestId('diagnostics').waitFor();
    assert.equal(await dialog.getByTestId('diag-port').innerText(), String(alice.self.port));
    const shown = await dialog.getByTestId('diag-addresses').innerText();
    assert.ok(expected.self.addresses.length > 0, 'this machine has a non-loopback address');
    for (const a of expected.self.addresses) assert.ok(shown.includes(a.includes(':') ? `[${a}]:${alice.self.port}` : `${a}:${alice.self.port}`), `${a} in ${shown}`);
    // Web nodes in tests run without discovery: the view says so and why.
    assert.match(await dialog.innerText(), /Discovery is off/);
    assert.match(await dialog.getByTestId('diag-hints').innerText(), /discovery is off/);
    const links = dialog.getByTestId('diag-links');
    await links.getByText(bob.self.id.slice(0, 7)).waitFor();
    assert.match(await links.innerText(), /Bob/);
    assert.match(await links.innerText(), /via relay/, 'Carol’s tunnel is listed too');
    await shot(page, 'diagnostics');

    await dialog.getByTestId('diag-refresh').click();
    await dialog.getByText(/^Updated /).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('shows a hostile name in the warning as inert text', async () => {
    const mallory = await startExtra(HOSTILE_NAME, 'mallory');
    await pair(alice, mallory);
    await talk(mallory, alice, 'hello from mallory');
    const mallory2 = await startExtra(`  ${HOSTILE_NAME.toUpperCase()} `, 'mallory-2');
    await mallory2.call('addPeer', { address: alice.address, id: alice.self.id });
    const entry = person(page, mallory2.self.id);
    await entry.getByTestId('person-key-change').waitFor();
    assert.equal(await entry.getByTestId('person-key-change').innerText(), `Not the ${HOSTILE_NAME} you knew: different key`);
    await entry.click();
    const banner = page.locator('.conversation').getByTestId('key-change-warning');
    await banner.waitFor();
    assert.match(await banner.innerText(), new RegExp(`This is not the ${HOSTILE_NAME.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} you talked to before`));
    assert.equal(await page.locator('.people img, .conversation img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await stopExtra(mallory);
    await stopExtra(mallory2);
  });
});
