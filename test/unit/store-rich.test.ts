// The store's side of richer messages (migration 0005): ops (edit, delete, react) are message
// rows that never show as lines; their effect is folded into the target when they are stored,
// or when the target arrives after them; only a message's author may edit or delete it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GroupReplica, type ReceiveResult } from '../../main/core/groups/replica.ts';
import { MAX_REACTION_EMOJIS } from '../../main/core/store/rich.ts';
import { groupConversationId, type MsgFrameLike, type Store } from '../../main/core/store/store.ts';
import { identities, member } from '../helpers/groups.ts';
import { BOB, closeStores, frame, ME, newId, removeTempDirs, tempStore } from '../helpers/store.ts';

after(() => {
  closeStores();
  removeTempDirs();
});

function direct(store: Store) {
  return store.ensureDirectConversation(ME, BOB).id;
}

function op(convId: string, author: string, seq: number, lamport: number, o: NonNullable<MsgFrameLike['body']['op']>): MsgFrameLike {
  return { ...frame(convId, author, seq, lamport, ''), body: { text: '', op: o } };
}

const lines = (store: Store, convId: string) => store.history(convId, { limit: 100 });

describe('ops in a direct conversation', () => {
  it('an edit replaces the text (and the search index) and is not a line, an unread message or the last message', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const hello = frame(conv, BOB, 1, 1, 'helo wrold');
    store.insertIncoming([hello]);
    const done = store.insertIncomingRich([op(conv, BOB, 2, 2, { k: 'edit', target: hello.id, text: 'hello world' })]);
    assert.deepEqual(done.outcomes, ['stored']);
    assert.deepEqual(done.touched, [hello.id]);
    const h = lines(store, conv);
    assert.equal(h.length, 1, 'the op is no line');
    assert.equal(h[0]!.text, 'hello world');
    assert.equal(h[0]!.editedAt, 1_700_000_000_002, "the edit's author clock");
    assert.equal(store.unreadCount(conv, ME), 1);
    assert.equal(store.listConversations(ME)[0]!.last?.id, hello.id);
    assert.deepEqual(store.search('hello', 10).map((x) => x.message.id), [hello.id]);
    assert.deepEqual(store.search('wrold', 10), [], 'the old text left the index');
  });

  it('refuses an edit or deletion of a message by someone else, without storing it; reactions come from either side', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const [mine] = store.insertOutgoing([{ id: newId(), convId: conv, author: ME, text: 'my words', ts: 1, peerId: BOB }]);
    const edit = op(conv, BOB, 1, 5, { k: 'edit', target: mine!.id, text: 'your words' });
    const del = op(conv, BOB, 2, 6, { k: 'delete', target: mine!.id });
    const react = op(conv, BOB, 3, 7, { k: 'react', target: mine!.id, emoji: '👍', on: true });
    assert.deepEqual(store.insertIncoming([edit, del, react]), ['invalid', 'invalid', 'stored']);
    assert.equal(store.getMessage(edit.id), undefined, 'a refused op is not kept');
    assert.equal(store.getMessage(mine!.id)!.text, 'my words');
    assert.deepEqual(store.rich.reactions(mine!.id), [{ emoji: '👍', by: [BOB] }]);
    assert.deepEqual(store.insertIncoming([edit]), ['invalid'], 'refused again when resent');
  });

  it('folds reactions per emoji and person, in order of first use; on/off is idempotent', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const m = frame(conv, BOB, 1, 1, 'lunch?');
    store.insertIncoming([m]);
    const mine = (emoji: string, on: boolean) =>
      store.insertOutgoingRich([{ id: newId(), convId: conv, author: ME, text: '', ts: 2, peerId: BOB, rich: { op: { k: 'react', target: m.id, emoji, on } } }]);
    mine('🍕', true);
    store.insertIncoming([op(conv, BOB, 2, 3, { k: 'react', target: m.id, emoji: '👍', on: true })]);
    mine('👍', true);
    mine('👍', true);
    assert.deepEqual(store.rich.reactions(m.id), [
      { emoji: '🍕', by: [ME] },
      { emoji: '👍', by: [BOB, ME] },
    ]);
    mine('🍕', false);
    assert.deepEqual(store.rich.reactions(m.id), [{ emoji: '👍', by: [BOB, ME] }]);
    assert.equal(lines(store, conv).length, 1);

    // A peer cannot grow one message's reactions without bound.
    const flood = Array.from({ length: MAX_REACTION_EMOJIS + 10 }, (_, i) => op(conv, BOB, 10 + i, 10 + i, { k: 'react', target: m.id, emoji: `e${i}`, on: true }));
    assert.ok(store.insertIncoming(flood).every((o) => o === 'stored'));
    assert.equal(store.rich.reactions(m.id).length, MAX_REACTION_EMOJIS);
  });

  it('a deletion empties the text, drops reactions and mentions, and later edits are without effect', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const m = frame(conv, BOB, 1, 1, 'oops secret');
    store.insertIncoming([m]);
    store.insertIncoming([op(conv, BOB, 2, 2, { k: 'react', target: m.id, emoji: '😮', on: true })]);
    store.insertIncoming([op(conv, BOB, 3, 3, { k: 'delete', target: m.id })]);
    const edit = op(conv, BOB, 4, 4, { k: 'edit', target: m.id, text: 'back' });
    assert.deepEqual(store.insertIncomingRich([edit]).touched, []);
    const row = store.getMessage(m.id)!;
    assert.equal(row.text, '');
    assert.equal(row.deleted, 1);
    assert.deepEqual(store.rich.reactions(m.id), []);
    assert.deepEqual(store.search('secret', 10), []);
    assert.equal(lines(store, conv).length, 1, 'the deleted line stays');
  });

  it('keeps an op that arrives before its target and applies it when the target arrives, in order', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const target = frame(conv, BOB, 1, 1, 'first draft');
    const edit1 = op(conv, BOB, 2, 2, { k: 'edit', target: target.id, text: 'second draft' });
    const edit2 = op(conv, BOB, 3, 3, { k: 'edit', target: target.id, text: 'final' });
    assert.deepEqual(store.insertIncomingRich([edit1, edit2]).touched, [], 'nothing to change yet');
    assert.deepEqual(lines(store, conv), []);
    const done = store.insertIncomingRich([target]);
    assert.deepEqual(done.touched, [target.id]);
    assert.equal(store.getMessage(target.id)!.text, 'final');
    // A resend of the original after it was edited is still a duplicate, not a conflict.
    assert.deepEqual(store.insertIncoming([target]), ['duplicate']);
  });

  it('drops a waiting edit that turns out to name another author\'s message', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const target = frame(conv, ME, 1, 1, 'mine');
    const forged = op(conv, BOB, 1, 2, { k: 'edit', target: target.id, text: 'theirs' });
    store.insertIncoming([forged]);
    // My own message, arriving the way a restored backup might replay it.
    const done = store.insertIncomingRich([target]);
    assert.deepEqual(done.refused, [forged.id]);
    assert.equal(store.getMessage(target.id)!.text, 'mine');
    assert.equal(store.getMessage(forged.id), undefined);
  });

  it('keeps replies, broadcasts and their content equality for resends', () => {
    const { store } = tempStore();
    const conv = direct(store);
    const q = frame(conv, BOB, 1, 1, 'question');
    const a = { ...frame(conv, BOB, 2, 2, 'answer'), body: { text: 'answer', replyTo: q.id, broadcast: true } };
    const after = frame(conv, BOB, 3, 3, 'plain again');
    assert.deepEqual(store.insertIncoming([q, a, after]), ['stored', 'stored', 'stored']);
    const row = store.getMessage(a.id)!;
    assert.ok(store.getMessage(q.id)!.rowid < row.rowid && row.rowid < store.getMessage(after.id)!.rowid, 'stored in arrival order across plain and rich rows');
    assert.equal(row.replyTo, q.id);
    assert.equal(row.broadcast, 1);
    assert.deepEqual(store.insertIncoming([a]), ['duplicate']);
    assert.deepEqual(store.insertIncoming([{ ...a, body: { text: 'answer', replyTo: q.id } }]), ['conflict'], 'the same ID without the mark is another message');
  });
});

describe('ops in a group', () => {
  const [alice, bob, carol] = identities();

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

  it('folds edit, delete and react events, refuses an edit of another member\'s message, and applies an op stored before its target', () => {
    const { store } = tempStore();
    const { replica: a, entry } = GroupReplica.create(alice!, { name: 'Team', members: [member(bob!), member(carol!)] });
    const b = new GroupReplica(a.groupId, bob!.id);
    b.receive([entry.signed], alice!.id);
    commit(store, b, { stored: [...b.entries()], changed: [] });
    const conv = groupConversationId(a.groupId);

    const hi = a.compose(alice!, { kind: 'text', body: { text: 'hi all', mentions: [bob!.id] } });
    const edit = a.compose(alice!, { kind: 'edit', body: { target: hi.entry.e.id, text: 'hi everyone' } });
    // The edit reaches bob before the text (another member forwarded it first); the replica
    // holds it until the author's earlier seq arrives, but the store must cope either way.
    const r1 = commit(store, b, { stored: [edit.entry], changed: [] });
    assert.deepEqual(r1.shown, [], 'an op is never a line');
    const r2 = commit(store, b, { stored: [hi.entry], changed: [] });
    assert.deepEqual(r2.shown.map((r) => r.id), [hi.entry.e.id]);
    assert.deepEqual(r2.touched, [hi.entry.e.id]);
    const row = store.getMessage(hi.entry.e.id)!;
    assert.equal(row.text, 'hi everyone');
    assert.equal(row.mentions, JSON.stringify([bob!.id]));

    const forged = b.compose(bob!, { kind: 'edit', body: { target: hi.entry.e.id, text: 'bob was here' } });
    const r3 = commit(store, b, { stored: [forged.entry], changed: [] });
    assert.deepEqual(r3.touched, []);
    assert.deepEqual(r3.refusedOps.map((x) => x.id), [forged.entry.e.id]);
    assert.equal(store.getMessage(hi.entry.e.id)!.text, 'hi everyone');

    const react = b.compose(bob!, { kind: 'react', body: { target: hi.entry.e.id, emoji: '👋', on: true } });
    assert.deepEqual(commit(store, b, { stored: [react.entry], changed: [] }).touched, [hi.entry.e.id]);
    assert.deepEqual(store.rich.reactions(hi.entry.e.id), [{ emoji: '👋', by: [bob!.id] }]);

    const del = a.compose(alice!, { kind: 'delete', body: { target: hi.entry.e.id } });
    commit(store, b, { stored: [del.entry], changed: [] });
    assert.equal(store.getMessage(hi.entry.e.id)!.deleted, 1);
    assert.deepEqual(store.history(conv, { limit: 10 }).map((r) => r.text), ['', ''], 'the creation line and the deleted line; no op rows');
    assert.equal(store.unreadCount(conv, bob!.id), 2);
  });
});
