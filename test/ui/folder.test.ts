// Sending a folder in the browser, two web-mode nodes in their own processes: Alice picks a
// folder with the folder chooser (an <input webkitdirectory>, which the desktop shell uses
// too); each file is offered with its place in the folder, Bob's cards show "Project/src",
// one "Accept folder (4 files, …)" takes them all, and they land under Bob's download folder
// in one new "Project" folder, byte for byte.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { WebNode, launchChromium, uiSkipReason, waitUntil, shot } from './web-node.ts';

const skip = uiSkipReason();

function fileRow(page: Page, name: string): Locator {
  return page.locator('[data-testid=message-list] .msg-row', { has: page.locator('.attachment-name', { hasText: name }) }).first();
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('sending a folder in the browser', { skip: skip ?? false }, () => {
  let browser: Browser;
  let base: string;
  let alice: WebNode;
  let bob: WebNode;
  let pa: Page;
  let pb: Page;
  let downloads: string;
  const pageErrors: string[] = [];
  const files = new Map<string, Buffer>([
    ['README.md', randomBytes(1200)],
    ['src/main.ts', randomBytes(300_000)],
    ['src/util.ts', randomBytes(4000)],
    ['docs/guide.txt', randomBytes(20_000)],
  ]);

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-folder-'));
    downloads = path.join(base, 'bob-downloads');
    mkdirSync(downloads);
    [alice, bob] = await Promise.all([
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice' }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob' }),
    ]);
    await bob.call('updateSettings', { downloadFolder: downloads });
    await alice.call('addPeer', { address: bob.address, id: bob.self.id });
    await waitUntil('Alice and Bob are linked', async () => (await alice.call('listPeers', {})).some((p) => p.id === bob.self.id && p.link !== null));
    await waitUntil('Bob sees Alice linked', async () => (await bob.call('listPeers', {})).some((p) => p.id === alice.self.id && p.link !== null));
    browser = await launchChromium();
    const open = async (node: WebNode, who: string, other: WebNode) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light', locale: 'en-US' });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      await page.goto(node.url);
      await page.locator('.self-name').waitFor();
      await page.locator(`button.person[data-peer-id="${other.self.id}"]`).click();
      await page.getByTestId('composer').waitFor();
      return page;
    };
    [pa, pb] = await Promise.all([open(alice, 'alice', bob), open(bob, 'bob', alice)]);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop()]);
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
  });

  it('Alice sends a folder; Bob accepts the folder once and gets every file in one new folder', async () => {
    const project = path.join(base, 'pick', 'Project');
    for (const [rel, bytes] of files) {
      mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
      writeFileSync(path.join(project, rel), bytes);
    }
    assert.equal(await pa.getByTestId('send-folder').getAttribute('aria-label'), 'Send a folder');
    await pa.getByTestId('folder-input').setInputFiles(project);

    const main = fileRow(pb, 'main.ts');
    await main.waitFor({ timeout: 60_000 });
    assert.equal(await main.getByTestId('attachment-folder').innerText(), 'Project/src');
    const readme = fileRow(pb, 'README.md');
    await readme.waitFor({ timeout: 60_000 });
    assert.equal(await readme.getByTestId('attachment-folder').innerText(), 'Project');
    await waitUntil('all four files are offered to Bob', async () => (await pb.locator('[data-testid=attachment][data-transfer-state=offered]').count()) === 4);
    assert.equal(await fileRow(pa, 'guide.txt').getByTestId('attachment-folder').innerText(), 'Project/docs', 'the sender sees it too');
    await shot(pb, 'folder-offer');

    // The folder is accepted once, on its first file (the others sit right below it).
    assert.equal(await pb.getByRole('button', { name: /^Accept folder/ }).count(), 1);
    assert.equal(await main.getByRole('button', { name: /^Accept folder/ }).count(), 0);
    const accept = readme.getByRole('button', { name: /^Accept folder \(4 files, / });
    assert.match(await accept.innerText(), /^Accept folder \(4 files, 318 KB\)$/);
    await accept.click();
    for (const page of [pa, pb]) {
      await waitUntil(`every card is done for ${page === pa ? 'Alice' : 'Bob'}`, async () => {
        const states = await page.getByTestId('attachment').evaluateAll((els) => els.map((e) => e.getAttribute('data-transfer-state')));
        return states.length === 4 && states.every((s) => s === 'done');
      }, 60_000);
    }
    assert.deepEqual(readdirSync(downloads), ['Project']);
    for (const [rel, bytes] of files) assert.equal(digest(readFileSync(path.join(downloads, 'Project', rel))), digest(bytes), rel);
    assert.equal(await pb.getByRole('button', { name: /^Accept/ }).count(), 0);
  });
});
