// Signed group events. Every message, rename and membership change in a group is an event
// its author signs with the identity key, so any member can forward any event to any other
// and nobody on the way can alter it or make one up in someone else's name.
//
// What is signed is the exact MessagePack bytes the author produced (`ev`), not a re-encoding
// of the decoded fields. A receiver verifies the bytes it got and decodes them afterwards, so:
//  - no canonicalisation: PROTOCOL.md lets encoders choose integer and string formats, and two
//    encoders need not agree byte for byte, which a verify-over-re-encoding scheme would need;
//  - forwarding is byte-exact: a member running an older version stores and forwards fields
//    and kinds it does not understand without breaking their signature.
// The author still writes one canonical form (fields in the order of encodeEvent below,
// shortest formats), which is what the test vectors of a later PROTOCOL.md section can pin.
import { constants, createHash, createPrivateKey, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { LIMITS, PeerIdSchema, type PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { base32, peerIdFromCertificate } from '../identity/peer-id.ts';
import { msgpackProblem } from '../protocol/codec.ts';
import { FileOfferWire } from '../protocol/frames.ts';
import { bin, GroupIdSchema, MAX_EVENT_BYTES, MAX_SIG_BYTES, SignedEventSchema } from './wire.ts';

/** At most this many members in a group, and in one create or add event. */
export const MAX_GROUP_MEMBERS = 256;
export const MAX_GROUP_NAME = LIMITS.displayName;
/** A DER certificate: RSA-2048 ones made here are ~750 bytes; 4 KiB leaves room for RSA-4096. */
export const MAX_CERT_BYTES = 4 * 1024;
export { MAX_EVENT_BYTES, MAX_SIG_BYTES };

/** Kinds this version understands. Others are kept and forwarded, shown as unsupported. */
export const KNOWN_KINDS = ['create', 'text', 'rename', 'add', 'remove', 'leave', 'edit', 'delete', 'react'] as const;
/** Kinds that act on an earlier message (store/rich.ts folds them): never a line of history. */
export const OP_KINDS: ReadonlySet<string> = new Set(['edit', 'delete', 'react']);
export type KnownKind = (typeof KNOWN_KINDS)[number];
/** Kinds that change who is in the group or what it is called: the membership fold's input. */
export const MEMBERSHIP_KINDS: ReadonlySet<string> = new Set(['create', 'rename', 'add', 'remove', 'leave']);

// Domain separation: a signature over a group event can never pass as a mailbox envelope's
// (seal.ts signs 'parley-mailbox-v1\0'-prefixed bytes) or anything else signed with the key.
const SIG_DOMAIN = Buffer.from('parley-group-event/1\0', 'ascii');
const GROUP_ID_DOMAIN = Buffer.from('parley-group-id/1\0', 'ascii');
/**
 * RSA-PSS with SHA-256, as seal.ts: one scheme for everything the identity key signs. PSS has
 * a security proof that PKCS#1 v1.5 lacks. v1.5's one practical advantage, deterministic
 * signatures, buys nothing here: an event's identity is its signed bytes, never its
 * signature, and an author signs each event once and stores it.
 */
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

export type GroupId = string;
export { GroupIdSchema, SignedEventSchema };

const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a ULID');
const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Code points, as PROTOCOL.md §4 counts text: an emoji is one, however many UTF-16 units. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
const text = (min: number, max: number) =>
  z.string().refine((s) => {
    const n = codePoints(s);
    return n >= min && n <= max;
  }, `must be ${min}..${max} characters`);

export const GroupMemberSchema = z.object({ id: PeerIdSchema, cert: bin(64, MAX_CERT_BYTES) });
export type GroupMember = z.infer<typeof GroupMemberSchema>;
const memberList = z
  .array(GroupMemberSchema)
  .min(1)
  .max(MAX_GROUP_MEMBERS)
  .refine((ms) => new Set(ms.map((m) => m.id)).size === ms.length, 'a member is named twice');

const header = {
  group: GroupIdSchema,
  id: ulid,
  author: PeerIdSchema,
  /** Per author and group: 1, 2, 3, … without gaps. */
  seq: u53.min(1),
  lamport: u53.min(1),
  /** The author's wall clock, for display only: it never decides order. */
  ts: u53,
};

export const TextBody = z.object({
  /** Empty only when the event offers a file. */
  text: text(0, LIMITS.messageText),
  replyTo: ulid.optional(),
  /** Members named with @ (their IDs; who is named is shown, and notified, as the receiver sees fit). */
  mentions: z
    .array(PeerIdSchema)
    .max(LIMITS.mentions)
    .refine((ids) => new Set(ids).size === ids.length, 'an ID is named twice')
    .optional(),
  /** A file offered to the members (files/1, PROTOCOL.md §14.1): each member that accepts pulls it from the author. */
  file: FileOfferWire.optional(),
}).refine((b) => b.text.length > 0 || b.file !== undefined, { message: 'empty text', path: ['text'] });
/** Only the author of `target` may edit or delete it; anyone who may post reacts (store/rich.ts). */
export const EditBody = z.object({ target: ulid, text: text(1, LIMITS.messageText) });
export const DeleteBody = z.object({ target: ulid });
export const ReactBody = z.object({ target: ulid, emoji: z.string().min(1).max(32), on: z.boolean() });
/** `nonce` binds the group ID to its creator: see groupIdFor(). */
export const CreateBody = z.object({ name: text(1, MAX_GROUP_NAME), nonce: bin(16, 16), members: memberList });
export const RenameBody = z.object({ name: text(1, MAX_GROUP_NAME) });
export const AddBody = z.object({ members: memberList });
export const RemoveBody = z.object({
  ids: z
    .array(PeerIdSchema)
    .min(1)
    .max(MAX_GROUP_MEMBERS)
    .refine((ids) => new Set(ids).size === ids.length, 'an ID is named twice'),
});
export const LeaveBody = z.object({});

const known = z.discriminatedUnion('kind', [
  z.object({ ...header, kind: z.literal('create'), body: CreateBody }).refine((e) => e.body.members.some((m) => m.id === e.author), 'the creator must be a member'),
  z.object({ ...header, kind: z.literal('text'), body: TextBody }),
  z.object({ ...header, kind: z.literal('rename'), body: RenameBody }),
  z.object({ ...header, kind: z.literal('add'), body: AddBody }),
  z.object({ ...header, kind: z.literal('remove'), body: RemoveBody }),
  z.object({ ...header, kind: z.literal('leave'), body: LeaveBody }),
  z.object({ ...header, kind: z.literal('edit'), body: EditBody }),
  z.object({ ...header, kind: z.literal('delete'), body: DeleteBody }),
  z.object({ ...header, kind: z.literal('react'), body: ReactBody }),
]);

/**
 * A kind from a later version (edit, delete, reaction, file offer, …). It must still be
 * accepted, stored and forwarded: every author's events are counted without gaps (sync.ts),
 * so a member that dropped one would wait forever for the author's next. A new kind that
 * changes membership or permissions would make older members fold differently, so such a
 * kind needs a new group version rather than just a new name.
 */
const future = z
  .object({ ...header, kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), body: z.record(z.string(), z.unknown()) })
  .refine((e) => !(KNOWN_KINDS as readonly string[]).includes(e.kind) && e.kind !== 'unsupported', 'known kind with an invalid body')
  .transform(({ kind, ...rest }) => ({ ...rest, kind: 'unsupported' as const, wireKind: kind }));

/** An event as it crosses the wire, decoded from its signed bytes. */
export const GroupEventSchema = z.union([known, future]);
export type GroupEvent = z.infer<typeof GroupEventSchema>;
export type GroupEventOf<K extends GroupEvent['kind']> = Extract<GroupEvent, { kind: K }>;
/** What an author writes: the kind and its body (never 'unsupported'). */
export type GroupContent = { [K in KnownKind]: { kind: K; body: GroupEventOf<K>['body'] } }[KnownKind];

export type SignedEvent = z.infer<typeof SignedEventSchema>;

export class GroupEventError extends Error {
  readonly code: 'malformed' | 'too-large' | 'bad-certificate' | 'bad-signature';
  constructor(code: GroupEventError['code'], message: string) {
    super(message);
    this.name = 'GroupEventError';
    this.code = code;
  }
}

// ---- group IDs ---------------------------------------------------------------------------

/**
 * A group ID is 128 bits of SHA-256(creator ID, random nonce), not a bare random value: only
 * the holder of the creator's key can sign a create event that hashes to it, so a member
 * cannot pass off a create of its own (naming itself owner) as the group's origin, and a
 * receiver knows the true creator from the create event alone.
 */
export function groupIdFor(creator: PeerId, nonce: Uint8Array): GroupId {
  return base32(createHash('sha256').update(GROUP_ID_DOMAIN).update(creator, 'ascii').update(nonce).digest().subarray(0, 16));
}

export function newGroupId(creator: PeerId): { groupId: GroupId; nonce: Uint8Array } {
  const nonce = new Uint8Array(randomBytes(16));
  return { groupId: groupIdFor(creator, nonce), nonce };
}

// ---- encoding, signing, verifying -------------------------------------------------------

export interface UnsignedEvent {
  group: GroupId;
  id: string;
  author: PeerId;
  seq: number;
  lamport: number;
  ts: number;
  content: GroupContent;
}

/** The canonical bytes of an event: fields in this order, optional ones left out when unset. */
export function encodeEvent(e: UnsignedEvent): Uint8Array {
  const c = e.content;
  const body =
    c.kind === 'text'
      ? { text: c.body.text.toWellFormed(), replyTo: c.body.replyTo, mentions: c.body.mentions?.length ? c.body.mentions : undefined, file: c.body.file }
      : c.kind === 'edit'
        ? { target: c.body.target, text: c.body.text.toWellFormed() }
        : c.body;
  const ev = encode(
    { group: e.group, id: e.id, author: e.author, seq: e.seq, lamport: e.lamport, ts: e.ts, kind: e.content.kind, body },
    { ignoreUndefined: true },
  );
  return ev;
}

function signedBytes(ev: Uint8Array): Buffer {
  return Buffer.concat([SIG_DOMAIN, ev]);
}

/** Encodes, checks and signs an event. Throws GroupEventError if it is not a valid event. */
export function signEvent(author: Identity, e: UnsignedEvent, key: KeyObject = createPrivateKey(author.keyPem)): SignedEvent {
  if (e.author !== author.id) throw new GroupEventError('malformed', 'an event is signed by its author only');
  const ev = encodeEvent(e);
  if (ev.byteLength > MAX_EVENT_BYTES) throw new GroupEventError('too-large', `event of ${ev.byteLength} bytes exceeds ${MAX_EVENT_BYTES}`);
  decodeEvent(ev); // what we send must be what receivers accept
  return { ev, sig: new Uint8Array(sign('sha256', signedBytes(ev), { key, ...PSS })) };
}

const decodeLimits = { maxStrLength: MAX_EVENT_BYTES, maxBinLength: MAX_EVENT_BYTES, maxArrayLength: 4096, maxMapLength: 64, maxExtLength: 0 };

/** Decodes and validates signed bytes without checking the signature. */
export function decodeEvent(ev: Uint8Array): GroupEvent {
  if (ev.byteLength > MAX_EVENT_BYTES) throw new GroupEventError('too-large', `event of ${ev.byteLength} bytes exceeds ${MAX_EVENT_BYTES}`);
  // The same rules as frames (valid UTF-8, unique string keys, bounded depth): bytes that two
  // decoders would read differently must not be signable content.
  const problem = msgpackProblem(ev);
  if (problem) throw new GroupEventError('malformed', `undecodable event: ${problem}`);
  let value: unknown;
  try {
    value = decode(ev, decodeLimits);
  } catch (err) {
    throw new GroupEventError('malformed', `undecodable event: ${(err as Error).message}`);
  }
  // The kind picks the schema, so an error names the field at fault instead of "no union
  // member matched".
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  const parsed = (typeof kind === 'string' && (KNOWN_KINDS as readonly string[]).includes(kind) ? known : GroupEventSchema).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GroupEventError('malformed', `invalid event: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
  }
  return parsed.data;
}

/** The public key a certificate (DER) holds, if that key's hash is `id`. */
export function keyForMember(id: PeerId, certDer: Uint8Array): KeyObject {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength));
  } catch {
    throw new GroupEventError('bad-certificate', 'not a certificate');
  }
  // Only the key counts (PROTOCOL.md §1.1): who issued the certificate does not matter, since
  // a certificate naming someone else's key only lets us check that someone's signatures.
  if (peerIdFromCertificate(cert.raw) !== id) throw new GroupEventError('bad-certificate', 'the certificate does not prove the member ID');
  return cert.publicKey;
}

/** True if `sig` is the author's signature over `ev`, checked with the author's public key. */
export function signatureValid(signed: SignedEvent, authorKey: KeyObject): boolean {
  try {
    return verify('sha256', signedBytes(signed.ev), { key: authorKey, ...PSS }, signed.sig);
  } catch {
    return false;
  }
}

/**
 * Checks that `authorCert` proves the event's author and that the author signed exactly these
 * bytes, then returns the decoded event. Throws GroupEventError otherwise.
 */
export function verifyEvent(signed: SignedEvent, authorCert: Uint8Array): GroupEvent {
  const event = decodeEvent(signed.ev);
  const key = keyForMember(event.author, authorCert);
  if (!signatureValid(signed, key)) throw new GroupEventError('bad-signature', 'the author signature does not verify');
  return event;
}

export function certDer(identity: Identity): Uint8Array {
  return new Uint8Array(new X509Certificate(identity.certPem).raw);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

// ---- order -------------------------------------------------------------------------------

export type OrderKey = Pick<GroupEvent, 'lamport' | 'author' | 'seq' | 'id'>;

/**
 * The total order every member shows: (lamport, author, seq, id), as for 1:1 conversations
 * (PROTOCOL.md §9). Wall clocks never take part. IDs only matter if an author reuses a seq,
 * which a replica never stores twice anyway.
 */
export function compareKeys(a: OrderKey, b: OrderKey): number {
  if (a.lamport !== b.lamport) return a.lamport < b.lamport ? -1 : 1;
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}
