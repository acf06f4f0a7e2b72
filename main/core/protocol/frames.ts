// Wire frames of protocol version 1, as zod schemas. PROTOCOL.md is the prose form of this
// file; test/unit/protocol-vectors.test.ts keeps the two in step.
import { z } from 'zod';
import { LIMITS, PeerIdSchema, PresenceSchema } from '../../contract/contract.ts';
import { GroupIdSchema, SignedEventSchema, SYNC_BATCH, SyncVectorWire } from '../groups/wire.ts';
import { isAnnouncedAddress } from '../links/address.ts';

export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;
export const ALPN = 'parley/1';
/** Largest payload (bytes after the 4-byte length) either side accepts. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Capabilities this build understands; a frame type outside the negotiated set is not sent. */
export const CAPABILITIES = ['msg/1', 'receipts/1', 'presence/1', 'typing/1', 'groups/1', 'rich/1', 'files/1'] as const;
/** Most listening addresses a Hello may announce. */
export const MAX_HELLO_ADDRS = 16;

const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a ULID');
const name = z.string().min(1).max(LIMITS.displayName);
const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const HelloFrame = z.object({
  t: z.literal('hello'),
  /** Highest protocol version the sender speaks, and the lowest it still accepts. */
  v: z.number().int().min(1).max(65535),
  min: z.number().int().min(1).max(65535),
  /** Must equal the ID derived from the sender's TLS certificate. */
  id: PeerIdSchema,
  name,
  presence: PresenceSchema,
  statusText: z.string().max(LIMITS.statusText),
  caps: z.array(z.string().max(64)).max(64),
  /** Random per process start: tells a restart from a reconnect. */
  instance: z.string().min(8).max(64),
  /** The sender's listening port, so the receiver of an incoming link can dial back later. */
  port: z.number().int().min(1).max(65535).optional(),
  /**
   * The sender's own listening addresses (IP literal:port), so that a peer first met through a
   * relay can try a direct path. Inside the end-to-end TLS: the relay never sees them.
   */
  addrs: z
    .array(z.string().max(64).refine(isAnnouncedAddress, 'not an IP:port address'))
    .max(MAX_HELLO_ADDRS)
    .optional(),
});

export const PingFrame = z.object({ t: z.literal('ping'), n: u53 });
export const PongFrame = z.object({ t: z.literal('pong'), n: u53 });

/**
 * What an op (capability `rich/1`) does to an earlier message of the same conversation. An op
 * is itself a message (id, seq, lamport, outbox, ack) but never a line of history: the target
 * changes instead (PROTOCOL.md §8.5).
 */
export const MessageOp = z.discriminatedUnion('k', [
  z.object({ k: z.literal('edit'), target: ulid, text: z.string().min(1).max(LIMITS.messageText) }),
  z.object({ k: z.literal('delete'), target: ulid }),
  z.object({ k: z.literal('react'), target: ulid, emoji: z.string().min(1).max(32), on: z.boolean() }),
]);
export type MessageOp = z.infer<typeof MessageOp>;

/**
 * A folder is sent as one offer per file, each carrying the same descriptor (PROTOCOL.md
 * §14.1): the receiver groups them, creates one top folder for them, and puts each file at
 * `path` inside it. Only bounded here; the receiver makes `name` and `path` safe itself.
 */
export const FolderOfferWire = z.object({
  id: ulid,
  /** The top folder's name as the sender has it. */
  name: z.string().min(1).max(1024),
  /** Where this file sits inside the folder ('' at the top; '/' separates). */
  path: z.string().max(4096),
  /** Files and bytes in the whole folder, as the sender says. */
  count: z.number().int().min(1).max(10_000),
  bytes: u53,
});
export type FolderOfferWire = z.infer<typeof FolderOfferWire>;

/**
 * A file offered with a message (`files/1`, PROTOCOL.md §14.1): what to show before accepting,
 * and the whole manifest, so that accepting needs nothing more than the parley-file stream.
 * The receiver checks `thumb` itself (magic bytes, size) and drops a bad one, not the message.
 */
export const FileOfferWire = z.object({
  /** Transfer ID: the `id` of the parley-file/1 `open`. */
  transfer: ulid,
  name: z.string().min(1).max(1024),
  size: u53,
  mime: z.string().min(1).max(255),
  kind: z.enum(['file', 'image', 'audio', 'video', 'voice']).catch('file'),
  /** chunkSize, chunk hashes (32 bytes each, at most 1,024) and the file's SHA-256. */
  chunk: z.number().int().min(64 * 1024).max(16 * 1024 * 1024),
  hashes: z.instanceof(Uint8Array).refine((b) => b.byteLength <= 1024 * 32, 'at most 1,024 hashes'),
  hash: z.instanceof(Uint8Array).refine((b) => b.byteLength === 32, '32 bytes'),
  thumb: z.instanceof(Uint8Array).refine((b) => b.byteLength <= LIMITS.thumbnailBytes, 'thumbnail too large').optional().catch(undefined),
  w: z.number().int().min(1).max(100_000).optional().catch(undefined),
  h: z.number().int().min(1).max(100_000).optional().catch(undefined),
  dur: z.number().int().min(0).max(24 * 3600 * 1000).optional().catch(undefined),
  /** Part of a folder. A malformed descriptor reads as `false`: the offer is then invalid, not a loose file. */
  folder: FolderOfferWire.or(z.literal(false)).optional().catch(false),
});
export type FileOfferWire = z.infer<typeof FileOfferWire>;

export const MessageBody = z
  .object({
    /** Empty only in an op (whose text, if any, is the op's). */
    text: z.string().max(LIMITS.messageText),
    /** The message this one answers (same conversation). Older builds ignore it. */
    replyTo: ulid.optional(),
    /** Group members named with @; in a direct message, ignored. */
    mentions: z.array(PeerIdSchema).max(LIMITS.mentions).optional(),
    /** Sent as an office-wide broadcast. Older builds ignore it. */
    broadcast: z.boolean().optional(),
    /** Only to peers with `rich/1`: older builds would refuse a message without text. */
    op: MessageOp.optional(),
    /** A file offered with this message (`files/1`); the text may then be empty. */
    file: FileOfferWire.optional(),
  })
  .refine((b) => (b.op ? b.text === '' : b.text.length > 0 || b.file !== undefined), 'text must be non-empty, or empty in an op');

export const MsgFrame = z.object({
  t: z.literal('msg'),
  id: ulid,
  conv: z.string().min(1).max(200),
  author: PeerIdSchema,
  seq: u53.min(1),
  lamport: u53.min(1),
  ts: u53,
  body: MessageBody,
});

export const AckFrame = z.object({ t: z.literal('ack'), ids: z.array(ulid).min(1).max(1024) });
export const NackFrame = z.object({
  t: z.literal('nack'),
  id: ulid,
  code: z.enum(['conflict', 'invalid']),
});
export const ReadFrame = z.object({ t: z.literal('read'), conv: z.string().min(1).max(200), upTo: ulid });
export const PresenceFrame = z.object({
  t: z.literal('presence'),
  name,
  presence: PresenceSchema,
  statusText: z.string().max(LIMITS.statusText),
});
/** Ephemeral: "I am typing in conv" (true) or stopped (false). Never stored, never acked. */
export const TypingFrame = z.object({ t: z.literal('typing'), conv: z.string().min(1).max(200), active: z.boolean() });
/**
 * "This is what I durably hold of the group; send me what I lack" (groups/README.md). Sent on
 * every new link to a peer that is a member in the sender's view, after storing a batch that
 * said `more`, and when a gap shows. It is also the ack: an event is delivered to a peer once
 * the peer's vector covers it.
 */
export const GroupSyncFrame = z.object({ t: z.literal('gsync'), group: GroupIdSchema, have: SyncVectorWire });
/**
 * Signed events of one group, in total order: a reply to gsync (`more`: the sender has more for
 * the asker, who asks again once it has stored these) or an author's live send (`more` false).
 */
export const GroupEventsFrame = z.object({
  t: z.literal('gev'),
  group: GroupIdSchema,
  evs: z.array(SignedEventSchema).min(1).max(SYNC_BATCH.maxEvents),
  more: z.boolean(),
});
/**
 * A file offer's fate, told to the other side (`files/1`): the receiver declined it, or either
 * side canceled it. `id` is the transfer ID; only the offer's sender and receivers act on it.
 */
export const XferFrame = z.object({ t: z.literal('xfer'), id: ulid, state: z.enum(['declined', 'canceled']) });
export const ByeFrame = z.object({ t: z.literal('bye'), reason: z.string().max(200) });

export const Frame = z.discriminatedUnion('t', [
  HelloFrame,
  PingFrame,
  PongFrame,
  MsgFrame,
  AckFrame,
  NackFrame,
  ReadFrame,
  PresenceFrame,
  TypingFrame,
  GroupSyncFrame,
  GroupEventsFrame,
  XferFrame,
  ByeFrame,
]);
export type Frame = z.infer<typeof Frame>;
export type FrameType = Frame['t'];
export type FrameOf<T extends FrameType> = Extract<Frame, { t: T }>;
export const FRAME_TYPES: readonly FrameType[] = Frame.options.map((o) => o.shape.t.value);
