// Three people, three web-mode nodes in their own processes, three browser profiles: a group
// is founded in the UI, everyone talks in it and sees the same history with authors named,
// the owner renames it and removes a member, and that member's own view says so. One member
// and the group carry hostile names, which must stay text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebNode, launchChromium, uiSkipReason, shot, waitUntil } from './web-node.ts';

declare const window: { [key: string]: unknown };

const skip = uiSkipReason();
const HOSTILE_MEMBER = '<img src=x onerror=window.__pwned=1>Carol';
const HOSTILE_GROUP = '<b>Team</b><script>window.__pwned=1</script>';
const RENAMED = 'Launch <i>crew</i>';

/** The texts of the group's messages on this page, oldest first, with the author named above each run. */
async function transcript(page: Page): Promise<string[]> {
  return page.locator('[data-testid=message-list] .msg-row').evaluateAll((rows) =>
    rows.map((r: any) => `${r.querySelector('.msg-text')?.textContent ?? ''}`),
  );
}

describe('group conversations in the browser: three people', { skip: skip ?? false }, () => {
  let browser: Browser;
  let base: string;
  let alice: WebNode;
  let bob: WebNode;
  let carol: WebNode;
  /** Known to Alice by ID only (an address where nobody answers): never linked, no certificate. */
  let dave: WebNode;
  let pa: Page;
  let pb: Page;
  let pc: Page;
  let convId: string;
  const pageErrors: string[] = [];

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-groups-'));
    [alice, bob, carol, dave] = await Promise.all([
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice' }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob' }),
      WebNode.start({ dataDir: path.join(base, 'carol'), name: HOSTILE_MEMBER }),
      WebNode.start({ dataDir: path.join(base, 'dave'), name: 'Dave' }),
    ]);
    await alice.call('addPeer', { address: '127.0.0.1:9', id: dave.self.id });
    // A group vouches for its members' certificates: each pair must have linked once.
    const nodes = [alice, bob, carol];
    for (let i = 0; i < nodes.length; i++)
      for (let j = i + 1; j < nodes.length; j++) await nodes[i]!.call('addPeer', { address: nodes[j]!.address, id: nodes[j]!.self.id });
    for (const a of nodes)
      for (const b of nodes)
        if (a !== b) await waitUntil(`${a.self.name} is linked to ${b.self.name}`, async () => (await a.call('listPeers', {})).some((p) => p.id === b.self.id && p.link !== null));
    browser = await launchChromium();
    const open = async (node: WebNode, who: string) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      await page.goto(node.url);
      await page.locator('.self-name').waitFor();
      return page;
    };
    [pa, pb, pc] = await Promise.all([open(alice, 'alice'), open(bob, 'bob'), open(carol, 'carol')]);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop(), carol?.stop(), dave?.stop()]);
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
  });

  it('founds a group from "New group": a name and members picked from known people', async () => {
    await pa.getByRole('button', { name: 'New group' }).click();
    const dialog = pa.locator('dialog');
    await dialog.getByLabel('Group name').fill(HOSTILE_GROUP);
    // The filter narrows the list; a picked member stays picked.
    await dialog.getByLabel('Filter people').fill('bo');
    assert.equal(await dialog.locator('input[type=checkbox]').count(), 1);
    await dialog.locator(`input[data-peer-id="${bob.self.id}"]`).check();
    await dialog.getByLabel('Filter people').fill('');
    await dialog.locator(`input[data-peer-id="${carol.self.id}"]`).check();
    // Someone never connected here cannot be vouched for: the core says so, and the dialog stays.
    await dialog.locator(`input[data-peer-id="${dave.self.id}"]`).check();
    assert.match(await dialog.innerText(), /3 selected/);
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await dialog.getByRole('alert').waitFor();
    assert.match(await dialog.getByRole('alert').innerText(), /has not been connected to this computer yet/);
    await shot(pa, 'group-new-error');
    await dialog.locator(`input[data-peer-id="${dave.self.id}"]`).uncheck();
    assert.match(await dialog.innerText(), /2 selected/);
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await dialog.waitFor({ state: 'detached' });

    assert.equal(await pa.getByTestId('group-name').innerText(), HOSTILE_GROUP);
    assert.equal(await pa.getByTestId('group-member-count').innerText(), '3 members');
    convId = (await alice.call('listConversations', {})).find((c) => c.kind === 'group')!.id;
    await pa.locator(`[data-change=created]`).waitFor();
    assert.equal(await pa.locator('[data-change=created]').innerText(), `You created the group “${HOSTILE_GROUP}”`);
  });

  it('shows the group to the others under "Groups", above the people, and opens it', async () => {
    for (const page of [pb, pc]) {
      const row = page.locator(`button.group-row[data-conv-id="${convId}"]`);
      await row.waitFor({ timeout: 30_000 });
      assert.match(await row.innerText(), new RegExp(HOSTILE_GROUP.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      const sections = await page.locator('.people-nav section').evaluateAll((s) => s.map((x: any) => x.dataset.group));
      assert.equal(sections[0], 'groups');
      await row.click();
      await page.locator('[data-change=created]').waitFor();
    }
    assert.equal(await pb.locator('[data-change=created]').innerText(), `Alice created the group “${HOSTILE_GROUP}”`);
  });

  it('everyone sends; all three see the same messages in the same order, with the authors named', async () => {
    const said: Array<[Page, string]> = [
      [pa, 'Morning all'],
      [pb, 'Hi from Bob'],
      [pc, 'Carol here'],
      [pa, 'Stand-up at ten'],
    ];
    for (const [page, text] of said) {
      const composer = page.getByTestId('composer');
      await composer.fill(text);
      await composer.press('Enter');
      // The next one is sent after this one arrived everywhere: one order to expect.
      for (const p of [pa, pb, pc]) await p.locator('.msg-text', { hasText: text }).waitFor({ timeout: 30_000 });
    }
    const want = said.map(([, text]) => text);
    for (const p of [pa, pb, pc]) assert.deepEqual(await transcript(p), want);

    const authors = async (p: Page) => p.getByTestId('msg-author').allInnerTexts();
    assert.deepEqual(await authors(pa), ['Bob', HOSTILE_MEMBER]);
    assert.deepEqual(await authors(pb), ['Alice', HOSTILE_MEMBER, 'Alice']);
    assert.deepEqual(await authors(pc), ['Alice', 'Bob', 'Alice']);
    // The sidebar previews the last message with its author.
    assert.match(await pb.locator(`button.group-row[data-conv-id="${convId}"] .person-preview`).innerText(), /Alice: Stand-up at ten/);
  });

  it('the owner renames the group; everyone sees the new name and a line saying so', async () => {
    await pa.getByRole('button', { name: `Members and settings of ${HOSTILE_GROUP}` }).click();
    const dialog = pa.locator('dialog');
    assert.deepEqual(await dialog.locator('.member-name').allInnerTexts(), ['Alice', 'Bob', HOSTILE_MEMBER]);
    await shot(pa, 'group-details');
    await dialog.getByLabel('Group name').fill(RENAMED);
    await dialog.getByRole('button', { name: 'Rename' }).click();
    for (const p of [pa, pb, pc]) {
      await p.locator('[data-change=renamed]').waitFor({ timeout: 30_000 });
      await waitUntil('the header shows the new name', async () => (await p.getByTestId('group-name').innerText()) === RENAMED);
    }
    assert.equal(await pb.locator('[data-change=renamed]').innerText(), `Alice renamed the group to “${RENAMED}”`);
  });

  it('the owner removes a member: the others see the line, the removed member sees they are out', async () => {
    const dialog = pa.locator('dialog');
    await dialog.getByRole('button', { name: `Remove ${HOSTILE_MEMBER} from the group` }).click();
    await waitUntil('the member list shrinks', async () => (await dialog.locator('.member-name').count()) === 2);
    await dialog.getByRole('button', { name: 'Cancel' }).first().click();
    await dialog.waitFor({ state: 'detached' });

    await pb.locator('[data-change=removed]').waitFor({ timeout: 30_000 });
    assert.equal(await pb.locator('[data-change=removed]').innerText(), `Alice removed ${HOSTILE_MEMBER}`);
    await waitUntil('Bob sees two members', async () => (await pb.getByTestId('group-member-count').innerText()) === '2 members');

    await pc.getByTestId('not-member').waitFor({ timeout: 30_000 });
    assert.equal(await pc.getByTestId('not-member').innerText(), 'You are no longer a member of this group.');
    await pc.locator('[data-change=removed]').waitFor();
    assert.equal(await pc.locator('[data-change=removed]').innerText(), 'Alice removed you');
    assert.equal(await pc.getByTestId('composer').count(), 0);

    await pa.locator('[data-change=removed]').waitFor();
    await shot(pa, 'group');
    await pa.setViewportSize({ width: 800, height: 600 });
    await shot(pa, 'group-small');
    await pa.setViewportSize({ width: 1280, height: 800 });
  });

  it('hostile group and member names stayed text on every page', async () => {
    for (const p of [pa, pb, pc]) {
      assert.equal(await p.evaluate(() => window.__pwned), undefined);
      assert.equal(await p.locator('.conversation img, .people-nav img, .conversation b, .conversation i, .people-nav b').count(), 0);
    }
  });
});
