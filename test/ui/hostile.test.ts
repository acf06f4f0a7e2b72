// Everything a peer controls (messages, name, status text) is rendered as text: markup stays
// inert, only parsed http/https/mailto become links, nothing navigates the page.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SCREENSHOTS, WebNode, launchChromium, uiSkipReason } from './web-node.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker
// without pulling the DOM library into the Node-side program.
declare const window: { [key: string]: unknown; innerWidth: number };
declare const document: { [key: string]: any };
declare function getComputedStyle(el: unknown): { [key: string]: string };

const skip = uiSkipReason();

const HOSTILE_NAME = '<img src=x onerror=window.__pwned=1>';
const HOSTILE_STATUS = `"><script>window.__pwned=1</script>'\u202Egnp.exe`;
const PAYLOADS = [
  '<img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=1</script>',
  '"\'><svg onload=window.__pwned=1>',
  'javascript:window.__pwned=1',
  '[click me](javascript:window.__pwned=1)',
  '<a href="javascript:window.__pwned=1">a link</a>',
  'https://example.com/"onmouseover="window.__pwned=1"',
  'data:text/html,<script>window.__pwned=1</script>',
  '<iframe src="javascript:window.__pwned=1"></iframe>',
  '{{constructor.constructor("window.__pwned=1")()}}',
  'bidi: \u202Eexe.txt\u202C and isolate \u2067x\u2069 end',
  'zero\u200Bwidth\u200Djoin\uFEFFer',
  'marks \u0002not a match\u0003 here',
  'https://exa\u200Bmple.com/zw',
];

describe('hostile peer content stays inert', { skip: skip ?? false }, () => {
  let browser: Browser;
  let ctx: BrowserContext;
  let alice: WebNode;
  let mallory: WebNode;
  let page: Page;
  let base: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-hostile-'));
    [alice, mallory] = await Promise.all([
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice' }),
      WebNode.start({ dataDir: path.join(base, 'mallory'), name: 'Mallory' }),
    ]);
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    // Before any page script: count CSP violations, and make sure nothing was set yet.
    await ctx.addInitScript(() => {
      (window as unknown as { __csp: string[] }).__csp = [];
      document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page = await ctx.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await alice.call('addPeer', { address: mallory.address, id: mallory.self.id });
    await mallory.call('addPeer', { address: alice.address, id: alice.self.id });
    await mallory.call('setProfile', { name: HOSTILE_NAME, statusText: HOSTILE_STATUS });
    const conv = await mallory.call('openConversation', { peerId: alice.self.id });
    for (const text of PAYLOADS) await mallory.call('send', { convId: conv.id, text });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), mallory?.stop()]);
    rmSync(base, { recursive: true, force: true });
  });

  const pwned = () => page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
  const activeElements = (selector: string) =>
    page.locator(selector).evaluateAll((els) => els.flatMap((el) => [...el.querySelectorAll('img, script, svg:not(.icon), iframe, object, embed, style, link, form:not(.form)')].map((x) => x.outerHTML)));

  it('shows hostile messages exactly as typed, as text', async () => {
    await page.goto(alice.url);
    const peer = page.locator(`button.person[data-peer-id="${mallory.self.id}"]`);
    await peer.waitFor();
    await peer.locator('.person-name', { hasText: HOSTILE_NAME }).waitFor({ timeout: 15_000 });
    await peer.click();
    await page.locator('.msg-row.theirs').nth(PAYLOADS.length - 1).waitFor();
    const texts = await page.locator('.msg-row.theirs .msg-text').allInnerTexts();
    assert.deepEqual(texts, PAYLOADS.map((p) => p.replace(/\uFEFF/g, '\uFEFF')));
    assert.deepEqual(await activeElements('.message-list'), []);
  });

  it('makes links only of parsed http(s)/mailto URLs, none of javascript: or data:', async () => {
    const hrefs = await page.locator('.message-list a').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
    assert.ok(hrefs.length >= 1);
    for (const href of hrefs) assert.match(href, /^(https?:|mailto:)/, href);
    assert.ok(!hrefs.some((h) => /javascript|data:|onmouseover=|"/.test(h)), hrefs.join(' '));
    // The zero-width space splits that URL: only the part before it may become a link.
    assert.ok(!hrefs.some((h) => h.includes('\u200B')));
  });

  it('renders the hostile name and status as text in the list, the header and the details', async () => {
    assert.equal(await page.locator('.conv-title h2').innerText(), HOSTILE_NAME);
    // Explicit bidi overrides are dropped from labels, so "\u202Egnp.exe" cannot pose as "exe.png".
    assert.equal(await page.locator('.conv-status').innerText(), HOSTILE_STATUS.replace('\u202E', ''));
    await page.getByRole('button', { name: `Details about ${HOSTILE_NAME}` }).click();
    assert.equal(await page.locator('.details-name').innerText(), HOSTILE_NAME);
    assert.deepEqual(await activeElements('dialog'), []);
    await page.keyboard.press('Escape');
    assert.deepEqual(await activeElements('.sidebar'), []);
    assert.deepEqual(await activeElements('.conv-header'), []);
    // Bidi controls cannot reorder the surrounding UI: peer text sits in isolating elements.
    assert.equal(await page.locator('.conv-status').evaluate((el) => el.tagName), 'BDI');
    assert.equal(await page.locator('.msg-text').first().evaluate((el) => getComputedStyle(el).unicodeBidi), 'isolate');
  });

  it('keeps search snippets inert too', async () => {
    await page.getByRole('button', { name: 'Search messages' }).click();
    await page.locator('.search-input').fill('pwned');
    await page.locator('.search-hit').first().waitFor();
    assert.deepEqual(await activeElements('.search-results'), []);
    for (const mark of await page.locator('.search-results mark').allInnerTexts()) assert.doesNotMatch(mark, /</);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'hostile-search.png') });
    await page.keyboard.press('Escape');
  });

  it('does not navigate or run anything when every message is clicked and hovered', async () => {
    const url = page.url();
    const pagesBefore = ctx.pages().length;
    // The text, not the links: those open in the system browser (or a new tab) by design.
    const spans = page.locator('.msg-row.theirs .msg-text > span');
    assert.ok((await spans.count()) >= PAYLOADS.length);
    for (let i = 0; i < (await spans.count()); i++) {
      const span = spans.nth(i);
      await span.hover();
      await span.click();
    }
    assert.equal(page.url(), url);
    assert.equal(ctx.pages().length, pagesBefore);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'hostile-messages.png') });
  });

  it('shows hostile input echoed in error messages as text', async () => {
    await page.getByRole('button', { name: 'Add peer' }).click();
    await page.locator('input[name=address]').fill(`${HOSTILE_NAME}:1`);
    await page.locator('textarea[name=peerId]').fill(HOSTILE_NAME.padEnd(60, 'A'));
    await page.locator('dialog button[type=submit]').click();
    await page.locator('.form-error').waitFor();
    assert.deepEqual(await activeElements('dialog'), []);
    await page.keyboard.press('Escape');
  });

  it('never ran injected code, never opened a dialog, and never tripped the CSP', async () => {
    assert.equal(await pwned(), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
  });
});
