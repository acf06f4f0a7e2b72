// The sending side: one pass over the file makes its manifest (a SHA-256 per chunk and for the
// whole file) holding one chunk in memory; chunks are then read by index, in any order, as the
// receiver asks for them (resuming asks only for the missing ones).
import { createHash } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fromFsError, TransferError } from './errors.ts';
import { readFully } from './fs-safe.ts';
import { hashChunk, RunningHash } from './hash-workers.ts';
import {
  chooseChunkSize,
  chunkCount,
  chunkHash,
  chunkLength,
  FILE_LIMITS,
  FileManifestSchema,
  HASH_BYTES,
  type FileManifest,
} from './manifest.ts';

export interface SourceOptions {
  /** Bytes per chunk, a power of two from 64 KiB to 16 MiB; default chooseChunkSize(size). */
  chunkSize?: number;
  /** The name offered; default the file's own name. */
  name?: string;
  /** In a folder transfer, the folder the file sits in relative to the transfer's root. */
  path?: string;
}

/**
 * The name a file is offered under. On Linux and macOS a backslash is an ordinary character,
 * but receivers read it as a separator and would refuse the name, so it becomes "_".
 */
export function offeredName(file: string): string {
  return path.basename(file).replaceAll('\\', '_').normalize('NFC');
}

/** Size and modification time of the file when its manifest was made. */
export interface SourceStamp {
  size: number;
  mtimeMs: number;
}

export class FileSource {
  readonly file: string;
  readonly manifest: FileManifest;
  readonly stamp: SourceStamp;
  #fh: FileHandle | null;

  private constructor(file: string, fh: FileHandle, manifest: FileManifest, stamp: SourceStamp) {
    this.file = file;
    this.#fh = fh;
    this.manifest = manifest;
    this.stamp = stamp;
  }

  /** Opens `file` and hashes it. The handle stays open for readChunk() until close(). */
  static async open(file: string, opts: SourceOptions = {}): Promise<FileSource> {
    const { fh, st: before } = await openRegularFile(file);
    try {
      const size = before.size;
      if (size > FILE_LIMITS.maxFileBytes) {
        throw new TransferError('too-large', `files of more than ${FILE_LIMITS.maxFileBytes} bytes cannot be sent`);
      }
      const chunkSize = opts.chunkSize ?? chooseChunkSize(size);
      if (!Number.isInteger(Math.log2(chunkSize)) || chunkSize < FILE_LIMITS.minChunkBytes || chunkSize > FILE_LIMITS.maxChunkBytes) {
        throw new RangeError(`chunk size ${chunkSize} is not a power of two from 64 KiB to 16 MiB`);
      }
      const count = chunkCount(size, chunkSize);
      if (count > FILE_LIMITS.maxChunks) throw new TransferError('too-large', `${count} chunks of ${chunkSize} bytes are too many`);
      const chunkHashes = new Uint8Array(count * HASH_BYTES);
      // Hashed in the process's hash workers (hash-workers.ts), not on the event loop: offering
      // a large file must not hold up chat. Two shared buffers: one is read while the other's
      // chunk is hashed, in place.
      const whole = new RunningHash();
      const bufLen = Math.min(chunkSize, Math.max(size, 1));
      const bufs = [0, 1].map(() => Buffer.from(new SharedArrayBuffer(bufLen)));
      const hashing: Array<Promise<void> | null> = [null, null];
      try {
        for (let i = 0; i < count; i++) {
          const slot = i % 2;
          await hashing[slot]; // this buffer's previous chunk is hashed: it may be overwritten
          const buf = bufs[slot]!;
          const len = chunkLength({ size, chunkSize }, i);
          if ((await readFully(fh, buf, len, i * chunkSize)) !== len) throw changed();
          const data = buf.subarray(0, len);
          // The running hash takes chunks in order: queue this one's update before reading on.
          const fed = whole.update(data);
          hashing[slot] = Promise.all([fed, hashChunk(data).then((d) => chunkHashes.set(d, i * HASH_BYTES))]).then(() => undefined);
        }
        await Promise.all(hashing);
      } catch (err) {
        await Promise.allSettled(hashing);
        whole.drop();
        throw err;
      }
      const fileHash = await whole.digest();
      if (!fileHash) throw new TransferError('io', 'the file could not be hashed (a hash worker stopped); try again');
      const after = await fh.stat();
      if (after.size !== size || after.mtimeMs !== before.mtimeMs) throw changed();
      const offered = {
        name: opts.name ?? offeredName(file),
        ...(opts.path === undefined ? {} : { path: opts.path }),
        size,
        chunkSize,
        chunkHashes,
        fileHash: new Uint8Array(fileHash),
      };
      // The schema the receiver applies: a chunk size or name it would refuse fails here first.
      const manifest = FileManifestSchema.safeParse(offered);
      if (!manifest.success) {
        // Size and chunks were checked above, so only the name or path can be what is refused.
        throw new TransferError('unsafe-name', `the name cannot be offered: ${manifest.error.issues[0]?.message ?? 'invalid'}`);
      }
      return new FileSource(file, fh, manifest.data, { size, mtimeMs: after.mtimeMs });
    } catch (err) {
      await fh.close();
      throw fromFsError(err, 'hashing the file to send');
    }
  }

  /**
   * Opens `file` for a manifest made earlier (a stream for an offer made before a restart, or a
   * later stream of the same offer) without hashing it again: readChunk() checks what it reads,
   * so a file changed since fails there with 'source-changed'. `stamp`: the file's stamp when
   * the manifest was made; a file that no longer has it fails here.
   */
  static async reopen(file: string, manifest: FileManifest, stamp?: SourceStamp): Promise<FileSource> {
    const { fh, st } = await openRegularFile(file);
    try {
      if (st.size !== manifest.size) throw changed();
      if (stamp && (st.size !== stamp.size || st.mtimeMs !== stamp.mtimeMs)) throw changed();
      return new FileSource(file, fh, manifest, stamp ?? { size: st.size, mtimeMs: st.mtimeMs });
    } catch (err) {
      await fh.close();
      throw fromFsError(err, 'opening the file to send');
    }
  }

  /**
   * Chunk `index`, checked against the manifest: a file changed since then fails 'source-changed'.
   * `verify: false` checks the file's size and modification time against the stamp instead of
   * hashing the chunk: for a sender whose receiver hashes every chunk anyway, that halves what
   * sending costs (SHA-256 is the largest CPU cost of a transfer), and a file rewritten since
   * still fails here. The receiver's check is the one that counts.
   */
  async readChunk(index: number, opts: { verify?: boolean } = {}): Promise<Buffer> {
    const fh = this.#fh;
    if (!fh) throw new TransferError('closed', 'the source is closed');
    const count = chunkCount(this.manifest.size, this.manifest.chunkSize);
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new TransferError('chunk-out-of-range', `chunk ${index} is not one of 0..${count - 1}`);
    }
    const len = chunkLength(this.manifest, index);
    const buf = Buffer.allocUnsafe(len);
    let got: number;
    try {
      got = await readFully(fh, buf, len, index * this.manifest.chunkSize);
    } catch (err) {
      throw fromFsError(err, 'reading a chunk to send');
    }
    if (got !== len) throw changed();
    if (opts.verify === false) {
      const st = await fh.stat();
      if (st.size !== this.stamp.size || st.mtimeMs !== this.stamp.mtimeMs) throw changed();
    } else if (!createHash('sha256').update(buf).digest().equals(chunkHash(this.manifest, index))) {
      throw changed();
    }
    return buf;
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close();
  }
}

/** Opens a file to send and stats it; anything but a regular file is refused, and closed. */
async function openRegularFile(file: string): Promise<{ fh: FileHandle; st: Stats }> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    throw fromFsError(err, 'opening the file to send');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new TransferError('not-a-file', 'only regular files can be sent');
    return { fh, st };
  } catch (err) {
    await fh.close();
    throw fromFsError(err, 'opening the file to send');
  }
}

function changed(): TransferError {
  return new TransferError('source-changed', 'the file changed while it was being sent');
}
