// Length-prefixed MessagePack frames: [u32 big-endian payload length][payload].
// Decoding never trusts a length before checking it against the cap, and every payload is
// validated against the frame schemas before anyone sees it.
import { decode, encode } from '@msgpack/msgpack';
import { Frame, FRAME_TYPES, MAX_FRAME_BYTES } from './frames.ts';

export class ProtocolError extends Error {
  readonly code: 'frame-too-large' | 'empty-frame' | 'bad-encoding' | 'unknown-type' | 'bad-frame';
  constructor(code: ProtocolError['code'], message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

const decodeLimits = {
  maxStrLength: MAX_FRAME_BYTES,
  maxBinLength: MAX_FRAME_BYTES,
  maxArrayLength: 4096,
  maxMapLength: 64,
  maxExtLength: 0,
  maxDepth: 8,
};

/** Encodes one frame including its length prefix. Throws if the frame would exceed the cap. */
export function encodeFrame(frame: Frame): Buffer {
  const payload = encode(frame);
  if (payload.byteLength > MAX_FRAME_BYTES) {
    throw new ProtocolError('frame-too-large', `frame of ${payload.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  const out = Buffer.allocUnsafe(4 + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, 4);
  return out;
}

/** Decodes and validates one payload (without its length prefix). */
export function decodePayload(payload: Uint8Array): Frame {
  if (payload.byteLength === 0) throw new ProtocolError('empty-frame', 'empty frame');
  let value: unknown;
  try {
    value = decode(payload, decodeLimits);
  } catch (err) {
    throw new ProtocolError('bad-encoding', `undecodable payload: ${(err as Error).message}`);
  }
  const t = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { t?: unknown }).t : undefined;
  if (typeof t !== 'string' || !(FRAME_TYPES as readonly string[]).includes(t)) {
    throw new ProtocolError('unknown-type', `unknown frame type ${JSON.stringify(String(t)).slice(0, 40)}`);
  }
  const parsed = Frame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProtocolError('bad-frame', `invalid ${t} frame: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
  }
  return parsed.data;
}

/**
 * Incremental decoder for a byte stream. push() returns every complete frame; the first
 * violation throws a ProtocolError and the decoder must then be discarded with its link.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) throw new ProtocolError('frame-too-large', `declared length ${len} exceeds ${MAX_FRAME_BYTES}`);
      if (len === 0) throw new ProtocolError('empty-frame', 'declared length 0');
      if (this.buffered < 4 + len) break;
      const whole = this.take(4 + len);
      frames.push(decodePayload(whole.subarray(4)));
    }
    return frames;
  }

  /** Bytes held for an unfinished frame (a link closing with these pending was truncated). */
  get pendingBytes(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.byteLength < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
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
