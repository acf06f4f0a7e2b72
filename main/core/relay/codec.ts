// Length-prefixed MessagePack frames for the relay control protocol: [u32 BE length][payload],
// the same framing as the peer protocol (../protocol/codec.ts) with its own schemas and caps.
// Both the relay and its clients decode bytes from the other side, and Syncthing's
// CVE-2021-21404 (a negative length crashing relay and clients alike) is the reminder that
// either side may be hostile: every length is checked before anything is allocated, and no
// input makes push() do anything but return frames or throw a RelayProtocolError.
import { isUtf8 } from 'node:buffer';
import { decode, encode } from '@msgpack/msgpack';
import { MAX_RELAY_FRAME_BYTES, RELAY_FRAME_TYPES, RelayFrame } from './frames.ts';

export class RelayProtocolError extends Error {
  readonly code: 'frame-too-large' | 'empty-frame' | 'bad-encoding' | 'unknown-type' | 'bad-frame';
  constructor(code: RelayProtocolError['code'], message: string) {
    super(message);
    this.name = 'RelayProtocolError';
    this.code = code;
  }
}

const MAX_DEPTH = 6;

/**
 * What is wrong with a MessagePack payload that decode() would accept anyway, or null:
 * invalid UTF-8 in strings (decoders disagree on it), nesting deeper than MAX_DEPTH (decode()
 * has no depth limit), non-string or duplicate map keys, trailing or missing bytes.
 * The same checks as the peer codec's scanner, kept here because that one is private.
 */
export function msgpackProblem(p: Uint8Array): string | null {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const open: Array<{ left: number; keys: Set<string> | null }> = [];
  let pos = 0;
  let roots = 0;
  try {
    while (pos < p.byteLength) {
      if (open.length === 0 && roots++ > 0) return 'trailing bytes after the frame';
      const b = view.getUint8(pos);
      let head = 1;
      let data = 0;
      let items = 0;
      let isStr = false;
      let isMap = false;
      if (b <= 0x7f || b >= 0xe0) {
        // fixint
      } else if (b <= 0x8f) [items, isMap] = [2 * (b & 0x0f), true];
      else if (b <= 0x9f) items = b & 0x0f;
      else if (b <= 0xbf) [data, isStr] = [b & 0x1f, true];
      else {
        const u8 = () => view.getUint8(pos + 1);
        const u16 = () => view.getUint16(pos + 1);
        const u32 = () => view.getUint32(pos + 1);
        switch (b) {
          case 0xc0: case 0xc2: case 0xc3: break;
          case 0xc1: return 'reserved byte 0xc1';
          case 0xc4: [head, data] = [2, u8()]; break;
          case 0xc5: [head, data] = [3, u16()]; break;
          case 0xc6: [head, data] = [5, u32()]; break;
          case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            return 'extension types are not used';
          case 0xca: case 0xce: case 0xd2: data = 4; break;
          case 0xcb: case 0xcf: case 0xd3: data = 8; break;
          case 0xcc: case 0xd0: data = 1; break;
          case 0xcd: case 0xd1: data = 2; break;
          case 0xd9: [head, data, isStr] = [2, u8(), true]; break;
          case 0xda: [head, data, isStr] = [3, u16(), true]; break;
          case 0xdb: [head, data, isStr] = [5, u32(), true]; break;
          case 0xdc: [head, items] = [3, u16()]; break;
          case 0xdd: [head, items] = [5, u32()]; break;
          case 0xde: [head, items, isMap] = [3, 2 * u16(), true]; break;
          case 0xdf: [head, items, isMap] = [5, 2 * u32(), true]; break;
          default: return `unexpected byte 0x${b.toString(16)}`;
        }
      }
      const start = pos + head;
      pos = start + data;
      if (pos > p.byteLength) return 'truncated';
      // A container cannot hold more items than bytes remain: refuse before tracking it.
      if (items > p.byteLength - pos) return 'truncated';
      if (isStr && !isUtf8(p.subarray(start, pos))) return 'a string is not valid UTF-8';
      const parent = open[open.length - 1];
      if (parent) {
        if (parent.keys && parent.left % 2 === 0) {
          if (!isStr) return 'a map key is not a string';
          const key = Buffer.from(p.buffer, p.byteOffset + start, data).toString('utf8');
          if (parent.keys.has(key)) return 'duplicate map key';
          parent.keys.add(key);
        }
        parent.left--;
      }
      if (items > 0) {
        open.push({ left: items, keys: isMap ? new Set() : null });
        if (open.length > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH}`;
      }
      while (open.length > 0 && open[open.length - 1]!.left === 0) open.pop();
    }
    return open.length > 0 || roots === 0 ? 'truncated' : null;
  } catch {
    return 'truncated';
  }
}

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
  const problem = msgpackProblem(payload);
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
