// Web mode with 100,000 messages in one conversation, measured in headless Chromium: opening
// the conversation, a search round trip, jumping to a hit, paging to the very top, and the
// renderer's memory. Every figure is timed inside the page (performance.now(), done = the
// animation frame in which the result is on screen) next to baselines from the same run and
// page: a 10-message conversation, and the bare WebSocket round trip of the same command.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { TOKEN_PROTOCOL_PREFIX, WIRE_PROTOCOL, WS_PATH } from '../main/web/wire.ts';
import { fakePeerId, seedHistory } from '../test/ui/seed-history.ts';
import { WebNode, launchChromium, uiSkipReason } from '../test/ui/web-node.ts';
import { fmt, printTable, summarize } from './stats.ts';

// page.evaluate callbacks run in the browser; these name its globals for the type checker
// without pulling the DOM library into the Node-side program.
declare const document: any;
declare const location: { host: string };
declare function requestAnimationFrame(cb: () => void): number;
declare class Event {
  constructor(type: string, init: { bubbles: boolean });
}
declare class WebSocket {
  constructor(url: string, protocols: string[]);
  onmessage: ((e: { data: string }) => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(): void;
}

const COUNT = Number(process.env.BENCH_WEB_MESSAGES ?? 100_000);
const REPS = Math.max(10, Number(process.env.BENCH_WEB_REPS ?? 15));
const WARMUP = 2;
const BIG = fakePeerId('BIGHISTORY');
const SMALL = fakePeerId('SMALLTALK');

/** A word that occurs once in the whole history: what a person searches for. */
const rareWord = (i: number) => `zq${i.toString(36)}x`;
const bigText = (i: number) => `entry ${i} ${rareWord(i)}${i % 7 === 0 ? ` ${'a longer line of text that wraps '.repeat(1 + (i % 5))}` : ''}`;

/** What starts a measurement in the page: a click, or a whole query arriving as one input event. */
type Start = { click: string } | { type: { selector: string; value: string } };
/** When it is done: a message row inside the visible part of the list, or enough matches of a selector. */
type Done = { row: string; selector?: string } | { selector: string; atLeast: number };

/**
 * Runs `start` in the page and resolves with the ms until the animation frame in which `done`
 * holds. Plain data in, not code: the page's CSP allows no eval, rightly.
 */
async function timeInPage(page: Page, start: Start, done: Done, timeoutMs = 30_000): Promise<number> {
  return page.evaluate(
    ({ start, done, timeoutMs }) =>
      new Promise<number>((resolve, reject) => {
        const check = (): boolean => {
          if ('atLeast' in done) return document.querySelectorAll(done.selector).length >= done.atLeast;
          const row = document.querySelector(`.msg-row${done.selector ?? ''}[data-message-id="${done.row}"]`);
          const list = document.querySelector('[data-testid="message-list"]');
          if (!row || !list) return false;
          const r = row.getBoundingClientRect();
          const l = list.getBoundingClientRect();
          return r.bottom > l.top && r.top < l.bottom;
        };
        const t0 = performance.now();
        if ('click' in start) document.querySelector(start.click).click();
        else {
          const el = document.querySelector(start.type.selector);
          // React tracks the value it set: go through the native setter so it sees a change.
          Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value')!.set!.call(el, start.type.value);
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }
        const frame = () => {
          if (check()) resolve(performance.now() - t0);
          else if (performance.now() - t0 > timeoutMs) reject(new Error(`not done after ${timeoutMs} ms: ${JSON.stringify(done)}`));
          else requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      }),
    { start, done, timeoutMs },
  );
}

/** The bare WebSocket round trip of one command, from the page, on a socket of its own. */
async function rawRoundTrips(page: Page, token: string, cmd: string, args: (i: number) => unknown, n: number): Promise<number[]> {
  const argList = Array.from({ length: n }, (_, i) => args(i));
  return page.evaluate(
    ({ token, cmd, argList, proto, prefix, wsPath }) =>
      new Promise<number[]>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}${wsPath}`, [proto, `${prefix}${token}`]);
        const samples: number[] = [];
        let t0 = 0;
        let i = 0;
        const next = () => {
          if (i === argList.length) {
            ws.close();
            resolve(samples);
            return;
          }
          t0 = performance.now();
          ws.send(JSON.stringify({ id: i + 1, cmd, args: argList[i] }));
        };
        ws.onerror = () => reject(new Error('socket refused'));
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data) as { type: string; id?: number; ok?: boolean };
          if (msg.type === 'hello') return next();
          if (msg.type !== 'result' || msg.id !== i + 1) return;
          if (!msg.ok) return reject(new Error(`${cmd} failed: ${e.data.slice(0, 200)}`));
          samples.push(performance.now() - t0);
          i++;
          next();
        };
      }),
    { token, cmd, argList, proto: WIRE_PROTOCOL, prefix: TOKEN_PROTOCOL_PREFIX, wsPath: WS_PATH },
  );
}

async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  const used = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
  return used / 2 ** 20;
}

/** A fresh load of the app, then the time from clicking a person to their latest message on screen. */
async function openConversation(page: Page, url: string, peerId: string, lastId: string): Promise<number> {
  await page.goto('about:blank');
  await page.goto(url);
  await page.locator(`button.person[data-peer-id="${peerId}"]`).waitFor();
  return timeInPage(page, { click: `button.person[data-peer-id="${peerId}"]` }, { row: lastId });
}

const pick = (n: number) => 1_000 + Math.floor(((n * 7919) % 97) / 97 * (COUNT - 2_000));

export async function webBench(): Promise<void> {
  const skip = uiSkipReason();
  if (skip) {
    console.log(`\n## Web mode, ${COUNT.toLocaleString('en')} messages in one conversation\n\nskipped: ${skip}`);
    return;
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-web-'));
  let web: WebNode | null = null;
  let browser: Browser | null = null;
  try {
    const seedStarted = performance.now();
    const [big, small] = await seedHistory(dataDir, [
      { peerId: BIG, name: 'Archivist', count: COUNT, text: bigText },
      { peerId: SMALL, name: 'Neighbour', count: 10, text: (i) => `small talk ${i}` },
    ]);
    const seedMs = performance.now() - seedStarted;
    web = await WebNode.start({ dataDir });
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const bigConv = (await web.call('listConversations', {})).find((c) => c.peerId === BIG)!.id;

    // Opening: a fresh page load each time, so nothing is cached in the renderer. The first
    // opens also mark the 100,000 seeded messages read; they are warm-up and not counted.
    const openSmall: number[] = [];
    const openBig: number[] = [];
    for (let i = 0; i < REPS + WARMUP; i++) {
      const s = await openConversation(page, web.url, SMALL, small!.lastId);
      const b = await openConversation(page, web.url, BIG, big!.lastId);
      if (i >= WARMUP) {
        openSmall.push(s);
        openBig.push(b);
      }
    }
    // Switching back: the renderer still holds the latest page, so this is rendering alone.
    const backSmall: number[] = [];
    const backBig: number[] = [];
    for (let i = 0; i < REPS + WARMUP; i++) {
      const s = await timeInPage(page, { click: `button.person[data-peer-id="${SMALL}"]` }, { row: small!.lastId });
      const b = await timeInPage(page, { click: `button.person[data-peer-id="${BIG}"]` }, { row: big!.lastId });
      if (i >= WARMUP) {
        backSmall.push(s);
        backBig.push(b);
      }
    }
    const rawSelf = await rawRoundTrips(page, web.token, 'getSelf', () => ({}), REPS * 4);
    const rawNewest = await rawRoundTrips(page, web.token, 'history', () => ({ convId: bigConv, limit: 200 }), REPS * 2);
    const heapLatest = await heapMiB(page);

    // Search: the whole query arrives as one input event; done when the hit is listed.
    await page.getByRole('button', { name: 'Search messages' }).click();
    await page.locator('.search-input').waitFor();
    const clearSearch = async () => {
      await page.locator('.search-input').fill('');
      await page.locator('.search-hit').first().waitFor({ state: 'detached' });
    };
    const typeQuery = (value: string): Start => ({ type: { selector: '.search-input', value } });
    const searchRare: number[] = [];
    const searchCommon: number[] = [];
    for (let i = 0; i < REPS + WARMUP; i++) {
      const n = pick(i);
      await clearSearch();
      const rare = await timeInPage(page, typeQuery(rareWord(n)), { selector: `.search-hit[data-message-id="${big!.ids(n)}"]`, atLeast: 1 });
      await clearSearch();
      const common = await timeInPage(page, typeQuery('entry'), { selector: '.search-hit', atLeast: 50 });
      if (i >= WARMUP) {
        searchRare.push(rare);
        searchCommon.push(common);
      }
    }
    await clearSearch();
    await page.keyboard.press('Escape');
    const rawSearchRare = await rawRoundTrips(page, web.token, 'search', (i) => ({ query: rareWord(pick(i + 50)), limit: 50 }), REPS * 2);
    const rawSearchCommon = await rawRoundTrips(page, web.token, 'search', () => ({ query: 'entry', limit: 50 }), REPS * 2);

    // Jumping to a hit deep in the history: click → the hit highlighted on screen, in context.
    const jump: number[] = [];
    for (let i = 0; i < REPS + WARMUP; i++) {
      const n = pick(i + 20);
      await page.getByRole('button', { name: 'Search messages' }).click();
      await page.locator('.search-input').fill(rareWord(n));
      const hit = `.search-hit[data-message-id="${big!.ids(n)}"]`;
      await page.locator(hit).waitFor();
      const ms = await timeInPage(page, { click: hit }, { row: big!.ids(n), selector: '.highlighted' });
      if (i >= WARMUP) jump.push(ms);
    }
    const rawAround = await rawRoundTrips(page, web.token, 'history', (i) => ({ convId: bigConv, around: big!.ids(pick(i + 40)), limit: 200 }), REPS * 2);

    // Paging to the very top from the latest page: each page, from the scroll that asks for
    // it to the frame that shows it, until the first message is loaded.
    await page.locator('.jump-latest').click();
    await page.locator(`.msg-row[data-message-id="${big!.lastId}"]`).waitFor();
    const pageStarted = performance.now();
    const perPage = await page.evaluate(
      ({ firstId, budgetMs }) =>
        new Promise<number[]>((resolve, reject) => {
          const list = document.querySelector('[data-testid="message-list"]');
          const samples: number[] = [];
          const began = performance.now();
          let oldest = list.getAttribute('data-oldest');
          let t0 = 0;
          let lastTop = -1;
          const ask = () => {
            t0 = performance.now();
            list.scrollTop = 0;
            requestAnimationFrame(wait);
          };
          const wait = () => {
            const now = list.getAttribute('data-oldest');
            if (now !== oldest) {
              samples.push(performance.now() - t0);
              oldest = now;
              if (now === firstId) return resolve(samples);
              lastTop = -1;
              return requestAnimationFrame(settle);
            }
            if (performance.now() - began > budgetMs) return reject(new Error(`paging stopped at ${oldest} after ${samples.length} pages`));
            requestAnimationFrame(wait);
          };
          // The list keeps the reader's row in place by moving the scroll position down by
          // the new page's height, over a frame or two; a person scrolls on from there.
          const settle = () => {
            const top = list.scrollTop;
            if (top > 0 && top === lastTop) return ask();
            lastTop = top;
            requestAnimationFrame(settle);
          };
          ask();
        }),
      { firstId: big!.firstId, budgetMs: 300_000 },
    );
    const toTopMs = performance.now() - pageStarted;
    const loadedAtTop = Number(await page.getByTestId('message-list').getAttribute('data-count'));
    const domRows = await page.locator('.msg-row').count();
    const heapAll = await heapMiB(page);
    const rawOlder = await rawRoundTrips(page, web.token, 'history', (i) => ({ convId: bigConv, before: big!.ids(COUNT - 1 - i * 500), limit: 500 }), REPS * 2);

    // A fresh load with the small conversation open: the renderer's own footprint.
    await openConversation(page, web.url, SMALL, small!.lastId);
    const heapSmall = await heapMiB(page);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);

    const bs = summarize(backSmall);
    const bb = summarize(backBig);
    const so = summarize(openSmall);
    const bo = summarize(openBig);
    const rs = summarize(rawSelf);
    const rn = summarize(rawNewest);
    const sr = summarize(searchRare);
    const sc = summarize(searchCommon);
    const rsr = summarize(rawSearchRare);
    const rsc = summarize(rawSearchCommon);
    const j = summarize(jump);
    const ra = summarize(rawAround);
    const pp = summarize(perPage);
    const ro = summarize(rawOlder);
    const ratio = (a: number, b: number) => `${fmt(a / b, 1)}×`;
    const ms = (n: number) => fmt(n, 1);
    const all = COUNT.toLocaleString('en');
    const title = `Web mode in headless Chromium, ${COUNT.toLocaleString('en')} messages in one conversation (p50 / p99 of ${REPS} runs after ${WARMUP} warm-up; seeded in ${fmt(seedMs / 1000, 1)} s)`;
    printTable(title, [
      { name: 'open it after a fresh page load → latest page on screen, p50 (ms)', value: ms(bo.p50), baseline: `${ms(so.p50)} same for a 10-message conversation`, ratio: ratio(bo.p50, so.p50), target: '≤ 150 ms' },
      { name: 'open it after a fresh page load → latest page on screen, p99 (ms)', value: ms(bo.p99), baseline: `${ms(so.p99)} same for a 10-message conversation`, ratio: ratio(bo.p99, so.p99), target: '≤ 150 ms' },
      { name: 'switch back to it (page still loaded) → on screen, p50 (ms)', value: ms(bb.p50), baseline: `${ms(bs.p50)} switch back to the 10-message one`, ratio: ratio(bb.p50, bs.p50) },
      { name: 'switch back to it (page still loaded) → on screen, p99 (ms)', value: ms(bb.p99), baseline: `${ms(bs.p99)} switch back to the 10-message one`, ratio: ratio(bb.p99, bs.p99) },
      { name: '… its newest page (200) over the bare WebSocket, p50 (ms)', value: ms(rn.p50), baseline: `${ms(rs.p50)} bare getSelf round trip`, ratio: ratio(rn.p50, rs.p50) },
      { name: 'search, a word in 1 message: type → hit listed, p50 (ms)', value: ms(sr.p50), baseline: `${ms(rsr.p50)} bare search round trip`, ratio: ratio(sr.p50, rsr.p50), target: '≤ 100 ms' },
      { name: 'search, a word in 1 message: type → hit listed, p99 (ms)', value: ms(sr.p99), baseline: `${ms(rsr.p99)} bare search round trip`, ratio: ratio(sr.p99, rsr.p99), target: '≤ 100 ms' },
      { name: `search, a word in all ${all}: type → 50 newest listed, p50 (ms)`, value: ms(sc.p50), baseline: `${ms(rsc.p50)} bare search round trip`, ratio: ratio(sc.p50, rsc.p50), target: '≤ 100 ms' },
      { name: `search, a word in all ${all}: type → 50 newest listed, p99 (ms)`, value: ms(sc.p99), baseline: `${ms(rsc.p99)} bare search round trip`, ratio: ratio(sc.p99, rsc.p99), target: '≤ 100 ms' },
      { name: 'jump to a hit deep in history → on screen in context, p50 (ms)', value: ms(j.p50), baseline: `${ms(ra.p50)} bare history-around round trip`, ratio: ratio(j.p50, ra.p50) },
      { name: 'jump to a hit deep in history → on screen in context, p99 (ms)', value: ms(j.p99), baseline: `${ms(ra.p99)} bare history-around round trip`, ratio: ratio(j.p99, ra.p99) },
      { name: `scroll up: one older page of 500 → on screen, p50 (ms; ${perPage.length} pages)`, value: ms(pp.p50), baseline: `${ms(ro.p50)} bare history-before round trip`, ratio: ratio(pp.p50, ro.p50) },
      { name: 'scroll up: one older page of 500 → on screen, p99 (ms)', value: ms(pp.p99), baseline: `${ms(ro.p99)} bare history-before round trip`, ratio: ratio(pp.p99, ro.p99) },
      { name: `scroll from the latest to the very first message (s; then ${loadedAtTop.toLocaleString('en')} loaded, ${domRows} rows in the DOM)`, value: fmt(toTopMs / 1000, 1), baseline: `${fmt((ro.mean * perPage.length) / 1000, 1)} the same pages over the bare WebSocket`, ratio: ratio(toTopMs, ro.mean * perPage.length) },
      { name: `renderer JS heap, latest page of the ${all}-message conversation open (MiB)`, value: fmt(heapLatest, 1), baseline: `${fmt(heapSmall, 1)} 10-message conversation open`, ratio: ratio(heapLatest, heapSmall) },
      { name: `renderer JS heap, after scrolling to the very first message (MiB)`, value: fmt(heapAll, 1), baseline: `${fmt(heapSmall, 1)} 10-message conversation open`, ratio: ratio(heapAll, heapSmall) },
    ]);
  } finally {
    await browser?.close();
    await web?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await webBench();
