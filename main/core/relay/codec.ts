// Length-prefixed MessagePack frames for the relay control protocol: [u32 BE length][payload],
// the same framing as the peer protocol (../protocol/codec.ts) with its own schemas and caps.
// Both the relay and its clients decode bytes from the other side, and Syncthing's
// CVE-2021-21404 (a negative length crashing relay and clients alike) is the reminder that
// either side may be hostile: every length is checked before anything is allocated, and no
// input makes push() do anything but return frames or throw a RelayProtocolError.
import { isUtf8 } from 'node:buffer';
import { decode, encode } from '@msgpack/msgpack';
import { msgpackProblem } from '../protocol/codec.ts';
import { StreamDecoder } from '../protocol/stream-decoder.ts';
import { MAX_RELAY_FRAME_BYTES, RELAY_FRAME_TYPES, RelayFrame } from './frames.ts';

export { msgpackProblem };

export class RelayProtocolError extends Error {
  readonly code: 'frame-too-large' | 'empty-frame' | 'bad-encoding' | 'unknown-type' | 'bad-frame';
  constructor(code: RelayProtocolError['code'], message: string) {
    super(message);
    this.name = 'RelayProtocolError';
    this.code = code;
  }
}

const MAX_DEPTH = 6;


const decodeLimits = {
  maxStrLength: MAX_RELAY_FRAME_BYTES,
  maxBinLength: MAX_RELAY_FRAME_BYTES,
  maxArrayLength: 4096,
  maxMapLength: 64,
  maxExtLength: 0,
};

/** One frame with its length prefix. Throws RelayProtocolError when it exceeds `maxBytes`. */
export function encodeRelayFrame(frame: RelayFrame, maxBytes = MAX_RELAY_FRAME_BYTES): Buffer {
  const payload = encode(frame);
  if (payload.byteLength > maxBytes) {
    throw new RelayProtocolError('frame-too-large', `${frame.t} frame of ${payload.byteLength} bytes exceeds ${maxBytes}`);
  }
  const out = Buffer.allocUnsafe(4 + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, 4);
  return out;
}

/** Size of a frame on the wire, without building the buffer twice for batching decisions. */
export function relayFrameSize(frame: RelayFrame): number {
  return 4 + encode(frame).byteLength;
}

export function decodeRelayPayload(payload: Uint8Array): RelayFrame {
  if (payload.byteLength === 0) throw new RelayProtocolError('empty-frame', 'empty frame');
  const problem = msgpackProblem(payload, MAX_DEPTH);
  if (problem) throw new RelayProtocolError('bad-encoding', `undecodable payload: ${problem}`);
  let value: unknown;
  try {
    value = decode(payload, decodeLimits);
  } catch (err) {
    throw new RelayProtocolError('bad-encoding', `undecodable payload: ${(err as Error).message}`);
  }
  const t = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { t?: unknown }).t : undefined;
  if (typeof t !== 'string' || !(RELAY_FRAME_TYPES as readonly string[]).includes(t)) {
    throw new RelayProtocolError('unknown-type', `unknown relay frame type ${JSON.stringify(String(t)).slice(0, 40)}`);
  }
  const parsed = RelayFrame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RelayProtocolError('bad-frame', `invalid ${t} frame: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
  }
  return parsed.data;
}

/**
 * Incremental decoder for one control connection. The cap may be lowered (before join) and
 * raised later (maxFrameBytes is writable).
 */
export class RelayFrameDecoder extends StreamDecoder<RelayFrame, RelayProtocolError> {
  constructor(maxFrameBytes = MAX_RELAY_FRAME_BYTES) {
    super({ maxFrameBytes, decode: decodeRelayPayload, ErrorClass: RelayProtocolError });
  }
}
