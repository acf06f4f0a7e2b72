// Length-prefixed MessagePack frames: [u32 big-endian payload length][payload].
// Decoding never trusts a length before checking it against the cap, and every payload is
// validated against the frame schemas before anyone sees it.
import { isUtf8 } from 'node:buffer';
import { decode, encode } from '@msgpack/msgpack';
import { Frame, FRAME_TYPES, MAX_FRAME_BYTES } from './frames.ts';
import { StreamDecoder } from './stream-decoder.ts';

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
};

// A JS string may hold a lone surrogate, which has no UTF-8 form. @msgpack/msgpack would emit
// it as a CESU-style 3-byte sequence (short strings) or as U+FFFD (long ones); peers reject the
// former as invalid UTF-8, and a message a peer rejects that way is resent forever. So the
// encoder always makes the substitution TextEncoder makes: a lone surrogate becomes U+FFFD.
const LONE_SURROGATE = /\p{Cs}/u;

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasLoneSurrogate);
  return false;
}

function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\p{Cs}/gu, '\uFFFD');
  if (Array.isArray(value)) return value.map(wellFormed);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wellFormed(v)]));
  }
  return value;
}

/** Containers nested deeper than this are refused (frames need 2; @msgpack/msgpack has no such limit). */
const MAX_DEPTH = 8;

/**
 * Walks the MessagePack token stream before decode() builds anything and returns what is wrong
 * with it, or null. It checks what decode() does not:
 * - Every str token (map keys included) must be valid UTF-8. @msgpack/msgpack decodes short
 *   strings leniently (0xFF becomes "ÿ", an overlong C0 80 a NUL, encoded surrogates pass
 *   through) and long ones with U+FFFD substitution, so two clients would read the same bytes
 *   as different text.
 * - Nesting depth: decode() accepts any depth, and 256 KiB of one-element arrays costs it
 *   ~100 ms of CPU and 262,144 objects.
 * - Map keys must be strings and unique. decode() lets a later duplicate win silently, while
 *   another decoder might keep the first, so a duplicate makes a frame mean two things.
 * - No extension types: frames have no use for them, and decode() would turn an empty one of
 *   any type into an object.
 * (Floats and bin are allowed: unknown fields are ignored, and a later version may use them.)
 * Input is untrusted here: every step advances, and every read is bounds-checked.
 */
export function msgpackProblem(p: Uint8Array, maxDepth = MAX_DEPTH): string | null {
  const end = p.byteLength;
  // Open containers, innermost last, as parallel stacks (this runs for every frame received):
  // items still expected, and for maps the offset into `keys` where their keys start.
  const left: number[] = [];
  const keysFrom: number[] = [];
  /** [start, length] of every key of the open maps, to find duplicates without decoding. */
  const keys: number[] = [];
  let pos = 0;
  while (pos < end) {
    const b = p[pos]!;
    let head = 1; // bytes before the token's data
    let data = 0; // bytes of data: string/bin body or number value
    let isStr = false;
    let items = 0; // children, for a container header
    let isMap = false;
    if (b <= 0x7f || b >= 0xe0) {
      // fixint
    } else if (b <= 0x8f) {
      items = 2 * (b & 0x0f);
      isMap = true;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
    } else if (b <= 0xbf) {
      data = b & 0x1f;
      isStr = true;
    } else {
      // Variable-size headers: a big-endian length or count of 1, 2 or 4 bytes after the type.
      const size = b === 0xd9 || b === 0xc4 ? 1 : b === 0xda || b === 0xc5 || b === 0xdc || b === 0xde ? 2 : b === 0xdb || b === 0xc6 || b === 0xdd || b === 0xdf ? 4 : 0;
      if (size > 0) {
        if (pos + 1 + size > end) return 'truncated';
        const n = size === 1 ? p[pos + 1]! : size === 2 ? (p[pos + 1]! << 8) | p[pos + 2]! : p[pos + 1]! * 0x1000000 + ((p[pos + 2]! << 16) | (p[pos + 3]! << 8) | p[pos + 4]!);
        head = 1 + size;
        if (b === 0xc4 || b === 0xc5 || b === 0xc6) {
          data = n; // bin
        } else if (b === 0xd9 || b === 0xda || b === 0xdb) {
          data = n;
          isStr = true;
        } else if (b === 0xdc || b === 0xdd) {
          items = n;
        } else {
          items = 2 * n;
          isMap = true;
        }
      } else {
        switch (b) {
          case 0xc1:
            return 'reserved byte 0xc1';
          case 0xc7: // ext 8/16/32 and fixext 1..16: decode() would let an empty one through
          case 0xc8:
          case 0xc9:
          case 0xd4:
          case 0xd5:
          case 0xd6:
          case 0xd7:
          case 0xd8:
            return 'extension types are not used';
          case 0xcc:
          case 0xd0:
            data = 1;
            break;
          case 0xcd:
          case 0xd1:
            data = 2;
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            data = 4;
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            data = 8;
            break;
          default: // nil, false, true
            break;
        }
      }
    }
    const start = pos + head;
    pos = start + data;
    if (pos > end) return 'truncated';
    if (isStr && !validUtf8(p, start, pos)) return 'a string is not valid UTF-8';
    const depth = left.length;
    if (depth > 0) {
      const from = keysFrom[depth - 1]!;
      if (from >= 0 && left[depth - 1]! % 2 === 0) {
        if (!isStr) return 'a map key is not a string';
        for (let k = from; k < keys.length; k += 2) {
          if (sameBytes(p, keys[k]!, start, keys[k + 1]!, data)) return 'duplicate map key';
        }
        keys.push(start, data);
      }
      left[depth - 1]!--;
    }
    if (items > 0) {
      if (depth + 1 > maxDepth) return `nested deeper than ${maxDepth}`;
      // Checked here, before decode() would, because the duplicate-key scan is quadratic.
      if (isMap && items / 2 > decodeLimits.maxMapLength) return `map of more than ${decodeLimits.maxMapLength} entries`;
      if (!isMap && items > decodeLimits.maxArrayLength) return `array of more than ${decodeLimits.maxArrayLength} elements`;
      left.push(items);
      keysFrom.push(isMap ? keys.length : -1);
    }
    while (left.length > 0 && left[left.length - 1] === 0) {
      left.pop();
      const from = keysFrom.pop()!;
      if (from >= 0) keys.length = from;
    }
  }
  return left.length > 0 ? 'truncated' : null;
}

/** ASCII is checked inline: most strings are short, and a native call costs more than the loop. */
function validUtf8(p: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (p[i]! >= 0x80) return isUtf8(p.subarray(start, end));
  return true;
}

function sameBytes(p: Uint8Array, a: number, b: number, aLen: number, bLen: number): boolean {
  if (aLen !== bLen) return false;
  for (let i = 0; i < aLen; i++) if (p[a + i] !== p[b + i]) return false;
  return true;
}

/**
 * Encodes one frame including its length prefix. Throws if the frame would exceed the cap.
 * Lone surrogates in strings are sent as U+FFFD (see wellFormed above); fields whose value is
 * undefined are left out.
 */
export function encodeFrame(frame: Frame): Buffer {
  // An optional field set to undefined is absent, not nil: receivers reject nil for it.
  const payload = encode(hasLoneSurrogate(frame) ? wellFormed(frame) : frame, { ignoreUndefined: true });
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
  const problem = msgpackProblem(payload);
  if (problem) throw new ProtocolError('bad-encoding', `undecodable payload: ${problem}`);
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
 * Frames completed earlier in the same chunk as the violation are not returned: nothing on the
 * link is trusted once it went wrong, and the protocol never needs them (unacked messages are
 * resent on the next link).
 */
export class FrameDecoder extends StreamDecoder<Frame, ProtocolError> {
  constructor() {
    super({ maxFrameBytes: MAX_FRAME_BYTES, decode: decodePayload, ErrorClass: ProtocolError });
  }
}
