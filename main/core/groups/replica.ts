// One member's copy of one group: it checks every event it is given (from the author or from
// any other member), stores each authentic one exactly once, holds those it cannot check yet,
// folds membership, and answers what to send whom. In memory and free of I/O: the node keeps
// the stored events in SQLite and rebuilds a replica from them (see README.md).
//
// Two kinds of "no", kept apart on purpose:
//  - refused (Refusal): not authentic or not storable (bad signature, altered, forged, same ID
//    or seq with other content, malformed). Never stored, reported with who forwarded it.
//  - rejected (Verdict): authentic and stored, but without effect, e.g. posted by someone who
//    was not a member at its position. Such an event still fills its author's seq, because
//    whether it is valid depends on its position, which a later-arriving event can change; and
//    every member must store the same events for the vectors to agree.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import type { PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import {
  certDer,
  compareKeys,
  decodeEvent,
  GroupEventError,
  groupIdFor,
  keyForMember,
  MEMBERSHIP_KINDS,
  newGroupId,
  sameBytes,
  signatureValid,
  signEvent,
  type GroupContent,
  type GroupEvent,
  type GroupId,
  type GroupMember,
  type SignedEvent,
} from './group-message.ts';
import { MembershipTimeline, type MembershipState, type RejectReason, type Verdict } from './membership.ts';
import { selectForPeer, SYNC_BATCH, type LogEntry, type SyncVector } from './sync.ts';

/** Events a replica holds while it cannot check them yet (missing genesis, author or seq). */
export const MAX_PENDING = 10_000;
/**
 * An honest event's Lamport clock is at most one more than the number of events its author
 * held (each event's clock is one more than the highest it has seen), so a receiver holding the
 * same events can bound it: lamport <= stored + 1. An event above that waits until more events
 * are stored; one this far above is refused at once. Without the bound one member could push
 * the clock to 2^53 and wedge the group for good.
 */
export const MAX_LAMPORT_AHEAD = 1_000_000;

export type RefusalReason =
  | 'malformed'
  | 'wrong-group'
  /** The signature does not verify with the claimed author's key: altered on the way, or forged in that author's name. */
  | 'bad-signature'
  /** An ID already stored with other content, validly signed: the author signed two versions. */
  | 'conflict'
  /** The author signed two different events with the same seq. */
  | 'equivocation'
  /** A create event that cannot be this group's origin. */
  | 'bad-genesis'
  | 'bad-clock'
  | 'pending-full';

export interface Refusal {
  reason: RefusalReason;
  /** As claimed by the event, when it could be decoded: unproven for a bad signature. */
  id?: string;
  author?: PeerId;
  seq?: number;
  /** The peer that handed it over, which for a forwarded event need not be its author. */
  from?: PeerId;
  detail: string;
}

export interface StoredEntry extends LogEntry {
  readonly intrinsic: RejectReason | undefined;
  verdict: Verdict;
}

export interface ReceiveResult {
  /** Events stored by this call, in the order they were stored; each event is stored once ever. */
  stored: StoredEntry[];
  /** Events stored before this call whose verdict changed (a late membership event moved them). */
  changed: StoredEntry[];
  duplicates: number;
  refused: Refusal[];
  /** Events now waiting to be checked. */
  pending: number;
}

export class GroupError extends Error {
  readonly code: 'not-a-member' | 'not-owner' | 'invalid';
  constructor(code: GroupError['code'], message: string) {
    super(message);
    this.name = 'GroupError';
    this.code = code;
  }
}

interface Pending {
  signed: SignedEvent;
  e: GroupEvent;
  verified: boolean;
  from: PeerId | undefined;
}

const slotKey = (author: PeerId, seq: number) => `${author}\0${seq}`;

export class GroupReplica {
  readonly groupId: GroupId;
  readonly self: PeerId;
  /** Stored events in total order. */
  private readonly log: StoredEntry[] = [];
  private readonly byId = new Map<string, StoredEntry>();
  /** Per author, the stored events by seq - 1 (always contiguous from seq 1). */
  private readonly chains = new Map<PeerId, StoredEntry[]>();
  /** Public keys proven by member certificates carried in stored create/add events. */
  private readonly keys = new Map<PeerId, KeyObject>();
  private readonly timeline = new MembershipTimeline();
  private readonly pending = new Map<string, Pending[]>();
  private pendingCount = 0;
  private maxLamport = 0;
  private hasGenesis = false;
  private readonly newId = monotonicFactory();

  constructor(groupId: GroupId, self: PeerId) {
    this.groupId = groupId;
    this.self = self;
  }

  /** Founds a group with `self` as owner. `members` may omit the creator. */
  static create(
    identity: Identity,
    opts: { name: string; members: GroupMember[]; ts?: number },
  ): { replica: GroupReplica; signed: SignedEvent; entry: StoredEntry; recipients: PeerId[] } {
    const { groupId, nonce } = newGroupId(identity.id);
    const members = [{ id: identity.id, cert: certDer(identity) }, ...opts.members.filter((m) => m.id !== identity.id)];
    const replica = new GroupReplica(groupId, identity.id);
    const sent = replica.sign(identity, { kind: 'create', body: { name: opts.name, nonce, members } }, opts.ts);
    return { replica, ...sent };
  }

  /**
   * Rebuilds a replica from stored events (any order). Their signatures were checked when they
   * were first stored, so they are not checked again; everything else is.
   */
  static restore(groupId: GroupId, self: PeerId, events: Iterable<SignedEvent>): GroupReplica {
    const replica = new GroupReplica(groupId, self);
    replica.receive(events, undefined, { trusted: true });
    return replica;
  }

  // ---- receiving ---------------------------------------------------------------------------

  /**
   * Checks and stores events from `from` (their author or any member forwarding them), in any
   * order. Those that cannot be checked yet wait, and are stored by a later call once what they
   * need has arrived.
   */
  receive(events: Iterable<SignedEvent>, from?: PeerId, opts: { trusted?: boolean } = {}): ReceiveResult {
    const result: ReceiveResult = { stored: [], changed: [], duplicates: 0, refused: [], pending: 0 };
    for (const signed of events) {
      let e: GroupEvent;
      try {
        e = decodeEvent(signed.ev);
      } catch (err) {
        result.refused.push({ reason: 'malformed', from, detail: (err as Error).message });
        continue;
      }
      if (e.group !== this.groupId) {
        result.refused.push(this.refusal('wrong-group', e, from, 'event of another group'));
        continue;
      }
      if (this.settled(e, signed, from, result)) continue;
      const key = slotKey(e.author, e.seq);
      const waiting = this.pending.get(key) ?? [];
      if (waiting.some((p) => sameBytes(p.signed.ev, signed.ev) && sameBytes(p.signed.sig, signed.sig))) {
        result.duplicates++;
        continue;
      }
      if (this.pendingCount >= MAX_PENDING) {
        // Dropped, not lost: whoever holds it offers it again on the next sync.
        result.refused.push(this.refusal('pending-full', e, from, `${MAX_PENDING} events already wait to be checked`));
        continue;
      }
      waiting.push({ signed, e, verified: opts.trusted === true, from });
      this.pending.set(key, waiting);
      this.pendingCount++;
    }
    this.drain(result);
    result.pending = this.pendingCount;
    return result;
  }

  /**
   * If the event's ID or its author's seq is already stored, decides what it is (a duplicate,
   * or a refusal) and returns true; false if it is new.
   */
  private settled(e: GroupEvent, signed: SignedEvent, from: PeerId | undefined, result: ReceiveResult): boolean {
    const known = this.byId.get(e.id) ?? this.chains.get(e.author)?.[e.seq - 1];
    if (!known) return false;
    if (known.e.id === e.id && sameBytes(known.signed.ev, signed.ev)) {
      // The same event; a different (valid) PSS signature over the same bytes is still it.
      result.duplicates++;
      return true;
    }
    // Someone's signature must be checked to tell a forger from an author who signed twice.
    const key = this.keys.get(e.author);
    if (!key || !signatureValid(signed, key)) {
      result.refused.push(this.refusal('bad-signature', e, from, 'altered or forged: the signature does not verify with the author key'));
    } else if (known.e.id === e.id) {
      result.refused.push(this.refusal('conflict', e, from, 'the author signed another event with this ID'));
    } else if (known.e.author === e.author && known.e.seq === e.seq) {
      result.refused.push(this.refusal('equivocation', e, from, `the author signed two events with seq ${e.seq}`));
    } else {
      result.refused.push(this.refusal('conflict', e, from, 'this ID belongs to another event'));
    }
    return true;
  }

  private refusal(reason: RefusalReason, e: GroupEvent, from: PeerId | undefined, detail: string): Refusal {
    return { reason, id: e.id, author: e.author, seq: e.seq, from, detail };
  }

  /** Stores whatever waiting events can now be checked, until none can. */
  private drain(result: ReceiveResult): void {
    const storedNow = new Set<StoredEntry>();
    for (;;) {
      // In total order: an event's causal past sorts before it, so one pass usually does it.
      const queue = [...this.pending.values()].flat().sort((a, b) => compareKeys(a.e, b.e));
      let progress = false;
      for (const p of queue) {
        const outcome = this.tryStore(p, result, storedNow);
        if (outcome === 'wait') continue;
        progress = true;
        const key = slotKey(p.e.author, p.e.seq);
        const rest = this.pending.get(key)!.filter((x) => x !== p);
        if (rest.length > 0) this.pending.set(key, rest);
        else this.pending.delete(key);
        this.pendingCount--;
      }
      if (!progress) break;
    }
    result.changed = result.changed.filter((entry) => !storedNow.has(entry));
  }

  private tryStore(p: Pending, result: ReceiveResult, storedNow: Set<StoredEntry>): 'done' | 'wait' {
    const { e, signed, from } = p;
    if (this.settled(e, signed, from, result)) return 'done';
    if (e.kind === 'create') {
      // Honest members never make a create inside an existing group, so a create is either the
      // genesis or refused; refusing one by someone else breaks only that author's own seq chain.
      if (groupIdFor(e.author, e.body.nonce) !== this.groupId) {
        result.refused.push(this.refusal('bad-genesis', e, from, 'a create event whose author did not found this group'));
        return 'done';
      }
      if (e.seq !== 1 || e.lamport !== 1) {
        result.refused.push(this.refusal('bad-genesis', e, from, 'the genesis must have seq 1 and lamport 1'));
        return 'done';
      }
      const own = e.body.members.find((m) => m.id === e.author)!;
      let key: KeyObject;
      try {
        key = keyForMember(e.author, own.cert);
      } catch (err) {
        result.refused.push(this.refusal('bad-genesis', e, from, (err as GroupEventError).message));
        return 'done';
      }
      if (!p.verified && !signatureValid(signed, key)) {
        result.refused.push(this.refusal('bad-signature', e, from, 'altered or forged: the signature does not verify with the author key'));
        return 'done';
      }
      this.store(p, result, storedNow);
      return 'done';
    }
    if (!this.hasGenesis) return 'wait';
    const key = this.keys.get(e.author);
    if (!key) return 'wait'; // the add that brings the author's certificate has not arrived
    if (!p.verified) {
      if (!signatureValid(signed, key)) {
        result.refused.push(this.refusal('bad-signature', e, from, 'altered or forged: the signature does not verify with the author key'));
        return 'done';
      }
      p.verified = true;
    }
    const held = this.chains.get(e.author)?.length ?? 0;
    if (e.seq > held + 1) return 'wait'; // a gap: the author's earlier events come first
    if (e.lamport > this.log.length + 1 + MAX_LAMPORT_AHEAD) {
      result.refused.push(this.refusal('bad-clock', e, from, `lamport ${e.lamport} is implausibly far ahead`));
      return 'done';
    }
    if (e.lamport > this.log.length + 1) return 'wait'; // events its author had seen are missing
    this.store(p, result, storedNow);
    return 'done';
  }

  private store(p: Pending, result: ReceiveResult, storedNow: Set<StoredEntry>): void {
    const { e, signed } = p;
    const chain = this.chains.get(e.author) ?? [];
    let intrinsic: RejectReason | undefined;
    const prev = chain[e.seq - 2];
    // An author's clock only moves forward; going back is how one would backdate an event to
    // before its own removal, so it is refused its effect (the owner's remove stays ordered).
    if (prev && e.lamport <= prev.e.lamport) intrinsic = 'clock-went-backwards';
    if (e.kind === 'create' || e.kind === 'add') {
      for (const m of e.body.members) {
        try {
          const key = keyForMember(m.id, m.cert);
          if (!this.keys.has(m.id)) this.keys.set(m.id, key);
        } catch {
          intrinsic ??= 'bad-member-cert';
        }
      }
    }
    const entry: StoredEntry = { e, signed, intrinsic, verdict: { ok: true } };
    const at = this.upperBound(e);
    this.log.splice(at, 0, entry);
    this.byId.set(e.id, entry);
    chain.push(entry);
    this.chains.set(e.author, chain);
    if (e.lamport > this.maxLamport) this.maxLamport = e.lamport;
    if (e.kind === 'create') this.hasGenesis = true;
    result.stored.push(entry);
    storedNow.add(entry);
    if (!MEMBERSHIP_KINDS.has(e.kind)) {
      entry.verdict = this.timeline.verdictOf(e, intrinsic);
      return;
    }
    this.timeline.insert(e, intrinsic);
    // A membership event can change the verdict on everything after it.
    for (let i = at; i < this.log.length; i++) {
      const later = this.log[i]!;
      const verdict = this.timeline.verdictOf(later.e, later.intrinsic);
      if (later !== entry && !sameVerdict(verdict, later.verdict)) result.changed.push(later);
      later.verdict = verdict;
    }
  }

  private upperBound(e: GroupEvent): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.log[mid]!.e, e) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- authoring -----------------------------------------------------------------------------

  /**
   * Writes, signs and stores an event by `identity` (this replica's own member) and returns
   * whom to send it to. The caller stores it durably before sending, as for 1:1 messages.
   */
  compose(identity: Identity, content: GroupContent, ts?: number): { signed: SignedEvent; entry: StoredEntry; recipients: PeerId[] } {
    if (identity.id !== this.self) throw new GroupError('invalid', 'a replica composes for its own member only');
    if (content.kind === 'create') throw new GroupError('invalid', 'a group is created with GroupReplica.create');
    const head = this.timeline.head();
    if (!head.members.has(this.self)) throw new GroupError('not-a-member', 'not a member of this group');
    if ((content.kind === 'add' || content.kind === 'remove') && head.owner !== this.self) {
      throw new GroupError('not-owner', 'only the group owner adds and removes members');
    }
    if (content.kind === 'remove' && content.body.ids.includes(this.self)) throw new GroupError('invalid', 'the owner leaves instead of removing itself');
    return this.sign(identity, content, ts);
  }

  private sign(identity: Identity, content: GroupContent, ts = Date.now()): { signed: SignedEvent; entry: StoredEntry; recipients: PeerId[] } {
    // A certificate that does not prove its member would void the whole event on every member.
    if (content.kind === 'create' || content.kind === 'add') for (const m of content.body.members) keyForMember(m.id, m.cert);
    const seq = (this.chains.get(this.self)?.length ?? 0) + 1;
    const signed = signEvent(
      identity,
      { group: this.groupId, id: this.newId(), author: this.self, seq, lamport: this.maxLamport + 1, ts, content },
      this.signingKey(identity),
    );
    const r = this.receive([signed], undefined, { trusted: true });
    const entry = r.stored[0];
    if (!entry) throw new GroupError('invalid', `own event not stored: ${r.refused[0]?.detail ?? 'waiting'}`);
    return { signed, entry, recipients: this.timeline.recipients(entry.e) };
  }

  private key?: { pem: string; key: KeyObject };
  private signingKey(identity: Identity): KeyObject {
    if (this.key?.pem !== identity.keyPem) this.key = { pem: identity.keyPem, key: createPrivateKey(identity.keyPem) };
    return this.key.key;
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Stored events in the order every member shows them, each with its verdict. */
  entries(): readonly StoredEntry[] {
    return this.log;
  }

  get(id: string): StoredEntry | undefined {
    return this.byId.get(id);
  }

  /** Members, owner and name after everything stored. */
  state(): MembershipState {
    return this.timeline.head();
  }

  isMember(peer: PeerId): boolean {
    return this.timeline.head().members.has(peer);
  }

  /** The membership changes that took effect, in order (for "Alice added Bob" lines). */
  history(): Array<{ e: GroupEvent; after: MembershipState }> {
    return this.timeline.history();
  }

  /** Whom the author of a stored event sends it to (see MembershipTimeline.recipients). */
  recipientsOf(id: string): PeerId[] {
    const entry = this.byId.get(id);
    return entry ? this.timeline.recipients(entry.e) : [];
  }

  /** Author → highest seq stored without a gap: what this replica tells others in gsync. */
  vector(): SyncVector {
    return new Map([...this.chains].map(([author, chain]) => [author, chain.length]));
  }

  /** The next batch for `peer`, who says it holds `theirs`: only what this view entitles it to. */
  select(peer: PeerId, theirs: SyncVector, limits: { maxEvents: number; maxBytes: number } = SYNC_BATCH): { events: SignedEvent[]; more: boolean } {
    return selectForPeer(this.log, theirs, this.timeline.entitlement(peer), limits);
  }

  /**
   * What is known to be missing: authors with events waiting behind a gap (the seq after the
   * last one stored comes next), and whether the genesis itself is missing. Non-empty means
   * "send gsync to a member": the vector asks for exactly what is missing.
   */
  gaps(): { genesis: boolean; authors: Array<{ author: PeerId; next: number; waiting: number }> } {
    const byAuthor = new Map<PeerId, number>();
    for (const list of this.pending.values()) for (const p of list) byAuthor.set(p.e.author, (byAuthor.get(p.e.author) ?? 0) + 1);
    const authors = [...byAuthor].map(([author, waiting]) => ({ author, next: (this.chains.get(author)?.length ?? 0) + 1, waiting }));
    return { genesis: !this.hasGenesis && this.pendingCount > 0, authors };
  }

  /** Events waiting to be checked (held in memory only: whoever sent them offers them again). */
  waiting(): number {
    return this.pendingCount;
  }
}

function sameVerdict(a: Verdict, b: Verdict): boolean {
  if (a.ok || b.ok) return a.ok === b.ok;
  return a.reason === b.reason;
}
