// Group replicas catching up from each other: every member ends up with the same events in the
// same order, from whichever members are online; forged and altered events are refused and
// reported; a removed member is sent nothing ordered after its removal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import type { PeerId } from '../../main/contract/contract.ts';
import { compareKeys, GroupEventError, MAX_EVENT_BYTES, signEvent, type SignedEvent } from '../../main/core/groups/group-message.ts';
import { GroupError, GroupReplica, MAX_PENDING, type ReceiveResult } from '../../main/core/groups/replica.ts';
import { covers, GroupEventsFrame, GroupSyncFrame, SYNC_BATCH, vectorFromWire, vectorToWire } from '../../main/core/groups/sync.ts';
import type { Identity } from '../../main/core/identity/identity.ts';
import { MAX_FRAME_BYTES } from '../../main/core/protocol/frames.ts';
import { alter, identities, member, order, signAs, sync, texts } from '../helpers/groups.ts';

const [p0, p1, p2, p3, p4] = identities() as [Identity, Identity, Identity, Identity, Identity];

/** A group founded by `owner` with `others`, every replica holding the genesis. */
function group(owner: Identity, others: Identity[]): { owner: GroupReplica; replicas: GroupReplica[]; genesis: SignedEvent } {
  const { replica, signed } = GroupReplica.create(owner, { name: 'Team', members: others.map(member) });
  const replicas = others.map((o) => {
    const r = new GroupReplica(replica.groupId, o.id);
    assert.equal(r.receive([signed], owner.id).stored.length, 1);
    return r;
  });
  return { owner: replica, replicas, genesis: signed };
}

/** A live send: the author's event to each of its recipients that is online. */
function send(author: GroupReplica, sent: { signed: SignedEvent; recipients: PeerId[] }, online: GroupReplica[]): void {
  for (const r of online) if (sent.recipients.includes(r.self)) r.receive([sent.signed], author.self);
}

const storedIds = (results: ReceiveResult[]) => results.flatMap((r) => r.stored.map((x) => x.e.id));

describe('groups: catch-up from other members', () => {
  it('a member offline for 200 messages gets all of them exactly once, in everyone’s order, from the others after the author left', () => {
    const [A, B, C, D] = [p0, p1, p2, p3];
    const { owner: a, replicas } = group(A, [B, C, D]);
    const [b, c, d] = replicas as [GroupReplica, GroupReplica, GroupReplica];
    // D is offline. A sends 200 messages; B and C answer now and then. C's link to A breaks
    // after A's 120th message, so C misses A's last 80 live.
    for (let i = 1; i <= 200; i++) {
      send(a, a.compose(A, { kind: 'text', body: { text: `A ${i}` } }), i <= 120 ? [b, c] : [b]);
      if (i % 40 === 0) send(b, b.compose(B, { kind: 'text', body: { text: `B after ${i}` } }), i <= 120 ? [a, c] : [a]);
      if (i % 50 === 0 && i <= 120) send(c, c.compose(C, { kind: 'text', body: { text: `C after ${i}` } }), [a, b]);
    }
    sync(b, c); // C catches up from B
    assert.deepEqual(order(c), order(a));
    // A goes offline for good. D comes back and asks B and C at once, in small batches, each
    // answering from the same vector, so their batches overlap.
    const from = new Map<PeerId, number>();
    const results: ReceiveResult[] = [];
    for (let round = 0, more = true; more; round++) {
      more = false;
      const asked = d.vector();
      // Whose answer lands first varies, as it would over two links.
      for (const peer of round % 2 ? [c, b] : [b, c]) {
        const batch = peer.select(D.id, asked, { maxEvents: 16, maxBytes: SYNC_BATCH.maxBytes });
        assert.ok(batch.events.length <= 16);
        if (batch.events.length === 0) continue;
        const r = d.receive(batch.events, peer.self);
        assert.deepEqual(r.refused, []);
        results.push(r);
        from.set(peer.self, (from.get(peer.self) ?? 0) + r.stored.length);
        more ||= batch.more;
      }
    }
    const got = storedIds(results);
    const fromA = got.filter((id) => a.get(id)!.e.author === A.id);
    assert.equal(fromA.length, 200);
    assert.equal(new Set(got).size, got.length, 'nothing stored twice');
    assert.ok(results.reduce((n, r) => n + r.duplicates, 0) > 0, 'the overlap was there, and was recognised as duplicates');
    assert.ok(from.get(B.id)! > 0 && from.get(C.id)! > 0, 'both members served');
    assert.deepEqual(order(d), order(a));
    assert.deepEqual(order(d), order(b));
    assert.deepEqual(order(d), order(c));
    assert.deepEqual(texts(d).filter((t) => t.startsWith('A ')), Array.from({ length: 200 }, (_, i) => `A ${i + 1}`));
    assert.deepEqual(d.vector(), a.vector());
    assert.ok(covers(d.vector(), b.vector()) && covers(d.vector(), c.vector()));
    assert.equal(d.waiting(), 0);
  });

  it('a member added later gets the whole history from any member; a stranger gets nothing', () => {
    const [A, B, C, E] = [p0, p1, p2, p4];
    const { owner: a, replicas } = group(A, [B, C]);
    const [b] = replicas as [GroupReplica];
    for (let i = 0; i < 5; i++) send(a, a.compose(A, { kind: 'text', body: { text: `before ${i}` } }), [b]);
    const added = a.compose(A, { kind: 'add', body: { members: [member(E)] } });
    assert.ok(added.recipients.includes(E.id));
    send(a, added, [b]);
    const e = new GroupReplica(a.groupId, E.id);
    // The add alone cannot be checked (the owner's certificate is in the genesis): it waits.
    e.receive([added.signed], A.id);
    assert.equal(e.entries().length, 0);
    assert.deepEqual(e.gaps().genesis, true);
    sync(b, e);
    assert.deepEqual(order(e), order(a));
    assert.ok(e.isMember(E.id));
    assert.ok(!covers(new GroupReplica(a.groupId, E.id).vector(), e.vector()));
    assert.deepEqual(a.select(p3.id, new Map(), SYNC_BATCH), { events: [], more: false });
  });

  it('holds events that arrive before what they depend on, says what is missing, and stores them once it arrives', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas, genesis } = group(A, [B]);
    const [b] = replicas as [GroupReplica];
    const sent = Array.from({ length: 6 }, (_, i) => a.compose(A, { kind: 'text', body: { text: `m${i}` } }).signed);
    sync(a, b);
    const byB = b.compose(B, { kind: 'text', body: { text: 'reply' } }).signed;
    a.compose(A, { kind: 'add', body: { members: [member(C)] } });
    const c = new GroupReplica(a.groupId, C.id);
    // Everything backwards: B's reply first, then A's messages newest first, the genesis last.
    let r = c.receive([byB, ...[...sent].reverse()], B.id);
    assert.equal(r.stored.length, 0);
    assert.equal(r.pending, 7);
    assert.equal(c.gaps().genesis, true);
    r = c.receive([genesis, sent[0]!, sent[1]!], A.id);
    // The genesis and m0, m1, ... all of A's now follow; B's reply needs B's certificate, which
    // C has (B is a founding member), and its Lamport clock says B had seen all six.
    assert.deepEqual(r.stored.map((x) => x.e.kind === 'text' ? x.e.body.text : x.e.kind), ['create', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'reply']);
    assert.equal(r.duplicates, 2);
    assert.equal(c.waiting(), 0);
    // An author whose add has not arrived yet waits too.
    const late = new GroupReplica(a.groupId, C.id);
    late.receive([genesis], A.id);
    const cb = new GroupReplica(a.groupId, C.id);
    sync(a, cb);
    const fromC = cb.compose(C, { kind: 'text', body: { text: 'hello, I am new' } }).signed;
    r = late.receive([fromC], C.id);
    assert.equal(r.stored.length, 0);
    assert.deepEqual(late.gaps().authors.map((g) => [g.author, g.next]), [[C.id, 1]]);
    r = late.receive(a.select(C.id, late.vector()).events, A.id);
    assert.equal(r.stored.at(-1)!.e.id, cb.entries().at(-1)!.e.id);
    assert.deepEqual(order(late), order(cb));
  });

  it('an event by someone not yet added, whose certificate comes with a later add, is stored and rejected', () => {
    const [A, B, X] = [p0, p1, p4];
    const { owner: a, replicas } = group(A, [B]);
    const [b] = replicas as [GroupReplica];
    // X jumps the gun: it signs a post at lamport 1, ordered before the owner's add of it.
    const early = signEvent(X, { group: a.groupId, id: '01J0000000000000000000000E', author: X.id, seq: 1, lamport: 1, ts: 0, content: { kind: 'text', body: { text: 'am I in?' } } });
    const add = a.compose(A, { kind: 'add', body: { members: [member(X)] } });
    const r = b.receive([early, add.signed], A.id);
    assert.deepEqual(r.refused, []);
    assert.equal(r.pending, 0);
    assert.ok(compareKeys(b.get('01J0000000000000000000000E')!.e, add.entry.e) < 0);
    assert.deepEqual(b.get('01J0000000000000000000000E')!.verdict, { ok: false, reason: 'not-a-member' });
    assert.ok(!texts(b).includes('am I in?'));
  });

  it('an event whose author had seen more than the receiver holds waits for that, and an absurd clock is refused', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas } = group(A, [B, C]);
    const [b, c] = replicas as [GroupReplica, GroupReplica];
    for (let i = 0; i < 5; i++) send(a, a.compose(A, { kind: 'text', body: { text: `${i}` } }), [b]);
    const reply = b.compose(B, { kind: 'text', body: { text: 'seen all five' } });
    let r = c.receive([reply.signed], B.id);
    assert.equal(r.stored.length, 0);
    r = c.receive(a.entries().map((x) => x.signed), A.id);
    assert.equal(r.stored.at(-1)!.e.id, reply.entry.e.id);
    const wedge = signEvent(B, { group: a.groupId, id: '01J0000000000000000000000Z', author: B.id, seq: 2, lamport: 2 ** 40, ts: 0, content: { kind: 'text', body: { text: 'x' } } });
    r = c.receive([wedge], B.id);
    assert.deepEqual(r.refused.map((x) => x.reason), ['bad-clock']);
  });
});

describe('groups: forged and altered events', () => {
  it('an event altered by the member forwarding it is refused and reported with the forwarder; the genuine one still gets in', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas } = group(A, [B, C]);
    const [, c] = replicas as [GroupReplica, GroupReplica];
    const real = a.compose(A, { kind: 'text', body: { text: 'the budget is 10k' } }).signed;
    for (const edit of [
      (f: Record<string, unknown>) => (f.body = { text: 'the budget is 90k' }),
      (f: Record<string, unknown>) => (f.lamport = 99),
      (f: Record<string, unknown>) => (f.seq = 7),
      (f: Record<string, unknown>) => (f.author = B.id),
    ]) {
      const r = c.receive([alter(real, edit)], B.id);
      assert.equal(r.stored.length, 0);
      assert.deepEqual(r.refused.map((x) => [x.reason, x.from]), [['bad-signature', B.id]]);
    }
    const r = c.receive([real], A.id);
    assert.equal(r.stored.length, 1);
    assert.deepEqual(texts(c), ['the budget is 10k']);
  });

  it('an event forged in another member’s name is refused, whoever forwards it', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas } = group(A, [B, C]);
    const [b, c] = replicas as [GroupReplica, GroupReplica];
    const forged = signAs(B, { group: a.groupId, id: '01J0000000000000000000000A', author: A.id, seq: 2, lamport: 2, ts: 0, content: { kind: 'remove', body: { ids: [C.id] } } });
    for (const target of [c, b]) {
      const r = target.receive([forged], B.id);
      assert.deepEqual(r.refused.map((x) => [x.reason, x.author, x.from]), [['bad-signature', A.id, B.id]]);
      assert.ok(target.isMember(C.id));
    }
    // And once A's real seq 2 is stored, the forgery claiming that seq is still a forgery, not A's equivocation.
    const real = a.compose(A, { kind: 'text', body: { text: 'hi' } }).signed;
    c.receive([real], A.id);
    const r = c.receive([forged], B.id);
    assert.deepEqual(r.refused.map((x) => x.reason), ['bad-signature']);
  });

  it('an author signing two versions of an ID, or two events with one seq, is caught', () => {
    const [A, B] = [p0, p1];
    const { owner: a, replicas } = group(A, [B]);
    const [b] = replicas as [GroupReplica];
    const first = a.compose(A, { kind: 'text', body: { text: 'v1' } });
    b.receive([first.signed], A.id);
    const e = first.entry.e;
    const twin = signEvent(A, { group: e.group, id: e.id, author: A.id, seq: e.seq, lamport: e.lamport, ts: e.ts, content: { kind: 'text', body: { text: 'v2' } } });
    const sameSeq = signEvent(A, { group: e.group, id: '01J0000000000000000000000B', author: A.id, seq: e.seq, lamport: e.lamport, ts: e.ts, content: { kind: 'text', body: { text: 'v3' } } });
    const r = b.receive([twin, sameSeq, first.signed], A.id);
    assert.deepEqual(r.refused.map((x) => x.reason), ['conflict', 'equivocation']);
    assert.equal(r.duplicates, 1);
    assert.deepEqual(texts(b), ['v1']);
  });

  it('a create claiming an existing group is refused: the group ID proves its creator', () => {
    const [A, B, M] = [p0, p1, p4];
    const { owner: a, replicas } = group(A, [B, M]);
    const [b] = replicas as [GroupReplica, GroupReplica];
    const coup = signEvent(M, {
      group: a.groupId,
      id: '01J0000000000000000000000C',
      author: M.id,
      seq: 1,
      lamport: 1,
      ts: 0,
      content: { kind: 'create', body: { name: 'mine', nonce: new Uint8Array(16), members: [member(M)] } },
    });
    const r = b.receive([coup], M.id);
    assert.deepEqual(r.refused.map((x) => x.reason), ['bad-genesis']);
    assert.equal(b.state().owner, A.id);
  });

  it('malformed bytes and events of another group are refused', () => {
    const [A, B] = [p0, p1];
    const { replicas } = group(A, [B]);
    const { replica: other } = GroupReplica.create(A, { name: 'Other', members: [member(B)] });
    const r = replicas[0]!.receive([{ ev: new Uint8Array([0x81, 0xa1]), sig: new Uint8Array(256) }, other.entries()[0]!.signed], A.id);
    assert.deepEqual(r.refused.map((x) => x.reason), ['malformed', 'wrong-group']);
  });

  it('a member’s clock going backwards voids that event for everyone, but keeps its seq', () => {
    const [A, B] = [p0, p1];
    const { owner: a, replicas } = group(A, [B]);
    const [b] = replicas as [GroupReplica];
    for (let i = 0; i < 3; i++) send(b, b.compose(B, { kind: 'text', body: { text: `${i}` } }), [a]);
    const back = signEvent(B, { group: a.groupId, id: '01J0000000000000000000000D', author: B.id, seq: 4, lamport: 2, ts: 0, content: { kind: 'text', body: { text: 'backdated' } } });
    const r = a.receive([back], B.id);
    assert.deepEqual(r.stored.map((x) => x.verdict), [{ ok: false, reason: 'clock-went-backwards' }]);
    assert.equal(a.vector().get(B.id), 4);
  });

  it('bounds what waits to be checked', () => {
    const [A, B] = [p0, p1];
    const { owner: a } = group(A, [B]);
    const lonely = new GroupReplica(a.groupId, B.id);
    const ev = a.compose(A, { kind: 'text', body: { text: 'x' } }).signed;
    const many = Array.from({ length: MAX_PENDING + 3 }, (_, i) => alter(ev, (f) => (f.seq = i + 2)));
    const r = lonely.receive(many, A.id);
    assert.equal(r.pending, MAX_PENDING);
    assert.deepEqual(r.refused.map((x) => x.reason), ['pending-full', 'pending-full', 'pending-full']);
  });
});

describe('groups: removal', () => {
  it('a removed member is sent nothing ordered after its removal, and what it posts after is rejected by all', () => {
    const [A, B, C, D] = [p0, p1, p2, p3];
    const { owner: a, replicas } = group(A, [B, C, D]);
    const [b, c, d] = replicas as [GroupReplica, GroupReplica, GroupReplica];
    for (let i = 0; i < 10; i++) send(a, a.compose(A, { kind: 'text', body: { text: `early ${i}` } }), [b, c, d]);
    // D has not seen the last 4 of those when A removes it.
    const dBehind = GroupReplica.restore(a.groupId, D.id, d.entries().slice(0, -4).map((x) => x.signed));
    const removal = a.compose(A, { kind: 'remove', body: { ids: [D.id] } });
    assert.ok(removal.recipients.includes(D.id), 'D learns it was removed');
    send(a, removal, [b, c]);
    // D does not know yet and keeps posting; B and C post after the removal.
    const dPost = d.compose(D, { kind: 'text', body: { text: 'still here?' } });
    for (const r of [a, b, c]) r.receive([dPost.signed], D.id);
    for (let i = 0; i < 5; i++) {
      send(b, b.compose(B, { kind: 'text', body: { text: `late B ${i}` } }), [a, c]);
      send(c, c.compose(C, { kind: 'text', body: { text: `late C ${i}` } }), [a, b]);
    }
    const cut = removal.entry.e;
    for (const from of [a, b, c]) {
      assert.ok(!from.recipientsOf(from.entries().at(-1)!.e.id).includes(D.id));
      for (const asker of [d, dBehind]) {
        const batch = from.select(D.id, asker.vector(), { maxEvents: 1000, maxBytes: 1 << 30 });
        for (const s of batch.events) {
          const e = from.entries().find((x) => x.signed === s)!.e;
          assert.ok(compareKeys(e, cut) <= 0, 'nothing after the removal');
        }
      }
      assert.equal(from.get(dPost.entry.e.id)!.verdict.ok, false);
      assert.ok(!texts(from).includes('still here?'));
    }
    // The one behind gets exactly what it missed, up to and including its removal.
    const r = dBehind.receive(b.select(D.id, dBehind.vector()).events, B.id);
    assert.deepEqual(r.stored.map((x) => x.e.id), [...a.entries().filter((x) => compareKeys(x.e, cut) <= 0).map((x) => x.e.id)].slice(-5));
    assert.ok(!dBehind.isMember(D.id));
    assert.throws(() => dBehind.compose(D, { kind: 'text', body: { text: 'x' } }), (err: GroupError) => err.code === 'not-a-member');
  });

  it('a removal arriving late voids what was already accepted after it, and says so', () => {
    const [A, B, Z] = [p0, p1, p4];
    const { owner: a, replicas } = group(A, [B, Z]);
    const [b, z] = replicas as [GroupReplica, GroupReplica];
    const removal = a.compose(A, { kind: 'remove', body: { ids: [Z.id] } });
    // Z, unaware, posts at the same Lamport clock; Z's ID sorts after A's, so it is after the removal.
    assert.ok(A.id < Z.id);
    const zPost = z.compose(Z, { kind: 'text', body: { text: 'concurrent' } });
    assert.equal(zPost.entry.e.lamport, removal.entry.e.lamport);
    let r = b.receive([zPost.signed], Z.id);
    assert.ok(r.stored[0]!.verdict.ok);
    r = b.receive([removal.signed], A.id);
    assert.deepEqual(r.changed.map((x) => [x.e.id, x.verdict]), [[zPost.entry.e.id, { ok: false, reason: 'not-a-member' }]]);
  });

  it('only the owner adds and removes, and the replica says so before signing anything', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas } = group(A, [B]);
    const b = replicas[0]!;
    assert.throws(() => b.compose(B, { kind: 'add', body: { members: [member(C)] } }), (err: GroupError) => err.code === 'not-owner');
    assert.throws(() => b.compose(B, { kind: 'remove', body: { ids: [A.id] } }), (err: GroupError) => err.code === 'not-owner');
    assert.throws(() => b.compose(A, { kind: 'text', body: { text: 'x' } }), (err: GroupError) => err.code === 'invalid');
    assert.equal(b.entries().length, 1);
    // Nor does the owner sign an add whose certificate does not prove the member.
    assert.throws(() => a.compose(A, { kind: 'add', body: { members: [{ id: C.id, cert: member(B).cert }] } }), (err: GroupEventError) => err.code === 'bad-certificate');
    assert.throws(() => GroupReplica.create(A, { name: 'x', members: [{ id: C.id, cert: member(B).cert }] }), (err: GroupEventError) => err.code === 'bad-certificate');
    assert.equal(a.entries().length, 1);
  });
});

describe('groups: the sync exchange', () => {
  it('bounds batches by count and bytes, always moving at least one event', () => {
    const [A, B] = [p0, p1];
    const { owner: a } = group(A, [B]);
    for (let i = 0; i < 30; i++) a.compose(A, { kind: 'text', body: { text: 'x'.repeat(1000) } });
    const byCount = a.select(B.id, new Map(), { maxEvents: 10, maxBytes: 1 << 20 });
    assert.equal(byCount.events.length, 10);
    assert.equal(byCount.more, true);
    const byBytes = a.select(B.id, new Map(), { maxEvents: 100, maxBytes: 5000 });
    assert.ok(byBytes.events.length >= 1 && byBytes.events.reduce((n, s) => n + s.ev.byteLength + s.sig.byteLength, 0) <= 5000);
    assert.equal(a.select(B.id, new Map(), { maxEvents: 100, maxBytes: 1 }).events.length, 1);
    assert.equal(a.select(B.id, a.vector()).events.length, 0);
  });

  it('a full batch and a vector fit the proposed frames, within MAX_FRAME_BYTES', () => {
    const [A, B] = [p0, p1];
    const { owner: a } = group(A, [B]);
    for (let i = 0; i < 40; i++) a.compose(A, { kind: 'text', body: { text: '中'.repeat(8000) } });
    const batch = a.select(B.id, new Map());
    const frame = GroupEventsFrame.parse({ t: 'gev', group: a.groupId, evs: batch.events, more: batch.more });
    assert.ok(encode(frame).byteLength <= MAX_FRAME_BYTES, `${encode(frame).byteLength}`);
    assert.ok(batch.more);
    const have = vectorToWire(a.vector());
    assert.deepEqual(vectorFromWire(GroupSyncFrame.parse({ t: 'gsync', group: a.groupId, have }).have), a.vector());
    assert.throws(() => GroupSyncFrame.parse({ t: 'gsync', group: a.groupId, have: [...have, ...have] }));
    assert.ok(MAX_EVENT_BYTES + 1024 < MAX_FRAME_BYTES);
  });

  it('a replica restored from its stored events, in any order, is the same replica', () => {
    const [A, B, C] = [p0, p1, p2];
    const { owner: a, replicas } = group(A, [B, C]);
    const [b] = replicas as [GroupReplica];
    for (let i = 0; i < 10; i++) {
      send(a, a.compose(A, { kind: 'text', body: { text: `${i}` } }), [b]);
      if (i === 5) send(a, a.compose(A, { kind: 'remove', body: { ids: [C.id] } }), [b]);
      send(b, b.compose(B, { kind: 'rename', body: { name: `n${i}` } }), [a]);
    }
    const restored = GroupReplica.restore(a.groupId, A.id, [...a.entries()].reverse().map((x) => x.signed));
    assert.deepEqual(order(restored), order(a));
    assert.deepEqual(restored.entries().map((x) => x.verdict), a.entries().map((x) => x.verdict));
    assert.deepEqual(restored.state(), a.state());
    assert.deepEqual(restored.vector(), a.vector());
  });
});
