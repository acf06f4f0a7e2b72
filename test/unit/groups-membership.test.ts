// Membership folded from the group's own history: the same events give every member the same
// members, owner, name and verdicts, whatever order they arrived in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupEvent } from '../../main/core/groups/group-message.ts';
import { applyEvent, EMPTY_STATE, MembershipTimeline, type MembershipState } from '../../main/core/groups/membership.ts';

// Pure: the fold never looks at signatures or certificates, so IDs here are made up, chosen
// so that their ASCII order (the tie-break between equal Lamport clocks) is A < B < C < D < O.
const id = (c: string) => c.repeat(52);
const [A, B, C, D, O] = ['A', 'B', 'C', 'D', 'O'].map(id) as [string, string, string, string, string];
const cert = new Uint8Array(64);

let n = 0;
const seqs = new Map<string, number>();
function ev(author: string, lamport: number, kind: string, body: unknown): GroupEvent {
  const seq = (seqs.get(author) ?? 0) + 1;
  seqs.set(author, seq);
  return { group: 'G'.repeat(26), id: `01J${String(n++).padStart(23, '0')}`, author, seq, lamport, ts: 0, kind, body } as GroupEvent;
}
const create = (members: string[], author = O) => ev(author, 1, 'create', { name: 'Lunch', nonce: new Uint8Array(16), members: members.map((m) => ({ id: m, cert })) });
const post = (author: string, lamport: number, text = 'hi') => ev(author, lamport, 'text', { text });
const add = (author: string, lamport: number, ids: string[]) => ev(author, lamport, 'add', { members: ids.map((m) => ({ id: m, cert })) });
const remove = (author: string, lamport: number, ids: string[]) => ev(author, lamport, 'remove', { ids });
const leave = (author: string, lamport: number) => ev(author, lamport, 'leave', {});
const rename = (author: string, lamport: number, name: string) => ev(author, lamport, 'rename', { name });

/** Folds events (in any order) like a replica: membership events into the timeline, verdicts for all. */
function fold(events: GroupEvent[]): { t: MembershipTimeline; verdicts: Map<string, string> } {
  const t = new MembershipTimeline();
  for (const e of events) if (e.kind !== 'text') t.insert(e);
  const verdicts = new Map(events.map((e) => {
    const v = t.verdictOf(e);
    return [e.id, v.ok ? 'ok' : v.reason] as [string, string];
  }));
  return { t, verdicts };
}

const members = (s: MembershipState) => [...s.members.keys()].sort();

describe('membership: the rules', () => {
  it('the genesis founds the group; its author owns it', () => {
    const { state, verdict } = applyEvent(EMPTY_STATE, create([O, A, B]));
    assert.ok(verdict.ok);
    assert.deepEqual(members(state), [A, B, O]);
    assert.equal(state.owner, O);
    assert.equal(state.name, 'Lunch');
  });

  it('any member posts, renames and leaves; only the owner adds and removes', () => {
    const events = [create([O, A, B]), post(A, 2), rename(B, 3, 'Coffee'), add(A, 4, [C]), remove(B, 5, [A]), add(O, 6, [C]), remove(O, 7, [B]), leave(A, 8)];
    const { t, verdicts } = fold(events);
    assert.deepEqual([...verdicts.values()], ['ok', 'ok', 'ok', 'not-owner', 'not-owner', 'ok', 'ok', 'ok']);
    assert.deepEqual(members(t.head()), [C, O]);
    assert.equal(t.head().name, 'Coffee');
    assert.deepEqual(t.history().map((h) => h.e.kind), ['create', 'rename', 'add', 'remove', 'leave']);
  });

  it('rejects what someone posts who never was a member, is not yet, or no longer is', () => {
    const events = [create([O, A]), post(C, 2), add(O, 3, [C]), post(C, 4), remove(O, 5, [C]), post(C, 6), leave(A, 7), post(A, 8)];
    const { verdicts } = fold(events);
    assert.deepEqual([...verdicts.values()], ['ok', 'not-a-member', 'ok', 'ok', 'ok', 'not-a-member', 'ok', 'not-a-member']);
  });

  it('the owner cannot remove itself; when it leaves, the earliest member to join takes over', () => {
    const events = [create([O, B, A]), add(O, 2, [C]), remove(O, 3, [O]), leave(O, 4), remove(B, 5, [A]), add(B, 6, [D])];
    const { t, verdicts } = fold(events);
    // B is listed before A in the create event, so B joined first.
    assert.deepEqual([...verdicts.values()], ['ok', 'ok', 'cannot-remove-owner', 'ok', 'ok', 'ok']);
    assert.equal(t.head().owner, B);
    assert.deepEqual(members(t.head()), [B, C, D]);
  });

  it('a removed member can be added again, and posts again from then on', () => {
    const events = [create([O, A]), remove(O, 2, [A]), post(A, 3), add(O, 4, [A]), post(A, 5)];
    assert.deepEqual([...fold(events).verdicts.values()], ['ok', 'ok', 'not-a-member', 'ok', 'ok']);
  });

  it('refuses an add that would make the group bigger than MAX_GROUP_MEMBERS', () => {
    const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const many = Array.from({ length: 255 }, (_, i) => `M${b32[i >> 5]}${b32[i & 31]}`.padEnd(52, 'Z'));
    const events = [create([O]), add(O, 2, many), add(O, 3, [A]), add(O, 4, [O, many[0]!])];
    const { t, verdicts } = fold(events);
    assert.deepEqual([...verdicts.values()], ['ok', 'ok', 'group-full', 'ok']);
    assert.equal(t.head().members.size, 256);
  });
});

describe('membership: recipients and entitlement', () => {
  it('an event goes to the members at its position, an add also to whom it adds, a removal also to whom it removes', () => {
    const c = create([O, A, B]);
    const addC = add(O, 2, [C]);
    const removeA = remove(O, 3, [A]);
    const later = post(B, 4);
    const { t } = fold([c, addC, removeA, later]);
    assert.deepEqual(t.recipients(c), [A, B]);
    assert.deepEqual(t.recipients(addC), [A, B, C]);
    assert.deepEqual(t.recipients(removeA), [A, B, C]);
    assert.deepEqual(t.recipients(later), [C, O]);
  });

  it('members get everything, former members everything up to their exit, strangers nothing', () => {
    const c = create([O, A, B]);
    const removeA = remove(O, 3, [A]);
    const leaveB = leave(B, 5);
    const { t } = fold([c, post(A, 2), removeA, post(O, 4), leaveB, post(O, 6)]);
    assert.deepEqual(t.entitlement(O), { kind: 'all' });
    assert.deepEqual(t.entitlement(A), { kind: 'until', key: removeA });
    assert.deepEqual(t.entitlement(B), { kind: 'until', key: leaveB });
    assert.deepEqual(t.entitlement(D), { kind: 'none' });
  });

  it('a member removed, re-added and still in is entitled to everything', () => {
    const { t } = fold([create([O, A]), remove(O, 2, [A]), add(O, 3, [A])]);
    assert.deepEqual(t.entitlement(A), { kind: 'all' });
  });
});

describe('membership: concurrency is settled by the total order', () => {
  it('a post concurrent with its author’s removal (same lamport) counts if the author sorts first', () => {
    // A < O: A's post at lamport 5 precedes O's removal at lamport 5.
    const events = [create([O, A]), remove(O, 5, [A]), post(A, 5, 'mine')];
    assert.deepEqual([...fold(events).verdicts.values()], ['ok', 'ok', 'ok']);
  });

  it('a post concurrent with the removal, by an author that sorts after the owner, is rejected', () => {
    const Z = id('Z');
    const events = [create([O, Z]), remove(O, 5, [Z]), post(Z, 5, 'too late')];
    assert.deepEqual([...fold(events).verdicts.values()], ['ok', 'ok', 'not-a-member']);
  });

  it('concurrent renames: the one ordered last wins, the same on every member', () => {
    const events = [create([O, A, B]), rename(B, 4, 'Bee'), rename(A, 4, 'Ay')];
    assert.equal(fold(events).t.head().name, 'Bee');
    assert.equal(fold([...events].reverse()).t.head().name, 'Bee');
  });

  it('a leave racing the owner’s removal of the same member: whichever is first takes effect, the other is harmless', () => {
    const events = [create([O, A, B]), leave(B, 3), remove(O, 3, [B])];
    const { t, verdicts } = fold(events);
    // B < O: B's leave comes first; the removal then names someone already gone.
    assert.deepEqual([...verdicts.values()], ['ok', 'ok', 'ok']);
    assert.deepEqual(members(t.head()), [A, O]);
    const Z = id('Z');
    const zs = [create([O, Z]), leave(Z, 3), remove(O, 3, [Z])];
    // Z > O: the removal comes first and Z's leave is by a non-member.
    assert.deepEqual([...fold(zs).verdicts.values()], ['ok', 'not-a-member', 'ok']);
  });

  it('a late-arriving membership event re-folds what is ordered after it', () => {
    const t = new MembershipTimeline();
    const c = create([O, A]);
    const removeA = remove(O, 3, [A]);
    const renameA = rename(A, 4, 'mine now');
    t.insert(c);
    t.insert(renameA);
    assert.equal(t.head().name, 'mine now');
    const changed = t.insert(removeA);
    assert.deepEqual(changed.map((x) => x.e.id), [removeA.id, renameA.id]);
    assert.deepEqual(t.verdictOf(renameA), { ok: false, reason: 'not-a-member' });
    assert.equal(t.head().name, 'Lunch');
  });

  it('gives the same result for every insertion order', () => {
    const events = [create([O, A, B]), add(O, 2, [C]), rename(C, 3, 'x'), remove(O, 3, [C]), leave(O, 4), add(A, 5, [D]), remove(B, 5, [A]), rename(D, 6, 'y')];
    const expected = fold(events);
    for (let shift = 1; shift < events.length; shift++) {
      const rotated = [...events.slice(shift), ...events.slice(0, shift)];
      const got = fold(rotated);
      assert.deepEqual(got.verdicts, expected.verdicts);
      assert.deepEqual(members(got.t.head()), members(expected.t.head()));
      assert.equal(got.t.head().owner, expected.t.head().owner);
      assert.equal(got.t.head().name, expected.t.head().name);
    }
  });
});
