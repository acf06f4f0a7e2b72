// The file stream protocol, `parley-file/1`: its own pinned TLS connection per transfer
// (PROTOCOL.md § 14), so a large file never queues in front of chat frames. Same framing as
// the link ([u32 length][MessagePack map with `t`]) and the same MessagePack rules, with its
// own frame types. The receiver pulls: it names the transfer, says which chunks it has, and
// asks for chunks with a bounded window; the sender answers each chunk as `data` frames of at
// most DATA_BYTES, so every frame stays under the 256 KiB cap and a 16 MiB chunk is never one
// allocation on the wire.
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { msgpackProblem } from '../protocol/codec.ts';
import { FILE_LIMITS, TransferIdSchema } from './manifest.ts';

export const FILE_ALPN = 'parley-file/1';
export const FILE_STREAM_VERSION = 1;
/** Largest payload either side accepts, as on the link: a data frame is DATA_BYTES plus 29 bytes. */
export const MAX_FILE_FRAME_BYTES = 256 * 1024;
/**
 * File bytes per data frame. 128 KiB divides every chunk size (64 KiB chunks are one frame),
 * is 8 TLS records, and the per-frame cost (one decode, one zod parse, one copy) is then
 * noise next to hashing the bytes.
 */
export const DATA_BYTES = 128 * 1024;
/** Most chunks a receiver may have asked for and not yet received in full; a sender may announce fewer. */
export const MAX_WINDOW_CHUNKS = 64;
/** One bit per chunk. */
export const MAX_HAVE_BYTES = FILE_LIMITS.maxChunks / 8;

/**
 * Why a stream ended, told to the other side in `end`. The receiver's codes are
 * TransferError.peerCode values; the others are the stream's own. Unknown codes from a newer
 * peer are read as 'peer-error' rather than refused.
 */
export const END_CODES = [
  // Either side.
  'canceled', // a person canceled the transfer: it is over
  'protocol', // the other side broke this protocol
  // The receiver (TransferError.peerCode).
  'refused-name',
  'too-large',
  'disk-full',
  'quota-exceeded',
  'bad-chunk', // a chunk did not match its hash, or had the wrong size
  'bad-file', // every chunk matched but the whole file did not
  'complete', // received before (a restart after publishing): nothing left to send
  'receiver-error',
  // The sender.
  'unknown-transfer', // no such offer for this peer (never made, finished, or withdrawn)
  'source-changed', // the file changed since it was offered
  'source-gone', // the file cannot be read any more
  'sender-error',
  'superseded', // a newer stream for the same transfer replaced this one
  'peer-error', // a code this version does not know
] as const;
export type EndCode = (typeof END_CODES)[number];

const u32 = z.number().int().min(0).max(0xffff_ffff);
const chunkIndex = z.number().int().min(0).max(FILE_LIMITS.maxChunks - 1);
const indices = z.array(chunkIndex).min(1).max(MAX_WINDOW_CHUNKS);
const bin = z.instanceof(Uint8Array);

export const OpenFrame = z.object({
  t: z.literal('open'),
  v: z.number().int().min(1).max(65535),
  /** The transfer, as offered. */
  id: TransferIdSchema,
  /** manifestDigest() of the manifest the receiver accepted: the same ID for other content is refused. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Chunks the receiver already holds verified: bit i (LSB first) of byte i >> 3. */
  have: bin.refine((b) => b.byteLength <= MAX_HAVE_BYTES, `at most ${MAX_HAVE_BYTES} bytes`),
});
export const ReadyFrame = z.object({
  t: z.literal('ready'),
  /** Most chunks the sender lets the receiver have asked for and not received. */
  window: z.number().int().min(1).max(MAX_WINDOW_CHUNKS),
});
export const ReqFrame = z.object({ t: z.literal('req'), i: indices });
export const DataFrame = z.object({
  t: z.literal('data'),
  /** Chunk index. */
  i: chunkIndex,
  /** Offset in the chunk: each chunk's frames come in order, without gaps. */
  o: u32,
  b: bin.refine((b) => b.byteLength >= 1 && b.byteLength <= DATA_BYTES, `1 to ${DATA_BYTES} bytes`),
});
/** Chunks now verified and durable on the receiver (progress on the sender's side). */
export const OkFrame = z.object({ t: z.literal('ok'), i: indices });
/** The receiver published the file: the transfer is over. */
export const DoneFrame = z.object({ t: z.literal('done') });
export const EndFrame = z.object({
  t: z.literal('end'),
  code: z
    .string()
    .max(64)
    .transform((c): EndCode => ((END_CODES as readonly string[]).includes(c) ? (c as EndCode) : 'peer-error')),
  /** The same transfer can go on later (after space is freed, the file is back, ...). */
  resumable: z.boolean(),
});

export const FileFrame = z.discriminatedUnion('t', [OpenFrame, ReadyFrame, ReqFrame, DataFrame, OkFrame, DoneFrame, EndFrame]);
export type FileFrame = z.infer<typeof FileFrame>;
export type FileFrameOf<T extends FileFrame['t']> = Extract<FileFrame, { t: T }>;
/** What encodeFileFrame takes: `end` codes as sent (the schema reads unknown ones as 'peer-error'). */
export type OutgoingFileFrame = Exclude<FileFrame, { t: 'data' }>;
const FILE_FRAME_TYPES: readonly string[] = ['open', 'ready', 'req', 'data', 'ok', 'done', 'end'];

export class FileStreamError extends Error {
  readonly code: 'frame-too-large' | 'empty-frame' | 'bad-encoding' | 'unknown-type' | 'bad-frame';
  constructor(code: FileStreamError['code'], message: string) {
    super(message);
    this.name = 'FileStreamError';
    this.code = code;
  }
}

const decodeLimits = {
  maxStrLength: 4096,
  maxBinLength: MAX_FILE_FRAME_BYTES,
  maxArrayLength: MAX_WINDOW_CHUNKS,
  maxMapLength: 16,
  maxExtLength: 0,
};

function framed(payload: Uint8Array): Buffer {
  if (payload.byteLength > MAX_FILE_FRAME_BYTES) {
    throw new FileStreamError('frame-too-large', `frame of ${payload.byteLength} bytes exceeds ${MAX_FILE_FRAME_BYTES}`);
  }
  const out = Buffer.allocUnsafe(4 + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, 4);
  return out;
}

/** Every frame but `data`, with its length prefix. */
export function encodeFileFrame(frame: OutgoingFileFrame): Buffer {
  return framed(encode(frame, { ignoreUndefined: true }));
}

/** `{t:"data", i:<uint32>, o:<uint32>, b:<bin32 header>}`: 29 bytes before the file bytes. */
const DATA_HEAD_BYTES = 29;

/**
 * The length prefix and MessagePack head of a data frame, to be written followed by `length`
 * file bytes: the bytes are never copied into a frame buffer. Integers are written as uint32
 * and the bin as bin32 (receivers accept any integer and bin format).
 */
export function encodeDataHead(index: number, offset: number, length: number): Buffer {
  if (length < 1 || length > DATA_BYTES) throw new RangeError(`a data frame carries 1 to ${DATA_BYTES} bytes`);
  const head = Buffer.allocUnsafe(4 + DATA_HEAD_BYTES);
  head.writeUInt32BE(DATA_HEAD_BYTES + length, 0);
  let p = 4;
  head[p++] = 0x84; // map of 4
  head[p++] = 0xa1; // "t"
  head[p++] = 0x74;
  head[p++] = 0xa4; // "data"
  p += head.write('data', p, 'latin1');
  head[p++] = 0xa1; // "i"
  head[p++] = 0x69;
  head[p++] = 0xce;
  head.writeUInt32BE(index, p);
  p += 4;
  head[p++] = 0xa1; // "o"
  head[p++] = 0x6f;
  head[p++] = 0xce;
  head.writeUInt32BE(offset, p);
  p += 4;
  head[p++] = 0xa1; // "b"
  head[p++] = 0x62;
  head[p++] = 0xc6; // bin32
  head.writeUInt32BE(length, p);
  return head;
}

/** Decodes and validates one payload (without its length prefix). */
export function decodeFilePayload(payload: Uint8Array): FileFrame {
  if (payload.byteLength === 0) throw new FileStreamError('empty-frame', 'empty frame');
  const problem = msgpackProblem(payload);
  if (problem) throw new FileStreamError('bad-encoding', `undecodable payload: ${problem}`);
  let value: unknown;
  try {
    value = decode(payload, decodeLimits);
  } catch (err) {
    throw new FileStreamError('bad-encoding', `undecodable payload: ${(err as Error).message}`);
  }
  const t = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { t?: unknown }).t : undefined;
  if (typeof t !== 'string' || !FILE_FRAME_TYPES.includes(t)) {
    throw new FileStreamError('unknown-type', `unknown frame type ${JSON.stringify(String(t)).slice(0, 40)}`);
  }
  const parsed = FileFrame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FileStreamError('bad-frame', `invalid ${t} frame: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
  }
  return parsed.data;
}

/**
 * Where a data frame's bytes should land: a view of `length` bytes for chunk `index` at
 * `offset`, or null to have the frame decoded as usual (and judged by whoever reads it).
 */
export type DataTarget = (index: number, offset: number, length: number) => Uint8Array | null;

/** The fields of a data frame head exactly as encodeDataHead() writes it, or null. */
function canonicalDataHead(head: Buffer, payloadBytes: number): { i: number; o: number; n: number } | null {
  // Length prefix, then: map of 4, "t" "data", "i" uint32, "o" uint32, "b" bin32.
  const at = 4;
  if (
    head[at] !== 0x84 || head[at + 1] !== 0xa1 || head[at + 2] !== 0x74 || head[at + 3] !== 0xa4 ||
    head.toString('latin1', at + 4, at + 8) !== 'data' ||
    head[at + 8] !== 0xa1 || head[at + 9] !== 0x69 || head[at + 10] !== 0xce ||
    head[at + 15] !== 0xa1 || head[at + 16] !== 0x6f || head[at + 17] !== 0xce ||
    head[at + 22] !== 0xa1 || head[at + 23] !== 0x62 || head[at + 24] !== 0xc6
  ) {
    return null;
  }
  const i = head.readUInt32BE(at + 11);
  const o = head.readUInt32BE(at + 18);
  const n = head.readUInt32BE(at + 25);
  // What DataFrame's schema checks; anything else goes the usual way and fails there.
  if (n !== payloadBytes - DATA_HEAD_BYTES || n < 1 || n > DATA_BYTES || i > FILE_LIMITS.maxChunks - 1) return null;
  return { i, o, n };
}

/**
 * parley-file/1 frames from a byte stream: the same framing and rules as the link's
 * StreamDecoder (a length is checked before anything is buffered for it; after the first
 * violation every push fails the same way). With a `dataTarget`, a data frame in the exact form
 * encodeDataHead() writes is copied piece by piece, as the bytes arrive, straight to where the
 * target says (a chunk buffer), and emitted once complete with `b` a view of that place: no
 * buffer per frame, no concatenation, no MessagePack or schema pass per 128 KiB. Every other
 * frame, and a data frame the target declines, is decoded and validated as usual.
 */
export class FileFrameDecoder {
  readonly #target: DataTarget | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failure: FileStreamError | null = null;
  /** A data frame being copied to its target. */
  #direct: { i: number; o: number; dest: Uint8Array; filled: number } | null = null;

  constructor(opts: { dataTarget?: DataTarget } = {}) {
    this.#target = opts.dataTarget;
  }

  /** Bytes held for an unfinished frame. */
  get pendingBytes(): number {
    return this.#buffered + (this.#direct ? 4 + DATA_HEAD_BYTES + this.#direct.filled : 0);
  }

  push(chunk: Buffer): FileFrame[] {
    if (this.#failure) throw this.#failure;
    try {
      return this.#decode(chunk);
    } catch (err) {
      this.#failure = err instanceof FileStreamError ? err : new FileStreamError('bad-encoding', `decoder failure: ${(err as Error).message}`);
      this.#chunks = [];
      this.#buffered = 0;
      this.#direct = null;
      throw this.#failure;
    }
  }

  #decode(chunk: Buffer): FileFrame[] {
    const frames: FileFrame[] = [];
    const queue: Buffer[] = [chunk];
    for (;;) {
      const d = this.#direct;
      if (d) {
        const next = queue.shift();
        if (!next) return frames;
        const n = Math.min(next.byteLength, d.dest.byteLength - d.filled);
        d.dest.set(n === next.byteLength ? next : next.subarray(0, n), d.filled);
        d.filled += n;
        if (n < next.byteLength) queue.unshift(next.subarray(n));
        if (d.filled < d.dest.byteLength) continue;
        this.#direct = null;
        // The target's memory may be shared (PullStream's chunk buffers): the reader knows.
        frames.push({ t: 'data', i: d.i, o: d.o, b: d.dest as Uint8Array<ArrayBuffer> });
        continue;
      }
      for (const c of queue.splice(0)) {
        if (c.byteLength === 0) continue;
        this.#chunks.push(c);
        this.#buffered += c.byteLength;
      }
      if (this.#buffered < 4) return frames;
      const len = this.#peek(4).readUInt32BE(0);
      if (len > MAX_FILE_FRAME_BYTES) throw new FileStreamError('frame-too-large', `declared length ${len} exceeds ${MAX_FILE_FRAME_BYTES}`);
      if (len === 0) throw new FileStreamError('empty-frame', 'declared length 0');
      if (this.#target && len > DATA_HEAD_BYTES && this.#buffered >= 4 + DATA_HEAD_BYTES) {
        const head = canonicalDataHead(this.#peek(4 + DATA_HEAD_BYTES), len);
        const dest = head ? this.#target(head.i, head.o, head.n) : null;
        if (head && dest && dest.byteLength === head.n) {
          this.#take(4 + DATA_HEAD_BYTES);
          this.#direct = { i: head.i, o: head.o, dest, filled: 0 };
          queue.push(...this.#chunks);
          this.#chunks = [];
          this.#buffered = 0;
          continue;
        }
      }
      if (this.#buffered < 4 + len) return frames;
      frames.push(decodeFilePayload(this.#take(4 + len).subarray(4)));
    }
  }

  /** Makes the first buffered piece at least `n` bytes long (n <= buffered), joining only what it takes. */
  #front(n: number): Buffer {
    let k = 0;
    for (let total = 0; total < n; k++) total += this.#chunks[k]!.byteLength;
    if (k > 1) this.#chunks.splice(0, k, Buffer.concat(this.#chunks.slice(0, k)));
    return this.#chunks[0]!;
  }

  #peek(n: number): Buffer {
    return this.#front(n).subarray(0, n);
  }

  #take(n: number): Buffer {
    const first = this.#front(n);
    const out = first.subarray(0, n);
    if (first.byteLength === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return out;
  }
}

/** The `have` bitmap of a set of chunk indices. */
export function haveBitmap(count: number, has: (i: number) => boolean): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if (has(i)) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function bitmapHas(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}
