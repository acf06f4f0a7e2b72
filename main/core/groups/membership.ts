// Who is in a group, folded from the group's own history. Membership changes are events like
// any other, so every member that holds the same events computes the same members, owner and
// name at every position of the total order, and the same verdict on every event: no voting,
// no coordinator.
//
// Rules (position = the event's place in the total order (lamport, author, seq, id)):
//  - The genesis (the create event that derives the group ID, see group-message.ts) founds the
//    group: its author is the owner, its members the first members.
//  - Any member may post, rename and leave. Only the owner may add and remove. Why not any
//    member: removal decides who receives what follows, so it is the one security-relevant
//    change; if any member could remove, one compromised member could evict everyone, and
//    two members removing each other at once would be decided by a tie-break nobody chose.
//    With one writer for add/remove, the only concurrent membership changes left are a
//    member's leave or rename against the owner's changes, which the total order settles.
//  - The owner cannot remove itself (it leaves instead). When the owner leaves, the member who
//    joined earliest becomes owner (ties: order within the create/add event), so a group never
//    loses the ability to change its members while it has any.
//  - An event is valid only if its author is a member at its position. So a removed member's
//    events ordered after the removal are rejected by everyone, and so is anything by someone
//    who never was a member (or not yet: an add must come first).
//  - Concurrency: events that no author saw of each other (same or crossing Lamport clocks)
//    are applied in the total order like all others. E.g. the owner removes D at lamport 40
//    while D, not knowing, posts at lamport 40: if D's ID sorts before the owner's, D's post
//    precedes the removal and is valid, otherwise it is rejected. Either way every member
//    decides the same, because the order is the same everywhere.
import type { PeerId } from '../../contract/contract.ts';
import { compareKeys, MAX_GROUP_MEMBERS, MEMBERSHIP_KINDS, type GroupEvent, type OrderKey } from './group-message.ts';

/**
 * Why a stored (authentic) event does not take effect. `intrinsic` reasons are properties of
 * the event alone (the replica finds them when it stores it); the others depend on its position.
 */
export type RejectReason =
  | 'not-a-member'
  | 'not-owner'
  | 'group-full'
  | 'cannot-remove-owner'
  // intrinsic:
  | 'not-genesis'
  | 'clock-went-backwards'
  | 'bad-member-cert';

export type Verdict = { ok: true } | { ok: false; reason: RejectReason };
const OK: Verdict = { ok: true };
const no = (reason: RejectReason): Verdict => ({ ok: false, reason });

export interface MembershipState {
  readonly founded: boolean;
  readonly name: string;
  readonly owner: PeerId | null;
  /** Member → join ordinal: lower joined earlier. */
  readonly members: ReadonlyMap<PeerId, number>;
  readonly nextOrdinal: number;
}

export const EMPTY_STATE: MembershipState = { founded: false, name: '', owner: null, members: new Map(), nextOrdinal: 0 };

/**
 * The effect of one event on the state before it. `intrinsic` is a position-independent
 * defect the replica found (an event with one never takes effect). Pure.
 */
export function applyEvent(state: MembershipState, e: GroupEvent, intrinsic?: RejectReason): { verdict: Verdict; state: MembershipState } {
  if (intrinsic) return { verdict: no(intrinsic), state };
  if (e.kind === 'create') {
    // A create without an intrinsic defect is the genesis; its lamport is 1, so nothing that
    // changes the state can sort before it. The guard is for an impossible second genesis.
    if (state.founded) return { verdict: no('not-genesis'), state };
    const members = new Map<PeerId, number>();
    let ordinal = 0;
    for (const m of e.body.members) members.set(m.id, ordinal++);
    return { verdict: OK, state: { founded: true, name: e.body.name, owner: e.author, members, nextOrdinal: ordinal } };
  }
  if (!state.members.has(e.author)) return { verdict: no('not-a-member'), state };
  switch (e.kind) {
    case 'rename':
      return { verdict: OK, state: { ...state, name: e.body.name } };
    case 'add': {
      if (e.author !== state.owner) return { verdict: no('not-owner'), state };
      const joining = e.body.members.filter((m) => !state.members.has(m.id));
      if (state.members.size + joining.length > MAX_GROUP_MEMBERS) return { verdict: no('group-full'), state };
      const members = new Map(state.members);
      let ordinal = state.nextOrdinal;
      for (const m of joining) members.set(m.id, ordinal++);
      return { verdict: OK, state: { ...state, members, nextOrdinal: ordinal } };
    }
    case 'remove': {
      if (e.author !== state.owner) return { verdict: no('not-owner'), state };
      if (e.body.ids.includes(e.author)) return { verdict: no('cannot-remove-owner'), state };
      // Naming someone who already left is harmless (the owner may not have seen the leave).
      const members = new Map(state.members);
      for (const id of e.body.ids) members.delete(id);
      return { verdict: OK, state: { ...state, members } };
    }
    case 'leave': {
      const members = new Map(state.members);
      members.delete(e.author);
      let owner = state.owner;
      if (owner === e.author) {
        owner = null;
        let first = Infinity;
        for (const [id, ordinal] of members) {
          if (ordinal < first) {
            first = ordinal;
            owner = id;
          }
        }
      }
      return { verdict: OK, state: { ...state, members, owner } };
    }
    default:
      // text and kinds of later versions: they change nothing here.
      return { verdict: OK, state };
  }
}

export interface TimelineEntry {
  readonly e: GroupEvent;
  readonly intrinsic: RejectReason | undefined;
  verdict: Verdict;
  /** The state right after this event (equal to the one before if it was rejected). */
  after: MembershipState;
}

/** Who may receive what a peer's view of the group entitles it to (see entitlement()). */
export type Entitlement = { kind: 'all' } | { kind: 'until'; key: OrderKey } | { kind: 'none' };

/**
 * The membership events of one group in total order, each with the state after it. Messages
 * (text and unknown kinds) are not kept here: their verdict is a lookup of the state at their
 * position, so a group with a million messages and fifty membership changes folds fifty.
 */
export class MembershipTimeline {
  private readonly entries: TimelineEntry[] = [];

  /** Index of the first entry ordered after `key`. */
  private upperBound(key: OrderKey): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.entries[mid]!.e, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Adds a membership event and re-folds everything after it. Returns the entries whose
   * verdict changed, the new one included.
   */
  insert(e: GroupEvent, intrinsic?: RejectReason): TimelineEntry[] {
    if (!MEMBERSHIP_KINDS.has(e.kind)) throw new Error(`${e.kind} is not a membership event`);
    const at = this.upperBound(e);
    this.entries.splice(at, 0, { e, intrinsic, verdict: OK, after: EMPTY_STATE });
    const changed: TimelineEntry[] = [];
    let state = at > 0 ? this.entries[at - 1]!.after : EMPTY_STATE;
    for (let i = at; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      const r = applyEvent(state, entry.e, entry.intrinsic);
      if (i === at || r.verdict.ok !== entry.verdict.ok || (!r.verdict.ok && !entry.verdict.ok && r.verdict.reason !== entry.verdict.reason)) {
        changed.push(entry);
      }
      entry.verdict = r.verdict;
      entry.after = r.state;
      state = r.state;
    }
    return changed;
  }

  /** The state just before position `key` (the key itself excluded). */
  stateBefore(key: OrderKey): MembershipState {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.entries[mid]!.e, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.entries[lo - 1]!.after : EMPTY_STATE;
  }

  head(): MembershipState {
    return this.entries.at(-1)?.after ?? EMPTY_STATE;
  }

  /** The verdict on a stored event: its timeline entry's, or the state at its position's. */
  verdictOf(e: GroupEvent, intrinsic?: RejectReason): Verdict {
    if (MEMBERSHIP_KINDS.has(e.kind)) {
      const i = this.upperBound(e) - 1;
      const entry = this.entries[i];
      if (entry && compareKeys(entry.e, e) === 0) return entry.verdict;
      throw new Error('membership event not in the timeline');
    }
    if (intrinsic) return no(intrinsic);
    return applyEvent(this.stateBefore(e), e).verdict;
  }

  /** Membership events that took effect, in order: the group's visible membership history. */
  history(): Array<{ e: GroupEvent; after: MembershipState }> {
    return this.entries.filter((x) => x.verdict.ok).map((x) => ({ e: x.e, after: x.after }));
  }

  /**
   * Who should receive `e` when its author sends it: the members at its position except the
   * author, plus, for an add, the members it adds (they need it to learn they are in; the
   * author then gives them the rest of the history by sync). A removed member receives its
   * removal, and nothing ordered after it.
   */
  recipients(e: GroupEvent): PeerId[] {
    const before = this.stateBefore(e);
    const out = new Set(before.members.keys());
    if (e.kind === 'create' || e.kind === 'add') for (const m of e.body.members) out.add(m.id);
    out.delete(e.author);
    return [...out].sort();
  }

  /**
   * What `peer` may be sent, by this view of the group: everything if it is a member now
   * (history is shared with members added later, as Matrix's "shared" visibility); if it was a
   * member once, everything up to and including the event that ended its last membership (so
   * it learns it was removed); nothing if it never was.
   */
  entitlement(peer: PeerId): Entitlement {
    if (this.head().members.has(peer)) return { kind: 'all' };
    let until: OrderKey | undefined;
    let prev = EMPTY_STATE;
    for (const entry of this.entries) {
      if (prev.members.has(peer) && !entry.after.members.has(peer)) until = entry.e;
      prev = entry.after;
    }
    return until ? { kind: 'until', key: until } : { kind: 'none' };
  }
}
