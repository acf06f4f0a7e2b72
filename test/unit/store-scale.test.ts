import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BOB, ME, closeStores, frame, removeTempDirs, send, tempStore } from '../helpers/store.ts';

after(() => {
  closeStores();
  removeTempDirs();
});

describe('a conversation with 100,000 messages', () => {
  const { store } = tempStore();
  const conv = store.ensureDirectConversation(ME, BOB).id;
  let bobSeq = 0;
  for (let round = 0; round < 20; round++) {
    const base = store.getConversation(conv)!.lamport;
    send(store, conv, BOB, Array.from({ length: 2500 }, (_, i) => `my message ${round}/${i} about nothing much`));
    store.insertIncoming(Array.from({ length: 2500 }, (_, i) => frame(conv, BOB, ++bobSeq, base + 1 + i, `bob says ${round}/${i} something`)));
  }

  it('serves pages from its oldest part as fast as the newest (an index range, no OFFSET or scan)', () => {
    const everything = store.history(conv, { limit: 100_000 });
    assert.equal(everything.length, 100_000);
    const oldest = everything.slice(0, 1000);
    // Walk back from near the start: each page is found by key, not by counting rows.
    const anchors = Array.from({ length: 200 }, (_, i) => oldest[500 + i]!.id);
    const t0 = performance.now();
    for (const before of anchors) assert.equal(store.history(conv, { before, limit: 50 }).length, 50);
    const ms = performance.now() - t0;
    // ~0.1 ms per page with the index; a scan of 100k rows per page would take seconds in total.
    assert.ok(ms < 1500, `200 deep pages took ${ms.toFixed(0)} ms`);
    assert.equal(store.history(conv, { before: oldest[0]!.id, limit: 50 }).length, 0, 'nothing before the first message');
  });

  it('counts unread messages and lists the conversation quickly', () => {
    const t0 = performance.now();
    assert.equal(store.unreadCount(conv, ME), 50_000);
    const [summary] = store.listConversations(ME);
    assert.equal(summary?.unread, 50_000);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  });

  it('finds a needle among them quickly', () => {
    const t0 = performance.now();
    const hits = store.search('bob says 17/1234', 10);
    const ms = performance.now() - t0;
    assert.equal(hits[0]?.message.text, 'bob says 17/1234 something');
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  });
});
