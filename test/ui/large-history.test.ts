// A conversation of 100,000 messages: the list stays virtual (a few dozen rows in the DOM),
// older pages load as the reader scrolls up (and the far end is let go, so at most 2,000 stay
// loaded), search jumps to the very first message by
// loading just the page around it, and newer pages load as the reader scrolls down from there.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOTS, WebNode, launchChromium, uiSkipReason } from './web-node.ts';
import { fakePeerId, seedHistory } from './seed-history.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker
// without pulling the DOM library into the Node-side program.
declare const window: { [key: string]: unknown; innerWidth: number };
declare const document: { [key: string]: any };
declare function getComputedStyle(el: unknown): { [key: string]: string };

const skip = uiSkipReason();
const COUNT = 100_000;
const FAR_PEER = fakePeerId('FARPEER23456');

/** Writes the history straight into a node's store, as if it had been received over years. */
async function seed(dataDir: string): Promise<{ firstId: string; lastText: string }> {
  const [conv] = await seedHistory(dataDir, [
    {
      peerId: FAR_PEER,
      name: 'Archivist',
      statusText: 'keeps everything',
      count: COUNT,
      text: (i) => (i === 0 ? 'aardvarkorigin: where it all began' : `entry ${i}${i % 7 === 0 ? `\n${'a longer line of text that wraps '.repeat(1 + (i % 5))}` : ''}`),
    },
  ]);
  return { firstId: conv!.firstId, lastText: `entry ${COUNT - 1}` };
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
    for (let i = 0; i < 6; i++) {
      // The oldest loaded message, at the top of the view once scrolled up…
      const oldest = await list.getAttribute('data-oldest');
      await list.evaluate((el) => el.scrollTo({ top: 0 }));
      await page.waitForFunction((id) => document.querySelector('[data-testid="message-list"]')?.getAttribute('data-oldest') !== id, oldest);
      // …is still on screen afterwards: the page grew above it, not under the reader.
      const kept = page.locator(`.msg-row[data-message-id="${oldest}"]`);
      await kept.waitFor();
      const box = await kept.boundingBox();
      assert.ok(box && box.y > 0 && box.y < 800, `message kept in view: ${JSON.stringify(box)}`);
    }
    // 200 + 6 pages of 500 were read, but the list keeps at most 2,000 and lets the newest go.
    assert.equal(await loaded(), 2_000);
    assert.equal(await list.getAttribute('data-has-newer'), 'true');
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
  });

  it('loads the newer pages it let go when the reader scrolls back down', async () => {
    const list = page.getByTestId('message-list');
    const newest = await list.getAttribute('data-newest');
    await list.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await page.waitForFunction((id) => document.querySelector('[data-testid="message-list"]')?.getAttribute('data-newest') !== id, newest);
    const kept = page.locator(`.msg-row[data-message-id="${newest}"]`);
    await kept.waitFor();
    const box = await kept.boundingBox();
    assert.ok(box && box.y > 0 && box.y < 800, `message kept in view: ${JSON.stringify(box)}`);
    assert.equal(await loaded(), 2_000);
  });

  it('jumps from a search hit to the very first message, loading only the page around it', async () => {
    await page.getByRole('button', { name: 'Search messages' }).click();
    await page.locator('.search-input').fill('aardvarkorigin');
    const hit = page.locator(`.search-hit[data-message-id="${firstId}"]`);
    await hit.waitFor();
    const started = Date.now();
    await hit.click();
    await page.locator(`.msg-row.highlighted[data-message-id="${firstId}"]`).waitFor();
    const ms = Date.now() - started;
    const list = page.getByTestId('message-list');
    assert.ok((await loaded()) <= 200, `${await loaded()} loaded: one page, not the whole history`);
    assert.equal(await list.getAttribute('data-oldest'), firstId);
    assert.equal(await list.getAttribute('data-has-newer'), 'true');
    assert.ok(await page.locator('.msg-text', { hasText: /^entry 1$/ }).isVisible(), 'the hit is shown in context');
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
    assert.ok(ms < 5_000, `jumped in ${ms} ms`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'history-100k-first-message.png') });
    console.log(`# jump across ${COUNT} messages: ${ms} ms`);
  });

  it('loads newer pages while scrolling down from the hit, keeping the reader in place', async () => {
    const list = page.getByTestId('message-list');
    for (let i = 0; i < 5; i++) {
      // The newest loaded message, at the bottom of the view once scrolled down…
      const newest = await list.getAttribute('data-newest');
      await list.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await page.waitForFunction((id) => document.querySelector('[data-testid="message-list"]')?.getAttribute('data-newest') !== id, newest);
      // …is still on screen afterwards: the page grew below it, the view did not run to its end.
      const kept = page.locator(`.msg-row[data-message-id="${newest}"]`);
      await kept.waitFor();
      const box = await kept.boundingBox();
      assert.ok(box && box.y > 0 && box.y < 800, `message kept in view: ${JSON.stringify(box)}`);
    }
    // 100 + 5 pages of 500: the oldest were let go again.
    assert.equal(await loaded(), 2_000);
    assert.notEqual(await list.getAttribute('data-oldest'), firstId);
    assert.equal(await list.getAttribute('data-has-newer'), 'true');
    assert.equal(await page.locator('.msg-row', { hasText: lastText }).count(), 0, 'still far from the newest message');
    assert.ok((await domRows()) < 120, `${await domRows()} rows in the DOM`);
  });

  it('jumps back to the latest message', async () => {
    await page.locator('.jump-latest').click();
    await page.locator('.msg-row', { hasText: lastText }).waitFor();
    assert.ok(await page.locator('.msg-row', { hasText: lastText }).isVisible());
    assert.equal(await page.getByTestId('message-list').getAttribute('data-has-newer'), 'false');
    await page.locator('.jump-latest').waitFor({ state: 'detached' });
  });
});
