// Groups between real nodes in one process: real TLS on loopback, real SQLite files. Events
// travel as gsync/gev frames; altered and forged events are made the way an attacker would:
// by editing a member's database, or by sending a crafted frame over a member's own link.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { decode, encode } from '@msgpack/msgpack';
import { monotonicFactory } from 'ulid';
import type { GroupWarning, MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { signAs } from '../helpers/groups.ts';
import { connect, fullHistory, node, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const running = new Set<ParleyNode>();
async function start(name: string, dir = tempDir()) {
  const n = await node(name, dir);
  running.add(n);
  return n;
}
async function stop(n: ParleyNode) {
  running.delete(n);
  await n.stop();
}
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
  removeTempDirs();
});

/** Links every pair (so each holds the others' certificates) and waits until all are linked. */
async function mesh(nodes: ParleyNode[]) {
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) await connect(nodes[i]!, nodes[j]!);
  for (const a of nodes) for (const b of nodes) if (a !== b) await waitFor(`${a.self.name} links to ${b.self.name}`, () => a.store.peerCertificate(b.self.id));
}

const texts = (h: MessageInfo[]) => h.filter((m) => !m.change).map((m) => m.text);
const order = (h: MessageInfo[]) => h.map((m) => m.id);

async function groupConv(n: ParleyNode, convId: string) {
  return waitFor(`${n.self.name} has the group`, async () => (await n.api.call('listConversations', {})).find((c) => c.id === convId));
}

function warnings(n: ParleyNode): GroupWarning[] {
  const got: GroupWarning[] = [];
  n.api.on('groupWarning', (w) => got.push(w));
  return got;
}

describe('groups', () => {
  it('a member offline while 200 messages were sent gets all of them, once each, in the same order, from the others after the author left', async () => {
    const dirD = tempDir();
    const [a, b, c] = [await start('alice'), await start('bob'), await start('carol')];
    let d = await start('dave', dirD);
    await mesh([a, b, c, d]);

    const group = await a.api.call('createGroup', { name: 'Team', members: [b.self.id, c.self.id, d.self.id] });
    assert.equal(group.kind, 'group');
    assert.deepEqual(group.group.members.map((m) => m.id), [a.self.id, b.self.id, c.self.id, d.self.id]);
    for (const n of [b, c, d]) await groupConv(n, group.id);

    await stop(d);
    for (let i = 1; i <= 200; i++) await a.api.call('send', { convId: group.id, text: `message ${i}` });
    const expected = Array.from({ length: 200 }, (_, i) => `message ${i + 1}`);
    for (const n of [b, c]) await waitFor(`${n.self.name} has all 200`, async () => texts(await fullHistory(n, group.id)).length === 200, 60_000);
    await stop(a);

    d = await start('dave', dirD);
    const seenByD = recorder(d);
    await waitFor('dave catches up from bob and carol', async () => texts(await fullHistory(d, group.id)).length >= 200, 60_000);
    await sleep(500); // duplicates from the second member would arrive now
    const historyD = await fullHistory(d, group.id);
    assert.deepEqual(texts(historyD), expected, 'all 200, each once, in the order sent');
    assert.deepEqual(order(historyD), order(await fullHistory(b, group.id)), 'the same order as bob');
    assert.deepEqual(order(historyD), order(await fullHistory(c, group.id)), 'the same order as carol');
    assert.equal(seenByD.arrivals.filter((m) => !m.change).length, 200, 'one message event per message');
    assert.ok(historyD.every((m) => m.author === a.self.id));
    const info = await d.api.call('listConversations', {}).then((all) => all.find((x) => x.id === group.id)!);
    assert.equal(info.unread, 201, '200 texts and the creation line');
    const read = await d.api.call('markRead', { convId: group.id, upTo: historyD[150]!.id });
    assert.equal(read.unread, 50, 'read markers work in a group as in a direct conversation');

    const hits = await d.api.call('search', { query: 'message 137' });
    assert.ok(hits.some((h) => h.message.convId === group.id && h.message.text === 'message 137'), 'group messages are searchable');
    await Promise.all([b, c, d].map(stop));
  });

  it('refuses an event a forwarding member altered, and one forged in another member\'s name, and reports both', async () => {
    const dirB = tempDir();
    const dirC = tempDir();
    const a = await start('alice');
    let b = await start('bob', dirB);
    let c = await start('carol', dirC);
    await mesh([a, b, c]);
    const group = await a.api.call('createGroup', { name: 'Audit', members: [b.self.id, c.self.id] });
    await groupConv(c, group.id);

    await stop(c);
    const original = await a.api.call('send', { convId: group.id, text: 'pay 100 to alice' });
    await waitFor('bob has it', async () => texts(await fullHistory(b, group.id)).includes('pay 100 to alice'));
    await stop(a);

    // Bob's database now forwards other bytes under Alice's signature.
    await stop(b);
    const db = new Database(path.join(dirB, 'parley.db'));
    const row = db.prepare('SELECT ev FROM group_events WHERE id = ?').get(original.id) as { ev: Buffer };
    const fields = decode(row.ev) as { body: { text: string } };
    fields.body.text = 'pay 999 to bob!!';
    db.prepare('UPDATE group_events SET ev = ? WHERE id = ?').run(encode(fields), original.id);
    db.close();

    b = await start('bob', dirB);
    c = await start('carol', dirC);
    const seenByC = warnings(c);
    await connect(c, b); // both restarted on new ports
    await waitFor('carol reports the altered event', () => seenByC.find((w) => w.reason === 'bad-signature'), 20_000);
    const altered = seenByC.find((w) => w.reason === 'bad-signature')!;
    assert.equal(altered.from, b.self.id, 'reported with the member that handed it over');
    assert.equal(altered.claimedAuthor, a.self.id);
    assert.equal(altered.convId, group.id);
    const historyC = await fullHistory(c, group.id);
    assert.ok(!historyC.some((m) => m.text.includes('pay')), 'neither version is shown');

    // Bob signs an event in Alice's name with his own key and sends it over his link to Carol.
    const link = await waitFor('bob links to carol', () => b.links.get(c.self.id));
    const forged = signAs(b.identity, {
      group: group.group.id,
      id: monotonicFactory()(),
      author: a.self.id,
      seq: 3,
      lamport: 10,
      ts: Date.now(),
      content: { kind: 'text', body: { text: 'alice says: trust bob' } },
    });
    const before = seenByC.length;
    link.send({ t: 'gev', group: group.group.id, evs: [forged], more: false });
    await waitFor('carol reports the forgery', () => seenByC.slice(before).find((w) => w.reason === 'bad-signature' && w.claimedAuthor === a.self.id));
    assert.ok(!texts(await fullHistory(c, group.id)).some((t) => t.includes('trust bob')));
    await Promise.all([b, c].map(stop));
  });

  it('a removed member receives nothing sent after its removal; membership changes are lines in every history', async () => {
    const dirC = tempDir();
    const [a, b, d] = [await start('alice'), await start('bob'), await start('dave')];
    let c = await start('carol', dirC);
    await mesh([a, b, c, d]);
    const group = await a.api.call('createGroup', { name: 'Plans', members: [b.self.id, c.self.id] });
    await groupConv(c, group.id);
    const seenByA = recorder(a);
    const before = await a.api.call('send', { convId: group.id, text: 'before' });
    assert.equal(before.state, 'sent');
    await waitFor('carol has "before"', async () => texts(await fullHistory(c, group.id)).includes('before'));
    await waitFor('alice sees "before" delivered once bob and carol acknowledged it', () => seenByA.byId.get(before.id)?.state === 'delivered');

    await a.api.call('removeGroupMember', { convId: group.id, peerId: c.self.id });
    await a.api.call('send', { convId: group.id, text: 'after' });
    // Bob answers once he has seen it, so his message orders after it everywhere.
    await waitFor('bob has "after"', async () => texts(await fullHistory(b, group.id)).includes('after'));
    await b.api.call('send', { convId: group.id, text: 'bob after' });
    await a.api.call('renameGroup', { convId: group.id, name: 'Plans (no carol)' });
    await a.api.call('addGroupMembers', { convId: group.id, members: [d.self.id] });
    await waitFor('dave joins with the whole history', async () => texts(await fullHistory(d, group.id)).includes('bob after'), 20_000);
    await waitFor('bob sees the rename', async () => (await groupConv(b, group.id)).title === 'Plans (no carol)');
    await waitFor('carol learns she was removed', async () => (await fullHistory(c, group.id)).some((m) => m.change?.kind === 'removed'));

    // A restart makes Carol ask every member for what she lacks: they still send her nothing.
    await stop(c);
    c = await start('carol', dirC);
    await waitFor('carol linked again', () => c.links.get(a.self.id) && c.links.get(b.self.id));
    await sleep(1000);
    const historyC = await fullHistory(c, group.id);
    assert.deepEqual(texts(historyC), ['before']);
    const infoC = (await c.api.call('listConversations', {})).find((x) => x.id === group.id)!;
    assert.equal(infoC.kind === 'group' && infoC.group.isMember, false);
    await assert.rejects(c.api.call('send', { convId: group.id, text: 'let me in' }), /not a member/);

    const lines = (h: MessageInfo[]) => h.filter((m) => m.change).map((m) => m.change!.kind);
    for (const n of [a, b, d]) {
      const h = await fullHistory(n, group.id);
      assert.deepEqual(texts(h), ['before', 'after', 'bob after'], n.self.name);
      assert.deepEqual(lines(h), ['created', 'removed', 'renamed', 'added'], n.self.name);
    }
    const removed = (await fullHistory(b, group.id)).find((m) => m.change?.kind === 'removed')!;
    assert.deepEqual(removed.change, { kind: 'removed', members: [c.self.id] });
    assert.equal(removed.author, a.self.id);

    await d.api.call('leaveGroup', { convId: group.id });
    await waitFor('alice sees dave leave', async () => (await groupConv(a, group.id)).kind === 'group' && !(await groupConv(a, group.id) as { group: { members: Array<{ id: string }> } }).group.members.some((m) => m.id === d.self.id));
  });

  it('keeps no group handed to someone its history does not name, and the members serve that someone nothing', async () => {
    const [a, b, stranger] = [await start('alice'), await start('bob'), await start('stranger')];
    await mesh([a, b, stranger]);
    const group = await a.api.call('createGroup', { name: 'Private', members: [b.self.id] });
    await a.api.call('send', { convId: group.id, text: 'secret' });
    const asked: string[] = [];
    a.links.on('frame', (link, f) => {
      if (f.t === 'gsync' && link.peerId === stranger.self.id) asked.push(f.group);
    });
    // Alice's create, pushed to someone it does not name, as a confused or hostile member might.
    const events = a.store.groupEvents(group.group.id);
    a.links.get(stranger.self.id)!.send({ t: 'gev', group: group.group.id, evs: events.slice(0, 1), more: false });
    a.links.get(stranger.self.id)!.send({ t: 'gev', group: group.group.id, evs: events.slice(1), more: false });
    // The text cannot be checked without the genesis it dropped, so the stranger asks Alice for
    // the history: by then it has judged both frames.
    await waitFor('the stranger asks alice for the history', () => asked.includes(group.group.id));
    await sleep(300); // Alice's answer, if she gave one, would be stored by now
    assert.equal(stranger.store.getGroup(group.group.id), undefined);
    assert.ok(!(await stranger.api.call('listConversations', {})).some((c) => c.id === group.id));
    assert.deepEqual(await stranger.api.call('search', { query: 'secret' }), []);
  });

  it('cannot add someone who has never linked to this node: their certificate is unknown', async () => {
    const a = await start('alice');
    const stranger = await start('stranger');
    await assert.rejects(a.api.call('createGroup', { name: 'x', members: [stranger.self.id] }), /certificate is unknown/);
  });
});
