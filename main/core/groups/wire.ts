// The parts of the group schemas that wire frames need (protocol/frames.ts). Kept apart from
// group-message.ts, which imports the codec: frames.ts importing that would be an import cycle
// (codec → frames → group-message → codec) whose outcome depends on which module loads first.
import { z } from 'zod';
import { PeerIdSchema } from '../../contract/contract.ts';

/**
 * Largest signed event. A create naming 256 members with RSA-2048 certificates is ~210 KB; the
 * cap keeps one event plus its signature and frame fields inside MAX_FRAME_BYTES (256 KiB). A
 * group with bigger certificates is created with fewer members and grown by add events.
 */
export const MAX_EVENT_BYTES = 224 * 1024;
export const MAX_SIG_BYTES = 1024;
/**
 * One sync reply's bounds. A batch holds at least one event even if that one is bigger than
 * maxBytes (an event is at most MAX_EVENT_BYTES), so a frame stays under MAX_FRAME_BYTES: either
 * a single event of ≤ 224 KiB or events totalling ≤ 192 KiB, plus ~300 bytes each of framing.
 */
export const SYNC_BATCH = { maxEvents: 256, maxBytes: 192 * 1024 } as const;
/** Authors a vector may name: more than a group can hold at once, since members come and go. */
export const MAX_VECTOR_AUTHORS = 4096;

export const GroupIdSchema = z.string().regex(/^[A-Z2-7]{26}$/, 'not a group ID');

const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const bin = (min: number, max: number) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength >= min && v.byteLength <= max, `must be ${min}..${max} bytes of binary`);

/** The form that is stored and sent: the author's bytes and the signature over them. */
export const SignedEventSchema = z.object({ ev: bin(1, MAX_EVENT_BYTES), sig: bin(64, MAX_SIG_BYTES) });

/** The wire form of a vector: [author, seq] pairs (a map keyed by peer ID could hold only 64). */
export const SyncVectorWire = z
  .array(z.tuple([PeerIdSchema, u53.min(1)]))
  .max(MAX_VECTOR_AUTHORS)
  .refine((pairs) => new Set(pairs.map((p) => p[0])).size === pairs.length, 'an author is named twice');
