// The relay's own wire protocol (version 1), as zod schemas. It is separate from the peer
// protocol in ../protocol/frames.ts: a relay never sees peer frames (they travel inside the
// peers' own TLS through a tunnel), and peers never accept relay frames on a Link.
//
// One TCP port carries two kinds of connection, told apart by their first byte:
//  - control: TLS 1.3 with client certificates (first byte 0x16, a TLS handshake record),
//    ALPN RELAY_ALPN, then length-prefixed MessagePack frames defined below;
//  - data: plain TCP starting with DATA_MAGIC and a 32-byte session key, answered by
//    [DATA_REPLY_TAG, code]; after code 0 the relay copies bytes blindly between the two
//    sides, which run the normal peer TLS + Link protocol inside.
import { z } from 'zod';
import { LIMITS, PeerIdSchema, PresenceSchema } from '../../contract/contract.ts';

export const RELAY_PROTOCOL_VERSION = 1;
export const RELAY_ALPN = 'parley-relay/1';
/** Largest control payload (after the 4-byte length) either side accepts. */
export const MAX_RELAY_FRAME_BYTES = 256 * 1024;
/** Before join succeeds a peer is unauthenticated: it gets a much smaller budget. */
export const MAX_PREJOIN_FRAME_BYTES = 4 * 1024;

/** "PRLYDATA": opens a data connection. */
export const DATA_MAGIC = Buffer.from('PRLYDATA', 'ascii');
export const SESSION_KEY_BYTES = 32;
export const DATA_HELLO_BYTES = DATA_MAGIC.length + SESSION_KEY_BYTES;
/** First byte of the relay's 2-byte answer on a data connection. */
export const DATA_REPLY_TAG = 0x50;
export const DATA_REPLY = {
  ok: 0,
  /** Unknown, expired or already used key. */
  badKey: 1,
  /** The other side never arrived. */
  timeout: 2,
  full: 3,
} as const;
export type DataReplyCode = (typeof DATA_REPLY)[keyof typeof DATA_REPLY];

const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a ULID');
const name = z.string().min(1).max(LIMITS.displayName);
const rid = z.number().int().min(1).max(2 ** 31);
const bin = (min: number, max: number) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength >= min && v.byteLength <= max, `must be ${min}..${max} bytes of binary`);

export const MemberSchema = z.object({ id: PeerIdSchema, name, presence: PresenceSchema });
export type Member = z.infer<typeof MemberSchema>;

/**
 * A message sealed to its recipient and signed by its sender (see seal.ts). The relay can read
 * only what it needs to route and account: from, to, id and sizes.
 */
export const EnvelopeSchema = z.object({
  v: z.literal(1),
  /** The message ID (ULID): the relay's dedup key and the recipient's ack. */
  id: ulid,
  from: PeerIdSchema,
  to: PeerIdSchema,
  /** The sender's certificate (DER): its SPKI hash must equal `from`. */
  cert: bin(64, 8 * 1024),
  /** AES-256 key wrapped with RSA-OAEP(SHA-256) to the recipient's public key. */
  wrappedKey: bin(64, 1024),
  iv: bin(12, 12),
  ct: bin(1, 64 * 1024),
  tag: bin(16, 16),
  /** RSA-PSS(SHA-256) by the sender over every field above (seal.ts: signedBytes). */
  sig: bin(64, 1024),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const REFUSE_REASONS = ['token', 'full', 'version', 'rate', 'protocol', 'replaced', 'shutdown'] as const;
export type RefuseReason = (typeof REFUSE_REASONS)[number];
export const CONNECT_FAIL_REASONS = ['offline', 'full', 'self', 'rate'] as const;
export type ConnectFailReason = (typeof CONNECT_FAIL_REASONS)[number];

// ---- client → relay ----------------------------------------------------------------------

export const JoinFrame = z.object({
  t: z.literal('join'),
  v: z.number().int().min(1).max(65535),
  token: z.string().max(256).nullable(),
  name,
  presence: PresenceSchema,
});
export const PresenceUpdateFrame = z.object({ t: z.literal('presence'), name, presence: PresenceSchema });
export const ConnectFrame = z.object({ t: z.literal('connect'), peer: PeerIdSchema });
export const DepositFrame = z.object({ t: z.literal('deposit'), rid, items: z.array(EnvelopeSchema).min(1).max(256) });
export const CertRequestFrame = z.object({ t: z.literal('certReq'), rid, peer: PeerIdSchema });
export const MailAckFrame = z.object({ t: z.literal('mailAck'), ids: z.array(ulid).min(1).max(1024) });

// ---- relay → client ----------------------------------------------------------------------

export const JoinedFrame = z.object({
  t: z.literal('joined'),
  v: z.number().int().min(1).max(65535),
  /** The relay's limits that clients should respect (informational). */
  mailboxTtlMs: u53,
  mailboxQuotaItems: u53,
});
export const RefusedFrame = z.object({ t: z.literal('refused'), reason: z.enum(REFUSE_REASONS), message: z.string().max(200) });
/** Directory snapshot, possibly in several chunks: the first has reset=true, the last more=false. */
export const DirectoryFrame = z.object({
  t: z.literal('directory'),
  reset: z.boolean(),
  more: z.boolean(),
  members: z.array(MemberSchema).max(1024),
});
export const MemberFrame = z.object({ t: z.literal('member'), member: MemberSchema });
export const GoneFrame = z.object({ t: z.literal('gone'), peer: PeerIdSchema });
export const InviteFrame = z.object({
  t: z.literal('invite'),
  peer: PeerIdSchema,
  key: bin(SESSION_KEY_BYTES, SESSION_KEY_BYTES),
  /** True: this side plays TLS server (and its Link direction is 'in'). */
  server: z.boolean(),
  expiresInMs: z.number().int().min(1).max(10 * 60_000),
});
export const ConnectFailedFrame = z.object({ t: z.literal('connectFailed'), peer: PeerIdSchema, reason: z.enum(CONNECT_FAIL_REASONS) });
export const DepositedFrame = z.object({
  t: z.literal('deposited'),
  rid,
  accepted: z.array(ulid).max(256),
  refused: z.array(z.object({ id: ulid, reason: z.enum(['quota', 'too-large', 'sender', 'expired', 'invalid']) })).max(256),
});
export const CertReplyFrame = z.object({ t: z.literal('cert'), rid, peer: PeerIdSchema, cert: bin(64, 8 * 1024).nullable() });
export const MailFrame = z.object({ t: z.literal('mail'), items: z.array(EnvelopeSchema).min(1).max(256) });

// ---- both ways ---------------------------------------------------------------------------

export const RelayPingFrame = z.object({ t: z.literal('ping'), n: u53 });
export const RelayPongFrame = z.object({ t: z.literal('pong'), n: u53 });
export const RelayByeFrame = z.object({ t: z.literal('bye'), reason: z.string().max(200) });

export const RelayFrame = z.discriminatedUnion('t', [
  JoinFrame,
  PresenceUpdateFrame,
  ConnectFrame,
  DepositFrame,
  CertRequestFrame,
  MailAckFrame,
  JoinedFrame,
  RefusedFrame,
  DirectoryFrame,
  MemberFrame,
  GoneFrame,
  InviteFrame,
  ConnectFailedFrame,
  DepositedFrame,
  CertReplyFrame,
  MailFrame,
  RelayPingFrame,
  RelayPongFrame,
  RelayByeFrame,
]);
export type RelayFrame = z.infer<typeof RelayFrame>;
export type RelayFrameType = RelayFrame['t'];
export type RelayFrameOf<T extends RelayFrameType> = Extract<RelayFrame, { t: T }>;
export const RELAY_FRAME_TYPES: readonly RelayFrameType[] = RelayFrame.options.map((o) => o.shape.t.value);

/** Frames only a client may send, and only a relay may send; the rest (ping/pong/bye) go both ways. */
export const CLIENT_FRAME_TYPES: ReadonlySet<RelayFrameType> = new Set(['join', 'presence', 'connect', 'deposit', 'certReq', 'mailAck', 'ping', 'pong', 'bye']);
export const RELAY_ONLY_FRAME_TYPES: ReadonlySet<RelayFrameType> = new Set([
  'joined',
  'refused',
  'directory',
  'member',
  'gone',
  'invite',
  'connectFailed',
  'deposited',
  'cert',
  'mail',
  'ping',
  'pong',
  'bye',
]);
