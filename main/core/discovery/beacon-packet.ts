// The UDP beacon's wire format: 4-byte magic, 1-byte version, one MessagePack map.
// Anyone on the LAN can send us anything, so decoding never throws: it returns a reason
// that the receiver counts, and every field passes a zod schema before anyone sees it.
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { LIMITS, PeerIdSchema, PresenceSchema } from '../../contract/contract.ts';
import { isIpLiteral } from './interfaces.ts';

export const BEACON_MAGIC = Buffer.from('PRLY', 'ascii');
export const BEACON_VERSION = 1;
/** Fits one Ethernet frame with IPv6 and UDP headers; larger datagrams are dropped unread. */
export const MAX_BEACON_BYTES = 1400;
export const MAX_CLAIMED_ADDRESSES = 8;

// No control characters in peer-supplied text: they corrupt logs and UIs.
const printable = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), 'control characters');

export const BeaconPayloadSchema = z.object({
  t: z.enum(['hello', 'bye']),
  id: PeerIdSchema,
  instance: z.string().regex(/^[A-Za-z0-9_-]{8,32}$/),
  port: z.number().int().min(1).max(65535),
  name: printable(LIMITS.displayName).refine((s) => s.trim().length > 0, 'empty name'),
  presence: PresenceSchema,
  statusText: printable(LIMITS.statusText),
  addresses: z
    .array(z.string().max(64).refine((a) => isIpLiteral(a) && !a.includes('%'), 'not an IP address'))
    .max(MAX_CLAIMED_ADDRESSES)
    .optional(),
});
export type BeaconPayload = z.infer<typeof BeaconPayloadSchema>;

export type BeaconDropReason = 'oversize' | 'magic' | 'version' | 'malformed';

export type DecodeResult = { ok: true; beacon: BeaconPayload } | { ok: false; reason: BeaconDropReason };

const decodeLimits = {
  maxStrLength: MAX_BEACON_BYTES,
  maxBinLength: 0,
  maxArrayLength: MAX_CLAIMED_ADDRESSES,
  maxMapLength: 16,
  maxExtLength: 0,
  maxDepth: 3,
};

export class BeaconEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BeaconEncodeError';
  }
}

/** Validates and encodes one beacon. Throws BeaconEncodeError on our own bad input. */
export function encodeBeacon(payload: BeaconPayload): Buffer {
  const parsed = BeaconPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BeaconEncodeError(`invalid beacon: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
  }
  // Absent optional fields must stay absent: nil would fail the receiver's schema.
  const body = encode(parsed.data, { ignoreUndefined: true });
  const out = Buffer.concat([BEACON_MAGIC, Buffer.from([BEACON_VERSION]), body]);
  if (out.byteLength > MAX_BEACON_BYTES) {
    throw new BeaconEncodeError(`beacon of ${out.byteLength} bytes exceeds ${MAX_BEACON_BYTES}`);
  }
  return out;
}

export function decodeBeacon(packet: Uint8Array): DecodeResult {
  if (packet.byteLength > MAX_BEACON_BYTES) return { ok: false, reason: 'oversize' };
  if (packet.byteLength < BEACON_MAGIC.byteLength + 1) return { ok: false, reason: 'magic' };
  for (let i = 0; i < BEACON_MAGIC.byteLength; i++) {
    if (packet[i] !== BEACON_MAGIC[i]) return { ok: false, reason: 'magic' };
  }
  if (packet[BEACON_MAGIC.byteLength] !== BEACON_VERSION) return { ok: false, reason: 'version' };
  let value: unknown;
  try {
    value = decode(packet.subarray(BEACON_MAGIC.byteLength + 1), decodeLimits);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const parsed = BeaconPayloadSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: 'malformed' };
  return { ok: true, beacon: parsed.data };
}
