// Length-prefixed MessagePack frames for the relay control protocol: [u32 BE length][payload],
// the same framing as the peer protocol (../protocol/codec.ts) with its own schemas and caps.
// Both the relay and its clients decode bytes from the other side, and Syncthing's
// CVE-2021-21404 (a negative length crashing relay and clients alike) is the reminder that
// either side may be hostile: every length is checked before anything is allocated, and no
// input makes push() do anything but return frames or throw a RelayProtocolError.
import { isUtf8 } from 'node:buffer';
import { decode, encode } from '@msgpack/msgpack';
import { msgpackProblem } from '../protocol/codec.ts';
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
 * raised later. After the first violation every push() throws again: there is no resync.
 */
export class RelayFrameDecoder {
  maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: RelayProtocolError | null = null;

  constructor(maxFrameBytes = MAX_RELAY_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): RelayFrame[] {
    if (this.failure) throw this.failure;
    try {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
      const frames: RelayFrame[] = [];
      while (this.buffered >= 4) {
        const len = this.peek4().readUInt32BE(0);
        if (len > this.maxFrameBytes) throw new RelayProtocolError('frame-too-large', `declared length ${len} exceeds ${this.maxFrameBytes}`);
        if (len === 0) throw new RelayProtocolError('empty-frame', 'declared length 0');
        if (this.buffered < 4 + len) break;
        const whole = this.take(4 + len);
        frames.push(decodeRelayPayload(whole.subarray(4)));
      }
      return frames;
    } catch (err) {
      this.failure = err instanceof RelayProtocolError ? err : new RelayProtocolError('bad-encoding', `decoder failure: ${(err as Error).message}`);
      this.chunks = [];
      this.buffered = 0;
      throw this.failure;
    }
  }

  private peek4(): Buffer {
    if (this.chunks[0]!.byteLength < 4) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.byteLength < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.byteLength === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
