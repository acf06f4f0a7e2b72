// Catch-up between any two members. Each side summarises what it holds as a vector
// {author → highest seq held without a gap}; the other sends, in total order and in bounded
// batches, the events the vector lacks that the asker is entitled to. Because every event is
// signed by its author, it does not matter who sends it: a member who missed 200 messages
// gets them from whichever members are online, whether or not the author is.
import type { PeerId } from '../../contract/contract.ts';
import type { FrameOf } from '../protocol/frames.ts';
import { compareKeys, type GroupEvent, type SignedEvent } from './group-message.ts';
import type { Entitlement } from './membership.ts';
import { MAX_VECTOR_AUTHORS, SYNC_BATCH, SyncVectorWire } from './wire.ts';

/** Author → highest seq held with every lower one held too. Absent = 0. */
export type SyncVector = ReadonlyMap<PeerId, number>;

export { MAX_VECTOR_AUTHORS, SYNC_BATCH, SyncVectorWire };

export function vectorToWire(v: SyncVector): Array<[PeerId, number]> {
  return [...v].filter(([, seq]) => seq > 0).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function vectorFromWire(pairs: ReadonlyArray<readonly [PeerId, number]>): SyncVector {
  return new Map(pairs.map(([id, seq]) => [id, seq]));
}

// The frames themselves live in protocol/frames.ts (capability 'groups/1').
export { GroupEventsFrame, GroupSyncFrame } from '../protocol/frames.ts';
export type GroupSyncFrame = FrameOf<'gsync'>;
export type GroupEventsFrame = FrameOf<'gev'>;

// ---- selection ---------------------------------------------------------------------------

export interface LogEntry {
  readonly e: GroupEvent;
  readonly signed: SignedEvent;
}

/**
 * What to send a peer whose vector is `theirs`: the events of `log` (in total order) they lack
 * and are entitled to, at most one batch, in total order. Sending in total order means every
 * event's causal past, including the add that admitted its author and the author's previous
 * event, comes before it, so the receiver can check each event as it arrives.
 *
 * Linear in the log; a store can answer the same with one query:
 *   events of the group where seq > their[author] (and position <= cut) order by
 *   (lamport, author, seq, id) limit maxEvents
 */
export function selectForPeer(
  log: Iterable<LogEntry>,
  theirs: SyncVector,
  entitled: Entitlement,
  limits: { maxEvents: number; maxBytes: number } = SYNC_BATCH,
): { events: SignedEvent[]; more: boolean } {
  const events: SignedEvent[] = [];
  if (entitled.kind === 'none') return { events, more: false };
  let bytes = 0;
  for (const { e, signed } of log) {
    if (entitled.kind === 'until' && compareKeys(e, entitled.key) > 0) break;
    if (e.seq <= (theirs.get(e.author) ?? 0)) continue;
    const size = signed.ev.byteLength + signed.sig.byteLength;
    if (events.length >= limits.maxEvents || (events.length > 0 && bytes + size > limits.maxBytes)) return { events, more: true };
    events.push(signed);
    bytes += size;
  }
  return { events, more: false };
}

/** True if `v` holds everything `w` holds (so a sync from w's holder would bring nothing). */
export function covers(v: SyncVector, w: SyncVector): boolean {
  for (const [author, seq] of w) if ((v.get(author) ?? 0) < seq) return false;
  return true;
}
