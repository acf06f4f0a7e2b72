// The renderer's pure logic, run directly under Node: message order and merging, rows
// with day separators and the new-messages line, links, labels, the typing signal and
// search-as-you-type.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageInfo } from '../../main/contract/contract.ts';
import { cleanLabel } from '../../renderer/src/app/labels.ts';
import { appendPage, compareMessages, fitsWindow, prependPage, upsertMessage } from '../../renderer/src/app/order.ts';
import { buildRows } from '../../renderer/src/features/conversation/rows.ts';
import { linkify, safeHref } from '../../renderer/src/features/conversation/linkify.ts';
import { TYPING_REPEAT_MS, TypingSignal } from '../../renderer/src/features/conversation/typing-signal.ts';
import { LatestOnly } from '../../renderer/src/features/search/latest-only.ts';
import { groupOf, groupPeople, sharedNames } from '../../renderer/src/features/people/grouping.ts';
import { nameKey } from '../../main/core/trust/key-change.ts';

const A = 'A'.repeat(52);
const B = 'B'.repeat(52);
const msg = (id: string, lamport: number, over: Partial<MessageInfo> = {}): MessageInfo => ({
  id,
  convId: 'c',
  author: B,
  mine: false,
  seq: lamport,
  lamport,
  ts: new Date(2026, 0, 1, 12, 0).getTime() + lamport * 1000,
  text: `m${lamport}`,
  state: 'delivered',
  overdue: false,
  ...over,
});

describe('message order in the renderer', () => {
  it('orders by lamport, then author, seq and id, never by wall clock', () => {
    const early = msg('1', 5, { ts: 9e12 });
    const late = msg('2', 6, { ts: 0 });
    assert.ok(compareMessages(early, late) < 0);
    assert.ok(compareMessages(msg('x', 5, { author: A }), msg('y', 5, { author: B })) < 0);
  });

  it('appends new messages, replaces changed ones, and inserts late arrivals in place', () => {
    let list = [msg('1', 1), msg('3', 3)];
    list = upsertMessage(list, msg('4', 4));
    list = upsertMessage(list, msg('2', 2));
    assert.deepEqual(list.map((m) => m.id), ['1', '2', '3', '4']);
    const same = upsertMessage(list, msg('3', 3));
    assert.equal(same, list, 'unchanged message keeps the array');
    const read = upsertMessage(list, msg('3', 3, { state: 'read' }));
    assert.notEqual(read, list);
    assert.equal(read[2]!.state, 'read');
    assert.equal(list[2]!.state, 'delivered', 'the old array is not mutated');
  });

  it('prepends an older page without duplicating the overlap', () => {
    const list = [msg('3', 3), msg('4', 4)];
    assert.deepEqual(prependPage([msg('1', 1), msg('2', 2), msg('3', 3)], list).map((m) => m.id), ['1', '2', '3', '4']);
    assert.equal(prependPage([], list), list);
  });

  it('appends a newer page without duplicating the overlap', () => {
    const list = [msg('1', 1), msg('2', 2)];
    assert.deepEqual(appendPage(list, [msg('2', 2), msg('3', 3), msg('4', 4)]).map((m) => m.id), ['1', '2', '3', '4']);
    assert.equal(appendPage(list, []), list);
    assert.equal(appendPage(list, [msg('2', 2)]), list);
  });

  it('keeps a live message out of a window that ends before the newest, unless it falls inside it', () => {
    const window = [msg('5', 5), msg('6', 6)];
    assert.equal(fitsWindow(window, msg('9', 9), false), false, 'past the end: it would leave a gap');
    assert.equal(fitsWindow(window, msg('6', 6, { state: 'read' }), false), true, 'a change to a loaded message');
    assert.equal(fitsWindow(window, msg('9', 9), true), true, 'the window reaches the newest message');
    assert.equal(fitsWindow([], msg('1', 1), true), true);
  });
});

describe('the typing signal sent from the composer', () => {
  const record = () => {
    let now = 0;
    const sent: Array<[number, boolean]> = [];
    const signal = new TypingSignal((typing) => sent.push([now, typing]), () => now);
    return { signal, sent, at: (t: number) => (now = t) };
  };

  it('says "typing" on the first keystroke and repeats it at most every 3 s while typing goes on', () => {
    const { signal, sent, at } = record();
    for (let t = 0; t <= 7000; t += 250) {
      at(t);
      signal.input(`text ${t}`);
    }
    assert.deepEqual(sent, [
      [0, true],
      [TYPING_REPEAT_MS, true],
      [2 * TYPING_REPEAT_MS, true],
    ]);
    assert.ok(TYPING_REPEAT_MS < 6000, 'repeats well before the receiver gives up');
  });

  it('says "stopped" once when the text is cleared, sent or left, and nothing when it was not typing', () => {
    const { signal, sent, at } = record();
    signal.stop();
    signal.input('   ');
    assert.deepEqual(sent, [], 'blank text is not typing');
    signal.input('hi');
    at(100);
    signal.input('');
    signal.input('');
    signal.stop();
    assert.deepEqual(sent, [
      [0, true],
      [100, false],
    ]);
  });

  it('says "typing" again at once after stopping, without waiting for the repeat interval', () => {
    const { signal, sent, at } = record();
    signal.input('a');
    at(500);
    signal.stop();
    at(600);
    signal.input('b');
    assert.deepEqual(sent, [
      [0, true],
      [500, false],
      [600, true],
    ]);
  });
});

describe('search as you type', () => {
  const controlled = () => {
    const calls: Array<{ query: string; resolve: (r: string) => void; reject: (e: Error) => void }> = [];
    const shown: Array<[string, string]> = [];
    const search = new LatestOnly<string>(
      (query) => new Promise((resolve, reject) => calls.push({ query, resolve, reject })),
      (query, r) => shown.push([query, r]),
    );
    return { search, calls, shown };
  };
  const tick = () => new Promise((r) => setImmediate(r));

  it('searches the first query at once and keeps one search in flight, running only the newest one next', async () => {
    const { search, calls, shown } = controlled();
    search.request('q');
    assert.deepEqual(calls.map((c) => c.query), ['q'], 'no delay before the first search');
    search.request('qu');
    search.request('qua');
    search.request('quar');
    assert.equal(calls.length, 1, 'nothing else while one is in flight');
    calls[0]!.resolve('results for q');
    await tick();
    assert.deepEqual(shown, [], 'results for an old query are not shown');
    assert.deepEqual(calls.map((c) => c.query), ['q', 'quar'], 'the queries in between are skipped');
    calls[1]!.resolve('results for quar');
    await tick();
    assert.deepEqual(shown, [['quar', 'results for quar']]);
  });

  it('drops late results once the field is cleared, and goes on after a failed search', async () => {
    const { search, calls, shown } = controlled();
    search.request('abc');
    search.request('');
    calls[0]!.resolve('late');
    await tick();
    assert.deepEqual(shown, []);
    search.request('x');
    calls[1]!.reject(new Error('connection lost'));
    await tick();
    search.request('xy');
    assert.deepEqual(calls.map((c) => c.query), ['abc', 'x', 'xy']);
    calls[2]!.resolve('ok');
    await tick();
    assert.deepEqual(shown, [['xy', 'ok']]);
  });

  it('does not search again when only trailing space changed the query', () => {
    const { search, calls } = controlled();
    search.request('needle');
    search.request('needle');
    assert.equal(calls.length, 1);
  });
});

describe('rows of the message list', () => {
  it('puts a day separator on the first message of each local day', () => {
    const day1 = new Date(2026, 0, 1, 23, 59).getTime();
    const day2 = new Date(2026, 0, 2, 0, 1).getTime();
    const rows = buildRows([msg('1', 1, { ts: day1 }), msg('2', 2, { ts: day1 + 1000 }), msg('3', 3, { ts: day2 })], null);
    assert.deepEqual(rows.map((r) => r.day), [new Date(2026, 0, 1).getTime(), null, new Date(2026, 0, 2).getTime()]);
    assert.deepEqual(rows.map((r) => r.key), ['1', '2', '3']);
  });

  it('shows a folder’s Accept once: later files of the same folder right below it follow the first', () => {
    const folder = (id: string, path = '') => ({ id, name: 'Project', path, count: 3, bytes: 30 });
    const file = (id: string, n: number, f: ReturnType<typeof folder> | undefined, over: Partial<MessageInfo> = {}) =>
      msg(id, n, {
        text: '',
        attachment: { transferId: id.padEnd(26, '0'), name: `f${n}`, size: 10, mime: 'text/plain', kind: 'file', transfer: { state: 'offered', direction: 'receive', bytesDone: 0, bytesTotal: 10, bytesPerSec: 0, etaMs: null }, url: null, ...(f ? { folder: f } : {}) },
        ...over,
      });
    const F = 'F'.repeat(26);
    const G = 'G'.repeat(26);
    const rows = buildRows([file('1', 1, folder(F)), file('2', 2, folder(F, 'src')), file('3', 3, undefined), file('4', 4, folder(F, 'docs')), file('5', 5, folder(G)), file('6', 6, folder(G), { author: A })], null);
    assert.deepEqual(rows.map((r) => r.folderFollower), [false, true, false, false, false, false]);
  });

  it('puts the new-messages line above the first unread and starts a group there', () => {
    const rows = buildRows([msg('1', 1), msg('2', 2), msg('3', 3)], '2');
    assert.deepEqual(rows.map((r) => r.unreadBefore), [false, true, false]);
    assert.deepEqual(rows.map((r) => r.groupStart), [true, true, false]);
  });

  it('starts a new group when the author changes or time passes', () => {
    const t0 = new Date(2026, 0, 1, 12).getTime();
    const rows = buildRows([msg('1', 1, { ts: t0 }), msg('2', 2, { ts: t0 + 1000, author: A, mine: true }), msg('3', 3, { ts: t0 + 2000, author: A, mine: true }), msg('4', 4, { ts: t0 + 3_600_000, author: A, mine: true })], null);
    assert.deepEqual(rows.map((r) => r.groupStart), [true, true, false, true]);
  });

  it('starts a new group after a membership line in a group, so the author is named again', () => {
    const t0 = new Date(2026, 0, 1, 12).getTime();
    const rows = buildRows([msg('1', 1, { ts: t0, text: '', change: { kind: 'created', name: 'Team', members: [A] } }), msg('2', 2, { ts: t0 + 1000 }), msg('3', 3, { ts: t0 + 2000 })], null);
    assert.deepEqual(rows.map((r) => r.groupStart), [true, true, false]);
  });

  it('builds 100,000 rows quickly', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => msg(String(i), i + 1, { ts: Date.UTC(2026, 0, 1) + i * 25_000 }));
    const t = performance.now();
    const rows = buildRows(many, null);
    const ms = performance.now() - t;
    assert.equal(rows.length, 100_000);
    assert.ok(rows.filter((r) => r.day !== null).length >= 28);
    assert.ok(ms < 500, `${ms} ms`);
  });
});

describe('links in message text', () => {
  it('links http, https and mailto and trims trailing punctuation', () => {
    assert.deepEqual(linkify('see https://example.com/a_(b), then.'), [
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a_(b)', href: 'https://example.com/a_(b)' },
      { kind: 'text', text: ', then.' },
    ]);
    assert.deepEqual(linkify('(http://x.example/y)'), [
      { kind: 'text', text: '(' },
      { kind: 'link', text: 'http://x.example/y', href: 'http://x.example/y' },
      { kind: 'text', text: ')' },
    ]);
    assert.deepEqual(linkify('mailto:a@b.example.'), [
      { kind: 'link', text: 'mailto:a@b.example', href: 'mailto:a@b.example' },
      { kind: 'text', text: '.' },
    ]);
  });

  it('never links javascript:, data:, file: or credentials, and keeps them as text', () => {
    for (const text of ['javascript:alert(1)', 'JAVASCRIPT://%0aalert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'vbscript:x', '<a href="javascript:x">y</a>']) {
      assert.deepEqual(linkify(text), [{ kind: 'text', text }], text);
    }
    assert.equal(safeHref('https://user:pw@example.com/'), null);
    assert.equal(safeHref('mailto:'), null);
    assert.equal(safeHref('https://'), null);
  });

  it('keeps the whole text, in order, whatever it contains', () => {
    const text = 'a https://x.example b <script>c</script> mailto:d@e.example \u202Ef\u202C';
    assert.equal(linkify(text).map((s) => s.text).join(''), text);
  });
});

describe('peer labels', () => {
  it('drop explicit bidi overrides and isolates but keep everything else', () => {
    assert.equal(cleanLabel('\u202Egnp.exe'), 'gnp.exe');
    assert.equal(cleanLabel('a\u2066b\u2069c\u202Ad\u202C'), 'abcd');
    assert.equal(cleanLabel('שלום Ali ‎'), 'שלום Ali ‎');
    assert.equal(cleanLabel('<b>x</b>'), '<b>x</b>');
  });
});

describe('people list groups', () => {
  const p = (id: string, name: string, link: 'direct' | 'relay' | null, seenVia: 'lan' | 'relay' | null) => ({ peer: { id: id.repeat(52), name, link, seenVia } });

  it('puts a direct link on this LAN and a relayed link via relay, whatever was announced', () => {
    assert.equal(groupOf({ link: 'direct', seenVia: null }), 'lan');
    assert.equal(groupOf({ link: 'direct', seenVia: 'relay' }), 'lan');
    assert.equal(groupOf({ link: 'relay', seenVia: 'lan' }), 'relay');
  });

  it('without a link, goes by where the peer is announced: LAN discovery, a relay directory, or nowhere (offline)', () => {
    assert.equal(groupOf({ link: null, seenVia: 'lan' }), 'lan');
    assert.equal(groupOf({ link: null, seenVia: 'relay' }), 'relay');
    assert.equal(groupOf({ link: null, seenVia: null }), 'offline');
  });

  it('sorts each group by name, equal names by ID', () => {
    const rows = [p('C', 'carol', 'relay', null), p('B', 'Bob', null, 'lan'), p('A', 'Bob', 'direct', null), p('D', 'Dan', null, null), p('E', 'Eve', null, 'relay')];
    const g = groupPeople(rows);
    assert.deepEqual(
      Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.map((r) => r.peer.id[0])])),
      { lan: ['A', 'B'], relay: ['C', 'E'], offline: ['D'] },
    );
  });

  it('marks people who share a name, compared as the core compares names for key changes', () => {
    const peers = [
      { id: 'A', name: 'Bob' },
      { id: 'B', name: '  BOB\u200b ' },
      { id: 'C', name: 'Zo\u00eb' },
      { id: 'D', name: 'ZOE\u0308' },
      { id: 'E', name: 'Eve' },
    ];
    assert.deepEqual([...sharedNames(peers)].sort(), ['A', 'B', 'C', 'D']);
    assert.equal(nameKey(peers[0]!.name), nameKey(peers[1]!.name));
    assert.equal(nameKey(peers[2]!.name), nameKey(peers[3]!.name));
  });
});
