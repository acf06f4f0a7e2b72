// The property the group design rests on: whatever members do concurrently, and in whatever
// order and batches the resulting events reach a member, every member ends with the same
// events, in the same order, with the same verdicts and the same membership.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PeerId } from '../../main/contract/contract.ts';
import { monotonicFactory } from 'ulid';
import { compareKeys, signEvent, type SignedEvent } from '../../main/core/groups/group-message.ts';
import { GroupError, GroupReplica } from '../../main/core/groups/replica.ts';
import type { Identity } from '../../main/core/identity/identity.ts';
import { identities, member } from '../helpers/groups.ts';

const people = identities().slice(0, 5) as Identity[];
const observer = identities()[5]!;
const ulid = monotonicFactory();

type Command =
  | { t: 'post' | 'rename' | 'leave'; actor: number; live: number }
  | { t: 'add' | 'remove'; actor: number; target: number; live: number }
  | { t: 'sync'; from: number; to: number }
  /** An add or remove signed without asking the replica: what a modified client could send. */
  | { t: 'rogue'; actor: number; target: number; live: number };

const who = fc.nat(people.length - 1);
/** Bit i set: the live send reaches person i (the others are offline for it). */
const live = fc.nat(2 ** people.length - 1);
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('post' as const), actor: who, live }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rename' as const), actor: who, live }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), actor: who, live }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('add' as const), actor: who, target: who, live }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('remove' as const), actor: who, target: who, live }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const), from: who, to: who }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('rogue' as const), actor: who, target: who, live }) },
);

/** Plays a script: each person acts on its own replica's view, sees only what reached it. */
function play(creator: number, founders: number[], script: Command[]): { replicas: GroupReplica[]; events: SignedEvent[] } {
  const others = founders.filter((f) => f !== creator).map((f) => member(people[f]!));
  const { replica, signed } = GroupReplica.create(people[creator]!, { name: 'G', members: others, ts: 0 });
  const replicas = people.map((p, i) => (i === creator ? replica : new GroupReplica(replica.groupId, p.id)));
  const deliver = (from: number, sent: { signed: SignedEvent; recipients: PeerId[] }, mask: number) => {
    replicas.forEach((r, i) => {
      if (mask & (1 << i) && sent.recipients.includes(r.self)) r.receive([sent.signed], people[from]!.id);
    });
  };
  deliver(creator, { signed, recipients: replica.recipientsOf(replica.entries()[0]!.e.id) }, 2 ** people.length - 1);
  let n = 0;
  for (const c of script) {
    try {
      switch (c.t) {
        case 'sync':
          checkedSync(replicas[c.from]!, replicas[c.to]!);
          break;
        case 'post':
          deliver(c.actor, replicas[c.actor]!.compose(people[c.actor]!, { kind: 'text', body: { text: `m${n++}` } }, 0), c.live);
          break;
        case 'rename':
          deliver(c.actor, replicas[c.actor]!.compose(people[c.actor]!, { kind: 'rename', body: { name: `n${n++}` } }, 0), c.live);
          break;
        case 'leave':
          deliver(c.actor, replicas[c.actor]!.compose(people[c.actor]!, { kind: 'leave', body: {} }, 0), c.live);
          break;
        case 'add':
          deliver(c.actor, replicas[c.actor]!.compose(people[c.actor]!, { kind: 'add', body: { members: [member(people[c.target]!)] } }, 0), c.live);
          break;
        case 'remove':
          deliver(c.actor, replicas[c.actor]!.compose(people[c.actor]!, { kind: 'remove', body: { ids: [people[c.target]!.id] } }, 0), c.live);
          break;
        case 'rogue': {
          const r = replicas[c.actor]!;
          const target = people[c.target]!;
          if (r.entries().length === 0) break;
          const signed = signEvent(people[c.actor]!, {
            group: r.groupId,
            id: ulid(),
            author: r.self,
            seq: (r.vector().get(r.self) ?? 0) + 1,
            lamport: Math.max(...r.entries().map((x) => x.e.lamport)) + 1,
            ts: 0,
            content: !r.isMember(r.self)
              ? { kind: 'text', body: { text: 'let me back in' } }
              : r.isMember(target.id)
                ? { kind: 'remove', body: { ids: [target.id] } }
                : { kind: 'add', body: { members: [member(target)] } },
          });
          const stored = r.receive([signed]).stored[0];
          if (stored) deliver(c.actor, { signed, recipients: r.recipientsOf(stored.e.id) }, c.live);
          break;
        }
      }
    } catch (err) {
      // Someone acting on a view that does not allow it (not a member, not the owner): the
      // replica refuses before signing, as the UI would.
      if (!(err instanceof GroupError)) throw err;
    }
  }
  const all = new Map<string, SignedEvent>();
  for (const r of replicas) for (const x of r.entries()) all.set(x.e.id, x.signed);
  return { replicas, events: [...all.values()] };
}

/**
 * sync(), checking every batch independently of select(): by the sender's own view, nothing
 * goes to someone who never was a member, nor anything ordered after a former member's exit.
 * Returns whether anything was stored.
 */
function checkedSync(from: GroupReplica, to: GroupReplica): boolean {
  let stored = false;
  for (let more = true; more; ) {
    const batch = from.select(to.self, to.vector());
    more = batch.more;
    const history = from.history();
    const ever = history.some((h) => h.after.members.has(to.self));
    const exit = from.isMember(to.self) ? undefined : history.findLast((h, i) => i > 0 && history[i - 1]!.after.members.has(to.self) && !h.after.members.has(to.self));
    if (!ever) assert.equal(batch.events.length, 0, 'a stranger is sent nothing');
    for (const s of batch.events) {
      const e = from.entries().find((x) => x.signed === s)!.e;
      if (exit) assert.ok(compareKeys(e, exit.e) <= 0, 'nothing after a member’s exit');
    }
    if (batch.events.length > 0 && to.receive(batch.events, from.self).stored.length > 0) stored = true;
  }
  return stored;
}

/** Deterministic shuffle and batching from a seed (mulberry32), so fast-check can replay it. */
function deliveries(events: SignedEvent[], seed: number): SignedEvent[][] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const shuffled = [...events];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const batches: SignedEvent[][] = [];
  for (let i = 0; i < shuffled.length; ) {
    const size = 1 + Math.floor(rand() * 6);
    batches.push(shuffled.slice(i, i + size));
    i += size;
  }
  // Some events arrive twice, as they do from several members.
  if (shuffled.length > 0) batches.push([shuffled[Math.floor(rand() * shuffled.length)]!]);
  return batches;
}

function summary(r: GroupReplica) {
  const state = r.state();
  return {
    order: r.entries().map((x) => x.e.id),
    verdicts: r.entries().map((x) => (x.verdict.ok ? 'ok' : x.verdict.reason)),
    members: [...state.members.keys()].sort(),
    owner: state.owner,
    name: state.name,
  };
}

describe('groups: convergence (property)', () => {
  it('any delivery order of the same events gives every member the same order, verdicts and membership', () => {
    let interesting = 0;
    fc.assert(
      fc.property(
        who,
        fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }),
        fc.array(command, { minLength: 4, maxLength: 30 }),
        fc.array(fc.integer(), { minLength: 3, maxLength: 3 }),
        (creator, founders, script, seeds) => {
          const { replicas, events } = play(creator, founders, script);
          const reference = GroupReplica.restore(replicas[creator]!.groupId, observer.id, events);
          const expected = summary(reference);
          assert.equal(expected.order.length, events.length, 'every authentic event is stored');
          if (expected.verdicts.some((v) => v !== 'ok')) interesting++;
          // Fresh members receiving the same events in random orders and batches, signatures checked.
          for (const seed of seeds) {
            const fresh = new GroupReplica(reference.groupId, observer.id);
            let stored = 0;
            for (const batch of deliveries(events, seed)) {
              const r = fresh.receive(batch, people[0]!.id);
              assert.deepEqual(r.refused, []);
              stored += r.stored.length;
            }
            assert.equal(stored, events.length, 'each event stored exactly once');
            assert.equal(fresh.waiting(), 0);
            assert.deepEqual(summary(fresh), expected);
          }
          // The players themselves, after syncing with each other until nothing moves.
          for (let changed = true; changed; ) {
            changed = false;
            for (const from of replicas) {
              for (const to of replicas) {
                if (from !== to && checkedSync(from, to)) changed = true;
              }
            }
          }
          // Current members hold the same events in the same order, and the messages and
          // membership changes that took effect are exactly those of the full set. (Rejected
          // events need not reach everyone: a removed member's stray posts travel only as far
          // as the members it still knew.)
          const accepted = (r: GroupReplica) => r.entries().filter((x) => x.verdict.ok).map((x) => x.e.id);
          const current = replicas.filter((r) => expected.members.includes(r.self));
          for (const r of current) {
            assert.deepEqual(summary(r), summary(current[0]!));
            assert.deepEqual(accepted(r), accepted(reference));
            assert.deepEqual({ ...summary(r), order: [], verdicts: [] }, { ...expected, order: [], verdicts: [] });
          }
          // Former members hold nothing that is not in the set.
          const ids = new Set(expected.order);
          for (const r of replicas) for (const x of r.entries()) assert.ok(ids.has(x.e.id));
        },
      ),
      { numRuns: 50 },
    );
    // The property is only as good as the scripts: enough of them must produce rejections.
    assert.ok(interesting >= 10, `only ${interesting} runs had rejected events in them`);
  });
});
