import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import type { MessageRow, MsgFrameLike, Store } from '../../main/core/store/store.ts';
import { BOB, CAROL, ME, closeStores, frame, newId, peer, removeTempDirs, send, tempStore } from '../helpers/store.ts';

afterEach(closeStores);
after(removeTempDirs);

/** The frame a peer's store would put on the wire for one of its rows. */
const asFrame = (m: MessageRow): MsgFrameLike => ({ id: m.id, conv: m.convId, author: m.author, seq: m.seq, lamport: m.lamport, ts: m.ts, body: { text: m.text } });

function withConversation(peerId: PeerId = BOB): { store: Store; conv: string } {
  const { store } = tempStore();
  return { store, conv: store.ensureDirectConversation(ME, peerId).id };
}

const byOrder = (a: MessageRow, b: MessageRow) =>
  a.lamport - b.lamport || (a.author < b.author ? -1 : a.author > b.author ? 1 : 0) || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe('settings', () => {
  it('stores, overwrites and reads back values; unknown keys are undefined', () => {
    const { store } = tempStore();
    assert.equal(store.getMeta('profile.name'), undefined);
    store.setMeta('profile.name', 'Mia');
    store.setMeta('profile.name', 'Mia K.');
    assert.equal(store.getMeta('profile.name'), 'Mia K.');
  });
});

describe('peers', () => {
  it('creates a peer with defaults and merges later updates field by field', () => {
    const { store } = tempStore();
    const created = store.upsertPeer({ id: BOB });
    assert.deepEqual({ ...created, firstSeen: 0 }, { id: BOB, name: '', presence: 'offline', statusText: '', addresses: [], lastSeen: null, firstSeen: 0 });

    store.upsertPeer({ id: BOB, name: 'Bob', presence: 'busy', statusText: 'in a meeting', lastSeen: 1000, addresses: ['10.0.0.2:4711'] });
    const merged = store.upsertPeer({ id: BOB, presence: 'online' });
    assert.equal(merged.name, 'Bob', 'a field not given keeps its value');
    assert.equal(merged.statusText, 'in a meeting');
    assert.equal(merged.presence, 'online');
    assert.equal(merged.lastSeen, 1000);
    assert.deepEqual(merged.addresses, ['10.0.0.2:4711']);
    assert.equal(merged.firstSeen, created.firstSeen, 'first seen never changes');
    assert.deepEqual(store.getPeer(BOB), merged);
  });

  it('replaces the address list when one is given: deduplicated, in order, at most 16', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: BOB, addresses: ['a:1', 'b:2'] });
    const many = Array.from({ length: 30 }, (_, i) => `10.0.0.${i}:4711`);
    const row = store.upsertPeer({ id: BOB, addresses: ['c:3', 'c:3', ...many] });
    assert.deepEqual(row.addresses, ['c:3', ...many.slice(0, 15)]);
    assert.deepEqual(store.getPeer(BOB)?.addresses, row.addresses);
  });

  it('lists every known peer; an unknown peer is undefined', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: BOB, name: 'Bob' });
    store.upsertPeer({ id: CAROL, name: 'Carol' });
    assert.deepEqual(
      store.listPeers().map((p) => p.name).sort(),
      ['Bob', 'Carol'],
    );
    assert.equal(store.getPeer(peer('Z')), undefined);
  });
});

describe('conversations', () => {
  it('has the same direct conversation ID on both sides', () => {
    const { store } = tempStore();
    assert.equal(store.directConversationId(ME, BOB), store.directConversationId(BOB, ME));
    assert.equal(store.directConversationId(ME, BOB), `d:${BOB}:${ME}`);
  });

  it('creates a direct conversation once, titled with the peer name or, until known, its short ID', () => {
    const { store } = tempStore();
    const first = store.ensureDirectConversation(ME, BOB);
    assert.equal(first.title, BOB.slice(0, 7));
    assert.deepEqual({ ...first, createdAt: 0 }, {
      id: store.directConversationId(ME, BOB),
      kind: 'direct',
      peerId: BOB,
      title: BOB.slice(0, 7),
      createdAt: 0,
      lamport: 0,
      mySeq: 0,
      readUpTo: null,
      peerReadUpTo: null,
    });
    store.upsertPeer({ id: BOB, name: 'Bob' });
    const again = store.ensureDirectConversation(ME, BOB);
    assert.equal(again.title, 'Bob');
    assert.equal(again.createdAt, first.createdAt);
    assert.equal(store.listConversations(ME).length, 1);
    store.upsertPeer({ id: CAROL, name: 'Carol' });
    assert.equal(store.ensureDirectConversation(ME, CAROL).title, 'Carol');
  });

  it('refuses a conversation with myself', () => {
    const { store } = tempStore();
    assert.throws(() => store.ensureDirectConversation(ME, ME), /two different peers/);
  });

  it('lists conversations by latest activity with unread count and last message', () => {
    const { store } = tempStore();
    const withBob = store.ensureDirectConversation(ME, BOB).id;
    const withCarol = store.ensureDirectConversation(ME, CAROL).id;
    send(store, withBob, BOB, ['one', 'two']);
    store.insertIncoming([frame(withCarol, CAROL, 1, 1, 'hi'), frame(withCarol, CAROL, 2, 5, 'are you there?')]);
    let list = store.listConversations(ME);
    assert.deepEqual(
      list.map((c) => [c.peerId, c.unread, c.last?.text]),
      [
        [CAROL, 2, 'are you there?'],
        [BOB, 0, 'two'],
      ],
    );
    send(store, withBob, BOB, ['three', 'four', 'five', 'six']);
    list = store.listConversations(ME);
    assert.deepEqual(
      list.map((c) => c.peerId),
      [BOB, CAROL],
      'Bob moves to the top',
    );
  });
});

describe('sending', () => {
  it('stores a batch as pending with consecutive seq and lamport, and queues it in batch order', () => {
    const { store, conv } = withConversation();
    const rows = send(store, conv, BOB, ['a', 'b', 'c']);
    assert.deepEqual(
      rows.map((r) => [r.text, r.seq, r.lamport, r.state, r.author]),
      [
        ['a', 1, 1, 'pending', ME],
        ['b', 2, 2, 'pending', ME],
        ['c', 3, 3, 'pending', ME],
      ],
    );
    assert.deepEqual(store.getMessage(rows[1]!.id), rows[1]);
    assert.deepEqual(
      store.outbox(BOB, 0, 10).map((r) => r.id),
      rows.map((r) => r.id),
    );
    const c = store.getConversation(conv)!;
    assert.equal(c.mySeq, 3);
    assert.equal(c.lamport, 3);
  });

  it('writes nothing from a batch that fails part-way', () => {
    const { store, conv } = withConversation();
    assert.throws(
      () =>
        store.insertOutgoing([
          { id: newId(), convId: conv, author: ME, text: 'fine', ts: 1, peerId: BOB },
          { id: newId(), convId: 'd:nope', author: ME, text: 'no such conversation', ts: 1, peerId: BOB },
        ]),
      /unknown conversation/,
    );
    assert.equal(store.outboxCount(), 0);
    assert.equal(store.history(conv, { limit: 10 }).length, 0);
    assert.equal(store.getConversation(conv)?.mySeq, 0);
  });
});

describe('receiving', () => {
  it('stores a new message as delivered, and the same message again as a duplicate', () => {
    const { store, conv } = withConversation();
    const f = frame(conv, BOB, 1, 1, 'hello');
    assert.deepEqual(store.insertIncoming([f]), ['stored']);
    assert.equal(store.getMessage(f.id)?.state, 'delivered');
    assert.deepEqual(store.insertIncoming([{ ...f, body: { ...f.body } }]), ['duplicate']);
    assert.equal(store.history(conv, { limit: 10 }).length, 1);
  });

  it('rejects the same ID with different content as a conflict and keeps the original', () => {
    const { store, conv } = withConversation();
    const f = frame(conv, BOB, 1, 1, 'original');
    store.insertIncoming([f]);
    const variants: MsgFrameLike[] = [
      { ...f, body: { text: 'forged' } },
      { ...f, ts: f.ts + 1 },
      { ...f, seq: 2 },
      { ...f, lamport: 9 },
      { ...f, author: CAROL },
    ];
    assert.deepEqual(store.insertIncoming(variants), variants.map(() => 'conflict'));
    assert.equal(store.getMessage(f.id)?.text, 'original');
    assert.equal(store.getConversation(conv)?.lamport, 1, 'a conflicting copy does not move the clock');
  });

  it('judges repeats within one batch against the first copy', () => {
    const { store, conv } = withConversation();
    const f = frame(conv, BOB, 1, 1, 'once');
    assert.deepEqual(store.insertIncoming([f, { ...f }, { ...f, body: { text: 'twice' } }]), ['stored', 'duplicate', 'conflict']);
    assert.equal(store.getMessage(f.id)?.text, 'once');
  });

  it('raises the conversation clock to the highest lamport seen, so my next message sorts after', () => {
    const { store, conv } = withConversation();
    store.insertIncoming([frame(conv, BOB, 1, 40, 'far ahead'), frame(conv, BOB, 2, 7, 'behind')]);
    assert.equal(store.getConversation(conv)?.lamport, 40);
    const [mine] = send(store, conv, BOB, ['reply']);
    assert.equal(mine?.lamport, 41);
    assert.equal(mine?.seq, 1, 'my seq counts only my messages');
  });

  it('refuses a batch for a conversation that does not exist, storing none of it', () => {
    const { store, conv } = withConversation();
    const good = frame(conv, BOB, 1, 1, 'good');
    assert.throws(() => store.insertIncoming([good, frame('d:unknown', BOB, 1, 1, 'lost')]), /unknown conversation/);
    assert.equal(store.getMessage(good.id), undefined);
  });
});

describe('conversation order', () => {
  it('is by lamport, then author, then seq, never by wall clock, and identical on both sides', () => {
    const mine = tempStore().store;
    const bobs = tempStore().store;
    const conv = mine.ensureDirectConversation(ME, BOB).id;
    assert.equal(bobs.ensureDirectConversation(BOB, ME).id, conv);

    // Both write before seeing the other's messages; timestamps run backwards.
    const ts = (n: number) => 2_000_000_000_000 - n * 60_000;
    const m = mine.insertOutgoing(['m1', 'm2'].map((text, i) => ({ id: newId(), convId: conv, author: ME, text, ts: ts(i), peerId: BOB })));
    const b = bobs.insertOutgoing(['b1', 'b2', 'b3'].map((text, i) => ({ id: newId(), convId: conv, author: BOB, text, ts: ts(10 + i), peerId: ME })));
    mine.insertIncoming(b.map(asFrame));
    bobs.insertIncoming(m.map(asFrame));
    const m3 = mine.insertOutgoing([{ id: newId(), convId: conv, author: ME, text: 'm3', ts: ts(99), peerId: BOB }]);
    bobs.insertIncoming(m3.map(asFrame));

    const expected = ['b1', 'm1', 'b2', 'm2', 'b3', 'm3']; // BOB's ID sorts before mine
    assert.deepEqual(
      mine.history(conv, { limit: 50 }).map((r) => r.text),
      expected,
    );
    assert.deepEqual(
      bobs.history(conv, { limit: 50 }).map((r) => r.text),
      expected,
    );
    assert.equal(m3[0]?.lamport, 4, 'after the highest lamport seen (3)');
  });

  it('pages through 10,000 messages back to the start without gaps or repeats', () => {
    const { store, conv } = withConversation();
    let bobSeq = 0;
    for (let round = 0; round < 10; round++) {
      const base = store.getConversation(conv)!.lamport;
      send(store, conv, BOB, Array.from({ length: 500 }, (_, i) => `mine ${round}/${i}`));
      // Bob wrote concurrently: the same lamports as mine, so every step is a tie broken by author.
      store.insertIncoming(Array.from({ length: 500 }, (_, i) => frame(conv, BOB, ++bobSeq, base + 1 + i, `bob ${round}/${i}`, Math.floor(Math.random() * 1e12))));
    }
    const expected = store.history(conv, { limit: 10_000 }).map((r) => r.id);
    assert.equal(expected.length, 10_000);

    const all: MessageRow[] = [];
    let pages = 0;
    for (let page = store.history(conv, { limit: 97 }); page.length > 0; page = store.history(conv, { before: page[0]!.id, limit: 97 })) {
      assert.ok(page.length <= 97);
      assert.ok(++pages <= 104, 'paging terminates');
      all.unshift(...page);
    }
    assert.equal(all.length, 10_000);
    assert.equal(new Set(all.map((r) => r.id)).size, 10_000, 'no repeats');
    assert.deepEqual(
      all.map((r) => r.id),
      [...all].sort(byOrder).map((r) => r.id),
      'in conversation order',
    );
    assert.deepEqual(
      all.map((r) => r.id),
      expected,
    );
  });

  it('gives an empty page for a `before` that is unknown or from another conversation', () => {
    const { store, conv } = withConversation();
    const other = store.ensureDirectConversation(ME, CAROL).id;
    const [inOther] = send(store, other, CAROL, ['elsewhere']);
    send(store, conv, BOB, ['here']);
    assert.deepEqual(store.history(conv, { before: newId(), limit: 10 }), []);
    assert.deepEqual(store.history(conv, { before: inOther!.id, limit: 10 }), []);
    assert.throws(() => store.history(conv, { limit: 0 }), RangeError);
  });
});

describe('outbox and delivery states', () => {
  it('hands out entries per peer in enqueue order, from a position, up to a limit', () => {
    const { store, conv } = withConversation();
    const withCarol = store.ensureDirectConversation(ME, CAROL).id;
    const b = send(store, conv, BOB, ['b1', 'b2']);
    send(store, withCarol, CAROL, ['c1']);
    b.push(...send(store, conv, BOB, ['b3']));

    const all = store.outbox(BOB, 0, 10);
    assert.deepEqual(
      all.map((r) => r.text),
      ['b1', 'b2', 'b3'],
    );
    assert.ok(all[0]!.outboxRowid < all[1]!.outboxRowid && all[1]!.outboxRowid < all[2]!.outboxRowid);
    assert.deepEqual(
      store.outbox(BOB, all[0]!.outboxRowid, 1).map((r) => r.text),
      ['b2'],
    );
    assert.equal(store.outboxCount(BOB), 3);
    assert.equal(store.outboxCount(CAROL), 1);
    assert.equal(store.outboxCount(), 4);
    assert.deepEqual(store.outboxPeers(), [BOB, CAROL]);
  });

  it('removes acked messages from the outbox and marks them delivered; a late ack changes nothing', () => {
    const { store, conv } = withConversation();
    const [m1, m2, m3] = send(store, conv, BOB, ['1', '2', '3']);
    const changed = store.markDelivered([m1!.id, m2!.id]);
    assert.deepEqual(
      changed.map((r) => [r.id, r.state]),
      [
        [m1!.id, 'delivered'],
        [m2!.id, 'delivered'],
      ],
    );
    assert.deepEqual(
      store.outbox(BOB, 0, 10).map((r) => r.id),
      [m3!.id],
    );
    assert.deepEqual(store.markDelivered([m1!.id]), []);
    assert.equal(store.outboxPeers().length, 1);
  });

  it('keeps outbox positions increasing after the outbox has emptied', () => {
    // The messenger remembers "written up to position N" per link; a reused position would be skipped.
    const { store, conv } = withConversation();
    const first = send(store, conv, BOB, ['a', 'b']);
    const lastPosition = store.outbox(BOB, 0, 10).at(-1)!.outboxRowid;
    store.markDelivered(first.map((r) => r.id));
    assert.equal(store.outboxCount(), 0);
    send(store, conv, BOB, ['c']);
    assert.deepEqual(
      store.outbox(BOB, lastPosition, 10).map((r) => r.text),
      ['c'],
    );
  });

  it('marks pending as stored at a relay, but never back from delivered', () => {
    const { store, conv } = withConversation();
    const [m1, m2] = send(store, conv, BOB, ['1', '2']);
    store.markDelivered([m2!.id]);
    assert.deepEqual(
      store.markStored([m1!.id, m2!.id]).map((r) => [r.id, r.state]),
      [[m1!.id, 'stored']],
    );
    assert.equal(store.getMessage(m1!.id)?.state, 'stored');
    assert.equal(store.getMessage(m2!.id)?.state, 'delivered');
    assert.equal(store.markDelivered([m1!.id])[0]?.state, 'delivered');
  });

  it('leaves received messages alone when acks name them', () => {
    const { store, conv } = withConversation();
    const f = frame(conv, BOB, 1, 1, 'theirs');
    store.insertIncoming([f]);
    assert.deepEqual(store.markDelivered([f.id]), []);
    assert.deepEqual(store.markStored([f.id]), []);
    assert.equal(store.getMessage(f.id)?.state, 'delivered');
  });

  it('takes a rejected message out of the outbox for good', () => {
    const { store, conv } = withConversation();
    const [m1, m2] = send(store, conv, BOB, ['refused', 'fine']);
    store.markDelivered([m2!.id]);
    assert.equal(store.markRejected(m1!.id)?.state, 'rejected');
    assert.equal(store.outboxCount(), 0);
    assert.equal(store.markRejected(m1!.id), undefined);
    assert.equal(store.markRejected(m2!.id), undefined, 'a delivered message stays delivered');
    assert.equal(store.getMessage(m2!.id)?.state, 'delivered');
  });

  it('cancels only what is still waiting in the outbox', () => {
    const { store, conv } = withConversation();
    const [m1, m2] = send(store, conv, BOB, ['waiting', 'already there']);
    store.markDelivered([m2!.id]);
    const canceled = store.cancel(m1!.id);
    assert.equal(canceled?.state, 'canceled');
    assert.equal(store.outboxCount(), 0);
    assert.equal(store.cancel(m1!.id), undefined);
    assert.equal(store.cancel(m2!.id), undefined);
    assert.equal(store.getMessage(m2!.id)?.state, 'delivered');
    assert.equal(store.cancel(newId()), undefined);
  });

  it('reports a canceled message as delivered if its ack arrives after all', () => {
    const { store, conv } = withConversation();
    const [m] = send(store, conv, BOB, ['in flight']);
    store.cancel(m!.id);
    assert.equal(store.markDelivered([m!.id])[0]?.state, 'delivered');
  });

  it('lists outbox entries older than a cutoff, oldest first', () => {
    const { store, conv } = withConversation();
    const [m1, m2, m3] = send(store, conv, BOB, ['1', '2', '3']);
    store.markDelivered([m2!.id]);
    assert.deepEqual(store.overdue(0, m1!.createdAt, 10), []);
    assert.deepEqual(
      store.overdue(0, Date.now() + 1, 10).map((r) => r.id),
      [m1!.id, m3!.id],
    );
    assert.equal(store.overdue(0, Date.now() + 1, 1).length, 1);
  });
});

describe('read markers', () => {
  /** B1 M1 B2 B3 M2, in that conversation order. */
  function readScenario() {
    const { store, conv } = withConversation();
    const b1 = frame(conv, BOB, 1, 1, 'b1');
    store.insertIncoming([b1]);
    const [m1] = send(store, conv, BOB, ['m1']);
    const b2 = frame(conv, BOB, 2, 3, 'b2');
    const b3 = frame(conv, BOB, 3, 4, 'b3');
    store.insertIncoming([b2, b3]);
    const [m2] = send(store, conv, BOB, ['m2']);
    return { store, conv, b1, m1: m1!, b2, b3, m2: m2! };
  }

  it('counts the peer messages after my marker as unread and marks those up to it read', () => {
    const { store, conv, b1, b2, b3 } = readScenario();
    assert.equal(store.unreadCount(conv, ME), 3);
    assert.deepEqual(store.markReadUpTo(conv, b2.id, ME), { changed: true, unread: 1 });
    assert.equal(store.getConversation(conv)?.readUpTo, b2.id);
    assert.deepEqual(
      [b1, b2, b3].map((f) => store.getMessage(f.id)?.state),
      ['read', 'read', 'delivered'],
    );
    assert.equal(store.listConversations(ME)[0]?.unread, 1);
  });

  it('never moves my marker backwards', () => {
    const { store, conv, b1, b3 } = readScenario();
    store.markReadUpTo(conv, b3.id, ME);
    assert.deepEqual(store.markReadUpTo(conv, b1.id, ME), { changed: false, unread: 0 });
    assert.equal(store.getConversation(conv)?.readUpTo, b3.id);
  });

  it('puts my marker on the last peer message at or before the one named', () => {
    const { store, conv, m1, b1, m2, b3 } = readScenario();
    assert.deepEqual(store.markReadUpTo(conv, m1.id, ME), { changed: true, unread: 2 });
    assert.equal(store.getConversation(conv)?.readUpTo, b1.id);
    store.markReadUpTo(conv, m2.id, ME);
    assert.equal(store.getConversation(conv)?.readUpTo, b3.id);
    assert.deepEqual(store.markReadUpTo(conv, newId(), ME), { changed: false, unread: 0 }, 'an unknown message changes nothing');
  });

  it('still counts a peer message written concurrently with my latest one as unread', () => {
    const { store, conv, m2 } = readScenario();
    store.markReadUpTo(conv, m2.id, ME);
    // Bob had not seen m2 (lamport 5) yet: his message gets lamport 5 too, and arrives after I read.
    assert.equal(m2.lamport, 5);
    store.insertIncoming([frame(conv, BOB, 4, 5, 'concurrent')]);
    assert.equal(store.unreadCount(conv, ME), 1);
  });

  it('marks my messages read up to the peer marker, forward only, and drops them from the outbox', () => {
    const { store, conv } = withConversation();
    const [m1, m2, m3, m4, m5] = send(store, conv, BOB, ['1', '2', '3', '4', '5']);
    store.markDelivered([m1!.id, m2!.id]);
    store.cancel(m3!.id);
    const changed = store.applyPeerRead(conv, m4!.id, ME);
    assert.deepEqual(
      changed.map((r) => [r.text, r.state]),
      [
        ['1', 'read'],
        ['2', 'read'],
        ['4', 'read'],
      ],
    );
    assert.equal(store.getMessage(m3!.id)?.state, 'canceled', 'a canceled message may never have arrived');
    assert.equal(store.getMessage(m5!.id)?.state, 'pending');
    assert.deepEqual(
      store.outbox(BOB, 0, 10).map((r) => r.id),
      [m5!.id],
      'read implies delivered: only the unread one is still to send',
    );
    assert.equal(store.getConversation(conv)?.peerReadUpTo, m4!.id);
    assert.deepEqual(store.applyPeerRead(conv, m2!.id, ME), [], 'an older marker changes nothing');
    assert.equal(store.getConversation(conv)?.peerReadUpTo, m4!.id);
    assert.deepEqual(store.applyPeerRead(conv, newId(), ME), []);
    assert.deepEqual(store.applyPeerRead('d:unknown', m4!.id, ME), []);
  });

  it('does not let a peer read marker touch the peer messages', () => {
    const { store, conv, b1, b2 } = readScenario();
    store.applyPeerRead(conv, b2.id, ME);
    assert.equal(store.getMessage(b1.id)?.state, 'delivered');
  });
});

describe('history around and after a message', () => {
  it('returns the message with half a page on either side, and pages forward without gaps', async () => {
    const { openStore } = await import('../../main/core/store/store.ts');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-around-'));
    try {
      const store = openStore(path.join(dir, 'db'));
      const self = 'A'.repeat(52);
      const peer = 'B'.repeat(52);
      const conv = store.ensureDirectConversation(self, peer);
      const ids = Array.from({ length: 100 }, (_, i) => `01JB8Z3Q4R5S6T7V8W9XY${String(i).padStart(5, '0')}`.replace(/[ILOU]/g, 'A'));
      store.insertOutgoing(ids.map((id, i) => ({ id, convId: conv.id, author: self, text: `m${i}`, ts: 1000 - i, peerId: peer })));
      const around = store.history(conv.id, { around: ids[50], limit: 10 });
      assert.deepEqual(around.map((m) => m.text), ['m45', 'm46', 'm47', 'm48', 'm49', 'm50', 'm51', 'm52', 'm53', 'm54']);
      const walked: string[] = [];
      let after = ids[0]!;
      for (;;) {
        const page = store.history(conv.id, { after, limit: 7 });
        if (page.length === 0) break;
        walked.push(...page.map((m) => m.text));
        after = page.at(-1)!.id;
      }
      assert.deepEqual(walked, Array.from({ length: 99 }, (_, i) => `m${i + 1}`));
      assert.deepEqual(store.history(conv.id, { around: 'nope', limit: 10 }), []);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
