// The store's side of groups (migration 0004): the author's exact bytes kept once, verdicts
// kept in step with the replica, group texts as ordinary history rows (paging, search, unread),
// and a schema-3 database upgraded without losing a row.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../main/core/store/db.ts';
import { migrations } from '../../main/core/store/migrations/index.ts';
import { openStore, groupConversationId, type Store } from '../../main/core/store/store.ts';
import { GroupReplica, type ReceiveResult } from '../../main/core/groups/replica.ts';
import { identities, member } from '../helpers/groups.ts';
import { BOB, closeStores, ME, removeTempDirs, tempDir, tempStore } from '../helpers/store.ts';

after(() => {
  closeStores();
  removeTempDirs();
});

function commit(store: Store, replica: GroupReplica, r: Pick<ReceiveResult, 'stored' | 'changed'>) {
  const s = replica.state();
  return store.commitGroup({
    groupId: replica.groupId,
    selfId: replica.self,
    state: { name: s.name, owner: s.owner, members: [...s.members.keys()], isMember: s.members.has(replica.self) },
    stored: r.stored,
    changed: r.changed,
  });
}

describe('group events in the store', () => {
  const [alice, bob, carol] = identities();

  it('keeps each event byte for byte, shows texts and membership lines as history rows, and restores the same replica', () => {
    const { store } = tempStore();
    const { replica, entry } = GroupReplica.create(alice!, { name: 'Team', members: [member(bob!)] });
    commit(store, replica, { stored: [entry], changed: [] });
    const sent = ['one', 'two', 'three'].map((text) => replica.compose(alice!, { kind: 'text', body: { text } }));
    const result = commit(store, replica, { stored: sent.map((s) => s.entry), changed: [] });
    assert.deepEqual(result.shown.map((r) => r.text), ['one', 'two', 'three']);
    assert.deepEqual(result.shown.map((r) => r.state), ['sent', 'sent', 'sent'], 'my own');

    const conv = groupConversationId(replica.groupId);
    assert.equal(store.getConversation(conv)?.kind, 'group');
    assert.equal(store.getConversation(conv)?.peerId, null);
    assert.deepEqual(store.history(conv, { limit: 10 }).map((r) => r.text), ['', 'one', 'two', 'three'], 'the creation line first, then the texts in group order');
    assert.deepEqual(store.search('two', 10).map((h) => h.message.convId), [conv]);
    assert.deepEqual(store.getGroup(replica.groupId), { ...store.getGroup(replica.groupId)!, name: 'Team', owner: alice!.id, isMember: true });

    const kept = store.groupEvents(replica.groupId);
    assert.equal(kept.length, 4);
    for (const [i, x] of replica.entries().entries()) {
      assert.deepEqual(Buffer.from(kept[i]!.ev), Buffer.from(x.signed.ev));
      assert.deepEqual(Buffer.from(kept[i]!.sig), Buffer.from(x.signed.sig));
    }
    const restored = GroupReplica.restore(replica.groupId, alice!.id, kept);
    assert.deepEqual(restored.entries().map((x) => x.e.id), replica.entries().map((x) => x.e.id));
    assert.deepEqual([...restored.vector()], [...replica.vector()]);
  });

  it('refuses to store the same event twice, so an event is kept once whoever sends it', () => {
    const { store } = tempStore();
    const { replica, entry } = GroupReplica.create(alice!, { name: 'T', members: [member(bob!)] });
    commit(store, replica, { stored: [entry], changed: [] });
    assert.throws(() => commit(store, replica, { stored: [entry], changed: [] }), /UNIQUE/);
    assert.equal(store.groupEvents(replica.groupId).length, 1, 'the failed transaction left nothing behind');
  });

  it('takes a text out of history when a removal arriving later voids it', () => {
    const { store } = tempStore();
    const { replica: a, entry } = GroupReplica.create(alice!, { name: 'T', members: [member(bob!), member(carol!)] });
    const c = new GroupReplica(a.groupId, carol!.id);
    commit(store, c, c.receive([entry.signed]));
    // Carol posts without having seen a removal Alice made at the same time (same lamport): the
    // removal sorts first because Alice's ID does (identities() are sorted), so the post is void.
    assert.ok(alice!.id < carol!.id);
    const post = c.compose(carol!, { kind: 'text', body: { text: 'still here' } });
    const removal = a.compose(alice!, { kind: 'remove', body: { ids: [carol!.id] } });
    const conv = groupConversationId(a.groupId);
    commit(store, c, { stored: [post.entry], changed: [] });
    assert.ok(store.history(conv, { limit: 10 }).some((r) => r.text === 'still here'));
    const r = c.receive([removal.signed]);
    const done = commit(store, c, r);
    assert.deepEqual(done.hidden, [post.entry.e.id]);
    assert.ok(!store.history(conv, { limit: 10 }).some((row) => row.text === 'still here'));
    assert.equal(store.getGroup(a.groupId)?.isMember, false);
  });
});

describe('migrating a schema-3 database to groups (0004)', () => {
  it('keeps conversations, messages, read markers and the search index, and lets a conversation be a group', () => {
    const file = path.join(tempDir(), 'parley.db');
    const db = openDatabase(file, migrations.slice(0, 3));
    db.prepare("INSERT INTO conversations (id, kind, peer_id, title, created_at, lamport, my_seq, read_upto) VALUES ('d:x', 'direct', ?, 'Bob', 1, 7, 3, 'R')").run(BOB);
    db.prepare("INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at) VALUES ('M1', 'd:x', ?, 1, 1, 1, 'quarterly numbers', 'delivered', 1)").run(BOB);
    db.prepare("INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at) VALUES ('M2', 'd:x', ?, 1, 2, 1, 'mine', 'pending', 1)").run(ME);
    db.prepare("INSERT INTO outbox (message_id, peer_id, enqueued_at) VALUES ('M2', ?, 1)").run(BOB);
    db.close();

    const store = openStore(file);
    try {
      const conv = store.getConversation('d:x')!;
      assert.deepEqual({ kind: conv.kind, peerId: conv.peerId, lamport: conv.lamport, mySeq: conv.mySeq, readUpTo: conv.readUpTo }, { kind: 'direct', peerId: BOB, lamport: 7, mySeq: 3, readUpTo: 'R' });
      assert.deepEqual(store.history('d:x', { limit: 10 }).map((m) => m.id), ['M1', 'M2']);
      assert.deepEqual(store.search('quarterly', 10).map((h) => h.message.id), ['M1']);
      assert.equal(store.outboxCount(BOB), 1);
      assert.deepEqual(store.listGroups(), []);
    } finally {
      store.close();
    }
    const raw = openDatabase(file);
    try {
      assert.deepEqual(raw.pragma('foreign_key_check'), []);
      assert.throws(() => raw.prepare("INSERT INTO conversations (id, kind, peer_id, title, created_at) VALUES ('d:y', 'direct', NULL, 't', 1)").run(), /CHECK/);
      assert.throws(() => raw.prepare("INSERT INTO conversations (id, kind, peer_id, title, created_at) VALUES ('g:y', 'group', ?, 't', 1)").run(BOB), /CHECK/);
      assert.throws(() => raw.prepare("INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at) VALUES ('M3', 'nowhere', ?, 1, 1, 1, 'x', 'delivered', 1)").run(BOB), /FOREIGN KEY/);
    } finally {
      raw.close();
    }
  });
});
