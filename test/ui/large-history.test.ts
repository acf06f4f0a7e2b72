// A conversation of 100,000 messages: the list stays virtual (a few dozen rows in the DOM),
// older pages load as the reader scrolls up, and search can jump to the very first message.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { monotonicFactory } from 'ulid';
import type { PeerId } from '../../main/contract/contract.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode } from '../../main/core/node.ts';
import { SCREENSHOTS, WebNode, launchChromium, uiSkipReason } from './web-node.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker
// without pulling the DOM library into the Node-side program.
declare const window: { [key: string]: unknown; innerWidth: number };
declare const document: { [key: string]: any };
declare function getComputedStyle(el: unknown): { [key: string]: string };

const skip = uiSkipReason();
const COUNT = 100_000;
/** Nobody listens there: the peer stays offline, its history is what matters. */
const FAR_PEER = 'FARPEER2345677777777777777777777777777777777777777777'.slice(0, 52) as PeerId;

/** Writes the history straight into a node's store, as if it had been received over years. */
async function seed(dataDir: string): Promise<{ firstId: string; lastText: string }> {
  const node = await startNode({ dataDir, name: 'Reader', host: '127.0.0.1', port: 0, discovery: false, log: testLogger() });
  try {
    node.store.upsertPeer({ id: FAR_PEER, name: 'Archivist', addresses: ['127.0.0.1:9'], presence: 'online', statusText: 'keeps everything' });
    const conv = node.store.ensureDirectConversation(node.identity.id, FAR_PEER);
    const ulid = monotonicFactory();
    const start = Date.now() - COUNT * 25_000;
    let firstId = '';
    for (let from = 0; from < COUNT; from += 5_000) {
      const batch = [];
      for (let i = from; i < Math.min(COUNT, from + 5_000); i++) {
        const ts = start + i * 25_000;
        const id = ulid(ts);
        if (i === 0) firstId = id;
        const text = i === 0 ? 'aardvarkorigin: where it all began' : `entry ${i}${i % 7 === 0 ? `\n${'a longer line of text that wraps '.repeat(1 + (i % 5))}` : ''}`;
        batch.push({ id, conv: conv.id, author: FAR_PEER, seq: i + 1, lamport: i + 1, ts, body: { text } });
      }
      node.store.insertIncoming(batch);
    }
    return { firstId, lastText: `entry ${COUNT - 1}` };
  } finally {
    await node.stop();
  }
}

describe('a conversation of 100,000 messages', { skip: skip ?? false }, () => {
  let browser: Browser;
  let web: WebNode;
  let page: Page;
  let firstId: string;
  let lastText: string;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-100k-'));
    ({ firstId, lastText } = await seed(dataDir));
    web = await WebNode.start({ dataDir });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  });

  after(async () => {
    await browser?.close();
    await web?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const domRows = () => page.locator('.msg-row').count();
  const loaded = async () => Number(await page.getByTestId('message-list').getAttribute('data-count'));

  it('opens at the newest message with only the visible rows in the DOM', async () => {
    await page.goto(web.url);
    const peer = page.locator(`button.person[data-peer-id="${FAR_PEER}"]`);
    await peer.waitFor();
    // All of them arrived unread.
    assert.equal(await peer.locator('.badge').innerText(), '99+');
    const opened = Date.now();
    await peer.click();
    await page.locator('.msg-row', { hasText: lastText }).waitFor();
    const ms = Date.now() - opened;
    assert.ok(ms < 5_000, `opened in ${ms} ms`);
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
    assert.ok((await loaded()) >= 200);
  });

  it('loads older pages while scrolling up, keeping the reader in place and the DOM small', async () => {
    const list = page.getByTestId('message-list');
    const before = await loaded();
    for (let i = 0; i < 6; i++) {
      const count = await loaded();
      // The oldest loaded message, at the top of the view once scrolled up…
      const oldest = await list.getAttribute('data-oldest');
      await list.evaluate((el) => el.scrollTo({ top: 0 }));
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid="message-list"]')?.getAttribute('data-count')) > n, count);
      // …is still on screen afterwards: the page grew above it, not under the reader.
      const kept = page.locator(`.msg-row[data-message-id="${oldest}"]`);
      await kept.waitFor();
      const box = await kept.boundingBox();
      assert.ok(box && box.y > 0 && box.y < 800, `message kept in view: ${JSON.stringify(box)}`);
    }
    assert.ok((await loaded()) >= before + 6 * 500 - 500, `${await loaded()} loaded`);
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
  });

  it('jumps from a search hit to the very first message', async () => {
    await page.getByRole('button', { name: 'Search messages' }).click();
    await page.locator('.search-input').fill('aardvarkorigin');
    const hit = page.locator(`.search-hit[data-message-id="${firstId}"]`);
    await hit.waitFor();
    const started = Date.now();
    await hit.click();
    await page.locator(`.msg-row.highlighted[data-message-id="${firstId}"]`).waitFor({ timeout: 60_000 });
    const ms = Date.now() - started;
    assert.equal(await loaded(), COUNT);
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
    assert.ok(ms < 30_000, `jumped in ${ms} ms`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'history-100k-first-message.png') });
    console.log(`# jump across ${COUNT} messages: ${ms} ms`);
  });

  it('jumps back to the latest message', async () => {
    await page.locator('.jump-latest').click();
    await page.locator('.msg-row', { hasText: lastText }).waitFor();
    assert.ok(await page.locator('.msg-row', { hasText: lastText }).isVisible());
    assert.equal(await page.locator('.jump-latest').count(), 0);
  });
});
