// Catch-up between any two members. Each side summarises what it holds as a vector
// {author → highest seq held without a gap}; the other sends, in total order and in bounded
// batches, the events the vector lacks that the asker is entitled to. Because every event is
// signed by its author, it does not matter who sends it: a member who missed 200 messages
// gets them from whichever members are online, whether or not the author is.
import { z } from 'zod';
import { PeerIdSchema, type PeerId } from '../../contract/contract.ts';
import { compareKeys, GroupIdSchema, SignedEventSchema, type GroupEvent, type SignedEvent } from './group-message.ts';
import type { Entitlement } from './membership.ts';

/** Author → highest seq held with every lower one held too. Absent = 0. */
export type SyncVector = ReadonlyMap<PeerId, number>;

/**
 * One sync reply's bounds. A batch holds at least one event even if that one is bigger than
 * maxBytes (an event is at most MAX_EVENT_BYTES), so a frame stays under MAX_FRAME_BYTES: either
 * a single event of ≤ 224 KiB or events totalling ≤ 192 KiB, plus ~300 bytes each of framing.
 */
export const SYNC_BATCH = { maxEvents: 256, maxBytes: 192 * 1024 } as const;
/** Authors a vector may name: more than a group can hold at once, since members come and go. */
export const MAX_VECTOR_AUTHORS = 4096;

const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The wire form of a vector: [author, seq] pairs (a map keyed by peer ID could hold only 64). */
export const SyncVectorWire = z
  .array(z.tuple([PeerIdSchema, u53.min(1)]))
  .max(MAX_VECTOR_AUTHORS)
  .refine((pairs) => new Set(pairs.map((p) => p[0])).size === pairs.length, 'an author is named twice');

export function vectorToWire(v: SyncVector): Array<[PeerId, number]> {
  return [...v].filter(([, seq]) => seq > 0).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function vectorFromWire(pairs: ReadonlyArray<readonly [PeerId, number]>): SyncVector {
  return new Map(pairs.map(([id, seq]) => [id, seq]));
}

// ---- frames proposed for frames.ts (capability 'groups/1') ---------------------------------

/**
 * "This is what I durably hold of the group; send me what I lack." Sent on every new link to a
 * peer that is a member in the sender's view, after storing a batch that said `more`, and when
 * a gap shows (GroupReplica.gaps()). It also serves as the ack: an event is delivered to a peer
 * once the peer's vector covers it.
 */
export const GroupSyncFrame = z.object({ t: z.literal('gsync'), group: GroupIdSchema, have: SyncVectorWire });

/**
 * Events of one group, in total order: a reply to gsync (`more` = the sender has more for the
 * asker, who asks again once it has stored these) or an author's live send (`more` false).
 */
export const GroupEventsFrame = z.object({
  t: z.literal('gev'),
  group: GroupIdSchema,
  evs: z.array(SignedEventSchema).min(1).max(SYNC_BATCH.maxEvents),
  more: z.boolean(),
});

export type GroupSyncFrame = z.infer<typeof GroupSyncFrame>;
export type GroupEventsFrame = z.infer<typeof GroupEventsFrame>;

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
