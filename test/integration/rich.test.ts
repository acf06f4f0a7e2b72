// Replies, edits, deletions, reactions, @mentions and broadcasts between real nodes: real TLS
// on loopback, real SQLite files. A hostile peer is played by sending crafted frames over its
// own link (or composing through its node's internals), never by mocking.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { monotonicFactory } from 'ulid';
import type { BroadcastInfo, MessageInfo } from '../../main/contract/contract.ts';
import type { GroupContent } from '../../main/core/groups/group-message.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { encodeFrame, FrameDecoder } from '../../main/core/protocol/codec.ts';
import { ALPN, CAPABILITIES, PROTOCOL_VERSION, type Frame } from '../../main/core/protocol/frames.ts';
import { connect, fullHistory, nodePool, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const { start, stop, stopAll } = nodePool();
after(async () => {
  await stopAll();
  removeTempDirs();
});
const newId = monotonicFactory();

async function pair() {
  const alice = await start('alice');
  const bob = await start('bob');
  const conv = await connect(alice, bob);
  await bob.api.call('openConversation', { peerId: alice.self.id });
  await waitFor('linked', () => alice.links.get(bob.self.id) && bob.links.get(alice.self.id));
  return { alice, bob, conv };
}

async function lineOf(n: ParleyNode, convId: string, id: string): Promise<MessageInfo | undefined> {
  return (await fullHistory(n, convId)).find((m) => m.id === id);
}

async function delivered(n: ParleyNode, convId: string, id: string) {
  return waitFor('delivered', async () => ['delivered', 'read'].includes((await lineOf(n, convId, id))?.state ?? ''));
}

/** Links every pair (so each holds the others' certificates). */
async function mesh(nodes: ParleyNode[]) {
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) await connect(nodes[i]!, nodes[j]!);
  for (const a of nodes) for (const b of nodes) if (a !== b) await waitFor(`${a.self.name} links to ${b.self.name}`, () => a.store.peerCertificate(b.self.id) && a.links.get(b.self.id));
}

describe('rich messages in a direct conversation', () => {
  it('a reply shows the quoted excerpt on both sides', async () => {
    const { alice, bob, conv } = await pair();
    const long = `${'🙂'.repeat(150)} tail`;
    const q = await bob.api.call('send', { convId: conv, text: long });
    await waitFor('alice has it', () => lineOf(alice, conv, q.id));
    const seenByBob = recorder(bob);
    const r = await alice.api.call('send', { convId: conv, text: 'agreed', replyTo: q.id });
    assert.deepEqual(r.replyTo, { id: q.id, author: bob.self.id, excerpt: '🙂'.repeat(140) }, 'at most 140 code points, emoji counted as one');
    const atBob = await waitFor('bob receives the reply', () => seenByBob.arrivals.find((m) => m.id === r.id));
    assert.deepEqual(atBob.replyTo, r.replyTo);
    assert.deepEqual((await lineOf(bob, conv, r.id))?.replyTo, r.replyTo, 'history says the same');
    await assert.rejects(alice.api.call('send', { convId: conv, text: 'x', replyTo: newId() }), /replyTo/);
  });

  it('an edit updates both sides, history and search, and keeps "edited"; only the author may edit', async () => {
    const { alice, bob, conv } = await pair();
    const m = await alice.api.call('send', { convId: conv, text: 'meeting at tree o clock' });
    await delivered(alice, conv, m.id);
    const seenByBob = recorder(bob);
    const edited = await alice.api.call('editMessage', { messageId: m.id, text: 'meeting at three o clock' });
    assert.equal(edited.text, 'meeting at three o clock');
    assert.equal(typeof edited.editedAt, 'number');
    const atBob = await waitFor('bob is told the message changed', () => seenByBob.changes.find((x) => x.id === m.id && x.editedAt));
    assert.equal(atBob.text, 'meeting at three o clock');
    assert.equal(seenByBob.arrivals.length, 0, 'neither the edit nor the edited message is a new message');
    for (const n of [alice, bob]) {
      const h = await fullHistory(n, conv);
      assert.deepEqual(h.map((x) => x.text), ['meeting at three o clock'], `${n.self.name}: one line, edited`);
      assert.equal(h[0]!.editedAt, edited.editedAt);
      assert.deepEqual((await n.api.call('search', { query: 'three', limit: 10 })).map((x) => x.message.id), [m.id]);
      assert.deepEqual(await n.api.call('search', { query: 'tree', limit: 10 }), []);
    }
    const bobConv = (await bob.api.call('listConversations', {})).find((c) => c.id === conv)!;
    assert.equal(bobConv.unread, 1, 'the edit is not an unread message');
    assert.equal(bobConv.lastMessage?.text, 'meeting at three o clock');
    await assert.rejects(bob.api.call('editMessage', { messageId: m.id, text: 'mine now' }), /only its author/);
  });

  it('refuses a peer\'s edit or deletion of my message with nack "invalid", changing nothing', async () => {
    const { alice, bob, conv } = await pair();
    const m = await alice.api.call('send', { convId: conv, text: 'my words' });
    await delivered(alice, conv, m.id);
    const link = bob.links.get(alice.self.id)!;
    const nacks: string[] = [];
    link.on('frame', (f) => {
      if (f.t === 'nack' && f.code === 'invalid') nacks.push(f.id);
    });
    const forged = (seq: number, op: Extract<Frame, { t: 'msg' }>['body']['op']): Extract<Frame, { t: 'msg' }> => ({
      t: 'msg',
      id: newId(),
      conv,
      author: bob.self.id,
      seq,
      lamport: 100 + seq,
      ts: Date.now(),
      body: { text: '', op },
    });
    const edit = forged(1000, { k: 'edit', target: m.id, text: 'bob was here' });
    const del = forged(1001, { k: 'delete', target: m.id });
    link.send(edit);
    link.send(del);
    await waitFor('alice refuses both', () => nacks.includes(edit.id) && nacks.includes(del.id));
    const line = await lineOf(alice, conv, m.id);
    assert.equal(line?.text, 'my words');
    assert.equal(line?.editedAt, undefined);
    assert.equal(line?.deleted, undefined);
    assert.equal(alice.store.getMessage(edit.id), undefined, 'not stored');
  });

  it('a deletion leaves a deleted line on both sides, also after a restart', async () => {
    const dirA = tempDir();
    const dirB = tempDir();
    let alice = await start('alice', dirA);
    let bob = await start('bob', dirB);
    const conv = await connect(alice, bob);
    const m = await alice.api.call('send', { convId: conv, text: 'the wrong chat, sorry' });
    const keep = await alice.api.call('send', { convId: conv, text: 'this one stays' });
    await delivered(alice, conv, keep.id);
    const seenByBob = recorder(bob);
    const d = await alice.api.call('deleteMessage', { messageId: m.id });
    assert.equal(d.deleted, true);
    assert.equal(d.text, '');
    await waitFor('bob sees it deleted', () => seenByBob.byId.get(m.id)?.deleted);
    await stop(alice);
    await stop(bob);
    alice = await start('alice', dirA);
    bob = await start('bob', dirB);
    for (const n of [alice, bob]) {
      const h = await fullHistory(n, conv);
      assert.deepEqual(h.map((x) => [x.text, x.deleted ?? false]), [['', true], ['this one stays', false]], `${n.self.name} after restart`);
      assert.deepEqual(await n.api.call('search', { query: 'wrong', limit: 10 }), []);
    }
    await assert.rejects(alice.api.call('editMessage', { messageId: m.id, text: 'back' }), /deleted/);
  });

  it('reactions add and remove per emoji, from both sides, seen by both', async () => {
    const { alice, bob, conv } = await pair();
    const m = await alice.api.call('send', { convId: conv, text: 'cake in the kitchen' });
    await delivered(alice, conv, m.id);
    const seenByAlice = recorder(alice);
    const seenByBob = recorder(bob);
    await bob.api.call('react', { messageId: m.id, emoji: '🎂', on: true });
    await alice.api.call('react', { messageId: m.id, emoji: '🎂', on: true });
    const r = await bob.api.call('react', { messageId: m.id, emoji: '👍', on: true });
    assert.deepEqual(r.reactions?.map((x) => x.emoji), ['🎂', '👍']);
    const want = (self: ParleyNode) => [
      { emoji: '🎂', by: [bob.self.id, alice.self.id].sort(), mine: true },
      { emoji: '👍', by: [bob.self.id], mine: self === bob },
    ];
    const norm = (m?: MessageInfo) => m?.reactions?.map((x) => ({ ...x, by: [...x.by].sort() }));
    await waitFor('alice sees all three', () => JSON.stringify(norm(seenByAlice.byId.get(m.id))) === JSON.stringify(want(alice)));
    await waitFor('bob sees all three', () => JSON.stringify(norm(seenByBob.byId.get(m.id))) === JSON.stringify(want(bob)));
    await bob.api.call('react', { messageId: m.id, emoji: '🎂', on: false });
    await waitFor('alice sees bob take his cake back', () => JSON.stringify(seenByAlice.byId.get(m.id)?.reactions) === JSON.stringify([
      { emoji: '🎂', by: [alice.self.id], mine: true },
      { emoji: '👍', by: [bob.self.id], mine: false },
    ]));
    assert.deepEqual((await lineOf(alice, conv, m.id))?.reactions, seenByAlice.byId.get(m.id)?.reactions, 'history agrees');
    assert.equal((await fullHistory(bob, conv)).length, 1, 'no reaction is a line');
    await assert.rejects(alice.api.call('react', { messageId: m.id, emoji: 'no', on: true }), /emoji/);
  });

  it('holds ops for a peer whose build lacks rich/1: refused while it is linked, sent once it upgrades', async () => {
    const dirB = tempDir();
    const alice = await start('alice');
    let bob = await start('bob', dirB);
    const conv = await connect(alice, bob);
    await bob.api.call('openConversation', { peerId: alice.self.id });
    const m = await bob.api.call('send', { convId: conv, text: 'from the old days' });
    await waitFor('alice has it', () => lineOf(alice, conv, m.id));
    const bobIdentity = bob.identity;
    await stop(bob);
    await waitFor('link gone', () => !alice.links.get(bobIdentity.id));

    // Bob's identity, speaking as an older build: no rich/1 in its Hello.
    const oldCaps = CAPABILITIES.filter((c) => c !== 'rich/1' && c !== 'files/1');
    const got: Frame[] = [];
    const oldBuild = async () => {
      const s = tls.connect({ host: '127.0.0.1', port: alice.self.port, key: bobIdentity.keyPem, cert: bobIdentity.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
      s.on('error', () => undefined);
      await new Promise((r) => s.once('secureConnect', r));
      const decoder = new FrameDecoder();
      s.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
      s.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, min: 1, id: bobIdentity.id, name: 'bob', presence: 'online', statusText: '', caps: oldCaps, instance: `old-build-${got.length}` }));
      await waitFor('old bob linked', () => alice.links.get(bobIdentity.id)?.isUp);
      return s;
    };
    let s = await oldBuild();
    await assert.rejects(alice.api.call('react', { messageId: m.id, emoji: '👍', on: true }), /too old/);
    s.destroy();
    await waitFor('old bob gone', () => !alice.links.get(bobIdentity.id));

    // Offline: accepted and kept; applied to alice's own copy at once.
    const r = await alice.api.call('react', { messageId: m.id, emoji: '👍', on: true });
    assert.deepEqual(r.reactions, [{ emoji: '👍', by: [alice.self.id], mine: true }]);
    const later = await alice.api.call('send', { convId: conv, text: 'are you there?' });

    // The old build comes back: it gets the text queued after the op, never the op.
    s = await oldBuild();
    await waitFor('the old build gets the later text', () => got.some((f) => f.t === 'msg' && f.id === later.id));
    s.destroy();
    await waitFor('old bob gone again', () => !alice.links.get(bobIdentity.id));
    assert.ok(got.some((f) => f.t === 'msg'), 'the old build was sent messages');

    bob = await start('bob', dirB);
    await waitFor('the upgraded bob gets the reaction', async () => (await lineOf(bob, conv, m.id))?.reactions?.[0]?.emoji === '👍');
    assert.ok(!got.some((f) => f.t === 'msg' && f.body.op), 'the old build was never sent an op');
  });
});

describe('rich messages in a group of three', () => {
  it('replies, mentions, edits, deletions and reactions reach everyone; a forged edit of another member\'s message changes nothing', async () => {
    const [a, b, c] = [await start('alice'), await start('bob'), await start('carol')];
    await mesh([a, b, c]);
    const group = await a.api.call('createGroup', { name: 'Lunch', members: [b.self.id, c.self.id] });
    for (const n of [b, c]) await waitFor(`${n.self.name} has the group`, async () => (await n.api.call('listConversations', {})).some((x) => x.id === group.id));
    const seen = new Map([a, b, c].map((n) => [n, recorder(n)]));
    const everywhere = (what: string, id: string, ok: (m: MessageInfo) => unknown) =>
      Promise.all([a, b, c].map((n) => waitFor(`${n.self.name}: ${what}`, async () => ok((await lineOf(n, group.id, id))!))));

    const q = await a.api.call('send', { convId: group.id, text: 'pizza or sushi?', mentions: [c.self.id] });
    assert.deepEqual(q.mentions, [c.self.id]);
    assert.equal(q.mentionsMe, undefined);
    await everywhere('has the question', q.id, (m) => m?.text === 'pizza or sushi?');
    assert.equal((await lineOf(c, group.id, q.id))?.mentionsMe, true, 'carol is mentioned');
    assert.equal((await lineOf(b, group.id, q.id))?.mentionsMe, undefined, 'bob is not');
    await assert.rejects(a.api.call('send', { convId: group.id, text: 'x', mentions: ['Q'.repeat(52)] }), /not a member/);

    const reply = await b.api.call('send', { convId: group.id, text: 'sushi', replyTo: q.id });
    await everywhere('has the reply with its quote', reply.id, (m) => m?.replyTo?.excerpt === 'pizza or sushi?' && m.replyTo.author === a.self.id);

    await a.api.call('editMessage', { messageId: q.id, text: 'pizza, sushi or ramen?' });
    await everywhere('sees the edit', q.id, (m) => m?.text === 'pizza, sushi or ramen?' && m.editedAt);
    await everywhere('quotes the edited text', reply.id, (m) => m?.replyTo?.excerpt === 'pizza, sushi or ramen?');

    await c.api.call('react', { messageId: reply.id, emoji: '🍣', on: true });
    await a.api.call('react', { messageId: reply.id, emoji: '🍣', on: true });
    await everywhere('sees two sushi votes', reply.id, (m) => m?.reactions?.length === 1 && m.reactions[0]!.by.length === 2);
    assert.equal((await lineOf(b, group.id, reply.id))?.reactions?.[0]?.mine, false);
    assert.equal((await lineOf(c, group.id, reply.id))?.reactions?.[0]?.mine, true);

    // Bob's node, changed to skip the author check: a signed edit of alice's message.
    await assert.rejects(b.api.call('editMessage', { messageId: q.id, text: 'bob decides: kebab' }), /only its author/);
    const forge = (b.groups as unknown as { compose(convId: string, content: GroupContent): unknown }).compose.bind(b.groups);
    forge(group.id, { kind: 'edit', body: { target: q.id, text: 'bob decides: kebab' } });
    forge(group.id, { kind: 'delete', body: { target: q.id } });
    const marker = await b.api.call('send', { convId: group.id, text: 'after the forgery' });
    await everywhere('has the later message', marker.id, (m) => m);
    for (const n of [a, b, c]) {
      const line = await lineOf(n, group.id, q.id);
      assert.equal(line?.text, 'pizza, sushi or ramen?', `${n.self.name} ignored bob's edit`);
      assert.equal(line?.deleted, undefined, `${n.self.name} ignored bob's deletion`);
    }

    await a.api.call('deleteMessage', { messageId: q.id });
    await everywhere('sees the deletion', q.id, (m) => m?.deleted && m.text === '');
    await everywhere('quotes a deleted message as deleted', reply.id, (m) => m?.replyTo?.deleted);
    for (const n of [a, b, c]) {
      const texts = (await fullHistory(n, group.id)).filter((m) => !m.change).map((m) => m.text);
      assert.deepEqual(texts, ['', 'sushi', 'after the forgery'], `${n.self.name}: no op is a line`);
      assert.ok(![...seen.get(n)!.byId.values()].some((m) => m.text === 'bob decides: kebab'));
    }
  });
});

describe('broadcast', () => {
  it('sends one marked message to each of three visible peers; the states go to delivered; a restart keeps it', async () => {
    const dirA = tempDir();
    let a = await start('alice', dirA);
    const others = [await start('bob'), await start('carol'), await start('dave')];
    for (const o of others) await connect(a, o);
    for (const o of others) await waitFor('linked', () => a.links.get(o.self.id));
    const offline = await start('erin');
    await connect(a, offline);
    await waitFor('erin linked', () => a.links.get(offline.self.id));
    await stop(offline);
    await waitFor('erin offline', async () => (await a.api.call('listPeers', {})).find((p) => p.id === offline.self.id)?.presence === 'offline');

    const updates: BroadcastInfo[] = [];
    a.api.on('broadcast', (b) => updates.push(b));
    const seen = others.map((o) => recorder(o));
    const b = await a.api.call('broadcast', { text: 'fire drill at 3' });
    assert.deepEqual(b.recipients.map((r) => r.peerId).sort(), others.map((o) => o.self.id).sort(), 'the three visible peers, not erin, not me');
    assert.equal(new Set(b.recipients.map((r) => r.messageId)).size, 3);
    for (const [i, o] of others.entries()) {
      const got = await waitFor(`${o.self.name} receives it`, () => seen[i]!.arrivals.find((m) => m.text === 'fire drill at 3'));
      assert.equal(got.broadcast, true);
      assert.equal(seen[i]!.arrivals.filter((m) => m.text === 'fire drill at 3').length, 1);
      assert.equal(got.id, b.recipients.find((r) => r.peerId === o.self.id)!.messageId);
    }
    await waitFor('every state delivered', () => updates.at(-1)?.recipients.every((r) => r.state === 'delivered'));
    assert.ok(updates.every((u) => u.id === b.id));
    const listed = await a.api.call('listBroadcasts', {});
    assert.equal(listed[0]!.id, b.id);
    assert.ok(listed[0]!.recipients.every((r) => r.state === 'delivered'));

    await stop(a);
    a = await start('alice', dirA);
    const after = await a.api.call('listBroadcasts', {});
    assert.deepEqual(after, listed, 'kept across a restart');
    const conv = (await a.api.call('listConversations', {})).find((x) => x.kind === 'direct' && x.peerId === others[0]!.self.id)!;
    assert.equal(conv.lastMessage?.broadcast, true);
    await sleep(0);
  });
});
