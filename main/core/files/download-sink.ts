// Receiving one file into the download folder (README.md in this folder has the rules).
//
// Lifecycle: open() creates, or finds after a link drop or restart, the hidden temp file
// ".parley-<transferId>.part" and its journal ".parley-<transferId>.journal" in the folder the
// file will land in. writeChunk() checks a chunk against its SHA-256 before writing it at its
// offset, and resolves once the chunk is durable and recorded. complete() reads the whole file
// back, checks every chunk and the file's SHA-256, and links it under a free final name.
// Nothing under the final name exists before that, nothing existing is ever replaced, and
// nothing here opens, runs or previews what was received.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { errnoOf, fromFsError, TransferError } from './errors.ts';
import { CREATE_EXCLUSIVE, folderInside, fsyncDir, OPEN_EXISTING, readFully, realDownloadDir, unlinkIfPresent, writeAll } from './fs-safe.ts';
import { hashChunk, RunningHash } from './hash-workers.ts';
import { Journal, type JournalState } from './journal.ts';
import {
  chunkCount,
  chunkHash,
  chunkLength,
  FileManifestSchema,
  manifestDigest,
  TransferIdSchema,
  type FileManifest,
} from './manifest.ts';
import { findPublished, publishNoReplace, type Identity, type Published, type PublishOps } from './publish.ts';
import { safeFileName, safeRelativePath, TEMP_PREFIX, type NameChange } from './safe-name.ts';

export interface SinkOptions {
  /** The download folder the user chose. It may be a symlink; nothing inside it may be. */
  dir: string;
  transferId: string;
  /** As the peer sent it (validated again here); its name and path are made safe here. */
  manifest: FileManifest;
  /** A folder inside `dir` chosen by the receiver, e.g. from createUniqueFolder() for a folder transfer. */
  into?: string;
  /** Refuse files larger than this. */
  maxFileBytes?: number;
  /** Refuse to start or resume when fewer than this many bytes would stay free. Default 64 MiB. */
  keepFreeBytes?: number;
  log?: Logger;
  /** For tests: a link() that fails as on file systems without hard links. */
  publishOps?: PublishOps;
}

export interface Received {
  path: string;
  /** The name it was published under: the safe name, or "name (n).ext" when that was taken. */
  name: string;
  /** The safe name differs from what the peer sent, or a " (n)" was added. */
  renamed: boolean;
  /** What safe-name.ts neutralised in the peer's name and path. */
  nameChanges: NameChange[];
  size: number;
}

export const DEFAULT_KEEP_FREE_BYTES = 64 * 1024 * 1024;
const HASH_SLICE_BYTES = 256 * 1024;
const FAT_MAGIC = 0x4d44;
const FAT_MAX_FILE_BYTES = 2 ** 32 - 1;

/** Journal paths of sinks open in this process: two sinks on one transfer would share a temp file. */
const openJournals = new Set<string>();

interface Batch {
  indices: number[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  // A batch whose only waiter is gone (close() during a failure) must not be an unhandled rejection.
  promise.catch(() => {});
  return { indices: [], done: promise, resolve, reject };
}

interface Paths {
  folder: string;
  temp: string;
  journal: string;
}

export class DownloadSink {
  readonly transferId: string;
  readonly manifest: FileManifest;
  /** The safe name the file will be published under (before any " (n)"). */
  readonly name: string;
  /** The real folder the file lands in. */
  readonly folder: string;
  readonly nameChanges: NameChange[];
  readonly #paths: Paths;
  readonly #id: Identity;
  readonly #count: number;
  readonly #log: Logger | undefined;
  readonly #publishOps: PublishOps | undefined;
  #temp: FileHandle | null;
  #journal: Journal | null;
  readonly #verified: Set<number>;
  readonly #inflight = new Map<number, Promise<void>>();
  #batch: Batch | null = null;
  #draining = false;
  /**
   * The whole-file SHA-256 over chunks 0 .. #hashedUpTo - 1, fed as each chunk arrives, in
   * order, from the same buffer that is checked and written. Null once it cannot cover the file
   * as written (a resume, a chunk out of order, a chunk that failed its check or its write):
   * then complete() reads the file back instead.
   */
  #running: RunningHash | null;
  #hashedUpTo = 0;
  #failure: TransferError | null = null;
  #closed = false;
  /** Set when open() finds the file already published by an earlier run. */
  readonly #published: Published | null;

  private constructor(init: {
    transferId: string;
    manifest: FileManifest;
    name: string;
    nameChanges: NameChange[];
    paths: Paths;
    id: Identity;
    temp: FileHandle | null;
    journal: Journal;
    verified: Set<number>;
    published: Published | null;
    log: Logger | undefined;
    publishOps: PublishOps | undefined;
  }) {
    this.transferId = init.transferId;
    this.manifest = init.manifest;
    this.name = init.name;
    this.nameChanges = init.nameChanges;
    this.folder = init.paths.folder;
    this.#paths = init.paths;
    this.#id = init.id;
    this.#count = chunkCount(init.manifest.size, init.manifest.chunkSize);
    this.#temp = init.temp;
    this.#journal = init.journal;
    this.#verified = init.verified;
    this.#published = init.published;
    // Only a transfer that starts from nothing can be hashed as it arrives: after a resume the
    // chunks already here were never in this process's memory.
    this.#running = init.verified.size === 0 && init.published === null ? new RunningHash() : null;
    this.#log = init.log;
    this.#publishOps = init.publishOps;
  }

  /**
   * Starts receiving, or resumes: an existing journal for this transfer gives back every chunk
   * that was durable before the link dropped or either process stopped.
   */
  static async open(opts: SinkOptions): Promise<DownloadSink> {
    const transferId = TransferIdSchema.parse(opts.transferId);
    const manifest = FileManifestSchema.parse(opts.manifest);
    if (opts.maxFileBytes !== undefined && manifest.size > opts.maxFileBytes) {
      throw new TransferError('too-large', `the file is larger than the limit of ${opts.maxFileBytes} bytes`);
    }
    const safe = safeFileName(manifest.name);
    if (!safe.ok) throw new TransferError('unsafe-name', `file name refused: ${safe.reason}`, { refusal: safe.reason });
    const relative = [opts.into, manifest.path].filter((p): p is string => p !== undefined && p !== '').join('/');
    const folderPath = relative === '' ? null : safeRelativePath(relative);
    if (folderPath && !folderPath.ok) {
      throw new TransferError('unsafe-name', `folder path refused: ${folderPath.reason}`, { refusal: folderPath.reason });
    }
    const nameChanges = [...new Set([...safe.changes, ...(folderPath?.ok ? folderPath.changes : [])])];

    const root = await realDownloadDir(opts.dir);
    const folder = await folderInside(root, folderPath?.ok ? folderPath.segments : []);
    const base = path.join(folder, `${TEMP_PREFIX}${transferId}`);
    const paths: Paths = { folder, temp: `${base}.part`, journal: `${base}.journal` };
    if (openJournals.has(paths.journal)) throw new TransferError('busy', 'this transfer is already open');
    openJournals.add(paths.journal);
    try {
      const statfs = await fsp.statfs(folder);
      if (statfs.type === FAT_MAGIC && manifest.size > FAT_MAX_FILE_BYTES) {
        throw new TransferError('too-large-for-filesystem', 'FAT file systems hold files of at most 4 GiB - 1 byte');
      }
      const common = { transferId, manifest, name: safe.name, nameChanges, paths, log: opts.log, publishOps: opts.publishOps };
      const keepFree = opts.keepFreeBytes ?? DEFAULT_KEEP_FREE_BYTES;
      const found = await resume(paths, transferId, manifest);
      if (found) {
        const sink = new DownloadSink({ ...common, ...found });
        try {
          if (!found.published) await checkSpace(folder, sink.#remainingBytes(), keepFree);
        } catch (err) {
          await sink.close();
          throw err;
        }
        opts.log?.info({ transferId, verified: found.verified.size, published: found.published !== null }, 'file receive resumed');
        return sink;
      }
      await checkSpace(folder, manifest.size, keepFree);
      const fresh = await start(paths, transferId, manifest);
      return new DownloadSink({ ...common, ...fresh, verified: new Set(), published: null });
    } catch (err) {
      openJournals.delete(paths.journal);
      throw fromFsError(err, 'opening the transfer');
    }
  }

  get chunkCount(): number {
    return this.#count;
  }

  /** Chunks still to receive, in order: what to ask the sender for when resuming. */
  missingChunks(): number[] {
    if (this.#published) return [];
    const missing: number[] = [];
    for (let i = 0; i < this.#count; i++) if (!this.#verified.has(i)) missing.push(i);
    return missing;
  }

  progress(): { verifiedChunks: number; chunks: number; verifiedBytes: number; bytes: number } {
    const missing = this.#remainingBytes();
    return {
      verifiedChunks: this.#published ? this.#count : this.#verified.size,
      chunks: this.#count,
      verifiedBytes: this.manifest.size - missing,
      bytes: this.manifest.size,
    };
  }

  #remainingBytes(): number {
    if (this.#published) return 0;
    let bytes = 0;
    for (let i = 0; i < this.#count; i++) if (!this.#verified.has(i)) bytes += chunkLength(this.manifest, i);
    return bytes;
  }

  #usable(): void {
    if (this.#closed) throw new TransferError('closed', 'the transfer is closed');
    if (this.#failure) throw this.#failure;
  }

  /**
   * Checks chunk `index` against its hash, writes it at its offset and resolves once the data
   * and its journal record are durable ('written'), or at once if it already was ('duplicate').
   * A chunk that does not match is neither written nor counted.
   */
  async writeChunk(index: number, data: Uint8Array): Promise<'written' | 'duplicate'> {
    this.#usable();
    if (!Number.isInteger(index) || index < 0 || index >= this.#count) {
      throw new TransferError('chunk-out-of-range', `chunk ${index} is not one of 0..${this.#count - 1}`);
    }
    if (data.byteLength !== chunkLength(this.manifest, index)) {
      throw new TransferError('chunk-size', `chunk ${index} has ${data.byteLength} bytes, not ${chunkLength(this.manifest, index)}`);
    }
    if (this.#published || this.#verified.has(index)) return 'duplicate';
    const pending = this.#inflight.get(index);
    if (pending) {
      // The same chunk is being checked or written: whatever becomes of that one counts.
      await pending;
      return 'duplicate';
    }
    const fed = this.#feedRunningHash(index, data);
    const job = this.#checkAndWrite(index, data).then(
      // The caller reuses `data` once this resolves: the running hash must be done with it.
      () => fed,
      async (err: unknown) => {
        this.#dropRunningHash();
        await fed;
        throw err;
      },
    );
    this.#inflight.set(index, job);
    try {
      await job;
    } finally {
      this.#inflight.delete(index);
    }
    return 'written';
  }

  async #checkAndWrite(index: number, data: Uint8Array): Promise<void> {
    // Off the event loop (hashChunk): chunks in flight are checked in parallel.
    if (!(await hashChunk(data)).equals(chunkHash(this.manifest, index))) {
      throw new TransferError('chunk-hash-mismatch', `chunk ${index} does not match its hash`);
    }
    this.#usable();
    await this.#writeAndCommit(index, data);
  }

  /**
   * Feeds chunk `index` to the running whole-file hash if it is the next in file order; resolves
   * once the hash worker has taken it in (so a fast link cannot queue the file in its inbox).
   * The first chunk out of order drops the running hash for good.
   */
  #feedRunningHash(index: number, data: Uint8Array): Promise<void> {
    const hash = this.#running;
    if (!hash) return Promise.resolve();
    if (index !== this.#hashedUpTo) {
      this.#dropRunningHash();
      return Promise.resolve();
    }
    this.#hashedUpTo++;
    return hash.update(data).catch(() => {
      if (this.#running === hash) this.#dropRunningHash();
    });
  }

  #dropRunningHash(): void {
    this.#running?.drop();
    this.#running = null;
  }

  async #writeAndCommit(index: number, data: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#temp!, data, index * this.manifest.chunkSize);
    } catch (err) {
      throw this.#fail(err, 'writing a chunk');
    }
    await this.#commit(index);
  }

  /**
   * Group commit: chunks written while an fdatasync is under way share the next one, so a
   * pipelining caller pays two fsyncs per batch rather than per chunk.
   */
  #commit(index: number): Promise<void> {
    this.#batch ??= newBatch();
    this.#batch.indices.push(index);
    const done = this.#batch.done;
    if (!this.#draining) void this.#drain();
    return done;
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    while (this.#batch) {
      const batch = this.#batch;
      this.#batch = null;
      try {
        if (this.#failure) throw this.#failure;
        // Data first: the journal must never name a chunk whose bytes could still be lost.
        await this.#temp!.datasync();
        await this.#journal!.append({ verified: batch.indices });
        for (const i of batch.indices) this.#verified.add(i);
        batch.resolve();
      } catch (err) {
        batch.reject(this.#fail(err, 'recording chunks'));
      }
    }
    this.#draining = false;
  }

  /** An I/O failure stops the sink: close() it and open() again later to resume. */
  #fail(err: unknown, doing: string): TransferError {
    const e = fromFsError(err, doing);
    const failure = e instanceof TransferError ? e : new TransferError('io', `${doing} failed`, { cause: err });
    if (!this.#failure) {
      this.#failure = failure;
      this.#log?.warn({ transferId: this.transferId, code: failure.code }, 'file receive stopped');
    }
    return this.#failure;
  }

  async #settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()]);
  }

  /**
   * Reads the file back, checks every chunk and the whole-file hash, and publishes it.
   * A chunk that reads back wrong is counted missing again ('corrupt-on-disk', resumable).
   * Once publishing has begun the sink is closed, also on failure; open() again retries.
   */
  async complete(): Promise<Received> {
    this.#usable();
    await this.#settle();
    this.#usable();
    if (this.#published) return this.#finishPublished(this.#published);
    const missing = this.missingChunks();
    if (missing.length > 0) throw new TransferError('incomplete', `${missing.length} chunks are missing`);
    const temp = this.#temp!;
    try {
      const st = await temp.stat({ bigint: true });
      if (st.size > BigInt(this.manifest.size)) throw new TransferError('temp-conflict', 'the temp file grew beyond the file size');
      await temp.sync();
      // Read back only what the running hash did not cover. When it saw every chunk, in order,
      // from the very buffers that were checked and then written, and the data was fdatasynced
      // before each chunk counted, the bytes on disk are the bytes verified: reading them back
      // right away would hash the page cache, not the medium, so it would catch neither a
      // failing disk nor anything the running hash misses; what it did catch (our own offset
      // bugs) the tests cover. A temp file replaced meanwhile is caught by its inode when
      // publishing. Resumed or out-of-order transfers still read back.
      const running = this.#running && this.#hashedUpTo === this.#count ? await this.#running.digest() : null;
      this.#dropRunningHash();
      const { bad, fileOk } = running?.equals(this.manifest.fileHash) ? { bad: [], fileOk: true } : await this.#readBack(temp);
      if (bad.length > 0) {
        await this.#journal!.append({ unverified: bad });
        for (const i of bad) this.#verified.delete(i);
        throw new TransferError('corrupt-on-disk', `${bad.length} chunks read back wrong and must be received again`);
      }
      if (!fileOk) throw new TransferError('file-hash-mismatch', 'every chunk matches but the file hash does not');
    } catch (err) {
      // These two leave the sink usable: resend the chunks, or cancel. Anything else stops it.
      if (err instanceof TransferError && (err.code === 'corrupt-on-disk' || err.code === 'file-hash-mismatch')) throw err;
      throw this.#fail(err, 'verifying the file');
    }

    this.#closed = true;
    try {
      await temp.close();
      this.#temp = null;
      if ((await fsp.realpath(this.folder)) !== this.folder) {
        throw new TransferError('unsafe-path', 'the folder was moved or replaced by a symlink');
      }
      const published = await publishNoReplace(this.#paths.temp, this.#id, this.folder, this.name, this.#publishOps);
      await this.#journal!.append({ published: true });
      return await this.#finishPublished(published);
    } catch (err) {
      throw fromFsError(err, 'publishing the file');
    } finally {
      await this.#releaseHandles();
    }
  }

  /** Removes the temp file (if it is still our file) and the journal, then reports. */
  async #finishPublished(published: Published): Promise<Received> {
    this.#closed = true;
    await this.#releaseHandles();
    await this.#removeTempIfOurs();
    await unlinkIfPresent(this.#paths.journal);
    await fsyncDir(this.folder);
    const received: Received = {
      path: published.path,
      name: published.name,
      renamed: published.name !== this.manifest.name || this.nameChanges.length > 0,
      nameChanges: this.nameChanges,
      size: this.manifest.size,
    };
    this.#log?.info({ transferId: this.transferId, bytes: this.manifest.size, renamed: received.renamed }, 'file received');
    return received;
  }

  /**
   * One pass for the whole-file hash; only when it fails, a second pass finds the chunks that
   * read back wrong (none means the manifest's file hash does not match its own chunks).
   */
  async #readBack(temp: FileHandle): Promise<{ bad: number[]; fileOk: boolean }> {
    const buf = Buffer.allocUnsafe(this.manifest.chunkSize);
    const file = createHash('sha256');
    // Two buffers: the next chunk is read while this one is hashed.
    const bufs = [buf, Buffer.allocUnsafe(this.manifest.chunkSize)];
    const read = (i: number) => readFully(temp, bufs[i % 2]!, chunkLength(this.manifest, i), i * this.manifest.chunkSize);
    let next = this.#count > 0 ? read(0) : null;
    for (let i = 0; i < this.#count; i++) {
      const got = await next!;
      next = i + 1 < this.#count ? read(i + 1) : null;
      // In slices, yielding between them: hashing 1 MiB takes ~5 ms here, and the event loop
      // also carries chat.
      for (let off = 0; off < got; off += HASH_SLICE_BYTES) {
        file.update(bufs[i % 2]!.subarray(off, Math.min(off + HASH_SLICE_BYTES, got)));
        if (off + HASH_SLICE_BYTES < got) await new Promise((r) => setImmediate(r));
      }
    }
    if (file.digest().equals(this.manifest.fileHash)) return { bad: [], fileOk: true };
    const bad: number[] = [];
    for (let i = 0; i < this.#count; i++) {
      const len = chunkLength(this.manifest, i);
      const got = await readFully(temp, buf, len, i * this.manifest.chunkSize);
      if (got !== len || !createHash('sha256').update(buf.subarray(0, got)).digest().equals(chunkHash(this.manifest, i))) bad.push(i);
    }
    return { bad, fileOk: false };
  }

  async #removeTempIfOurs(): Promise<void> {
    try {
      const st = await fsp.lstat(this.#paths.temp, { bigint: true });
      if (st.isFile() && st.ino === this.#id.ino && st.dev === this.#id.dev) await fsp.unlink(this.#paths.temp);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }

  async #releaseHandles(): Promise<void> {
    const temp = this.#temp;
    const journal = this.#journal;
    this.#temp = null;
    this.#journal = null;
    this.#dropRunningHash();
    openJournals.delete(this.#paths.journal);
    await Promise.allSettled([temp?.close(), journal?.close()]);
  }

  /** Stops receiving but keeps what was verified, for open() to resume later. */
  async close(): Promise<void> {
    if (this.#closed && this.#temp === null && this.#journal === null) return;
    this.#closed = true;
    await this.#settle();
    await this.#releaseHandles();
  }

  /** Stops receiving and removes the temp file and the journal. */
  async cancel(): Promise<void> {
    this.#closed = true;
    await this.#settle();
    await this.#releaseHandles();
    await this.#removeTempIfOurs();
    await unlinkIfPresent(this.#paths.journal);
    await fsyncDir(this.folder);
    this.#log?.info({ transferId: this.transferId }, 'file receive canceled');
  }
}

async function checkSpace(folder: string, needed: number, keepFree: number): Promise<void> {
  if (needed === 0) return;
  const st = await fsp.statfs(folder);
  const free = st.bavail * st.bsize;
  if (free - keepFree < needed) {
    throw new TransferError('insufficient-space', `${needed} bytes to receive, ${Math.max(0, free - keepFree)} available`);
  }
}

/** A new transfer: the temp file (created exclusively), then its journal naming it by inode. */
async function start(paths: Paths, transferId: string, manifest: FileManifest): Promise<{ temp: FileHandle; journal: Journal; id: Identity }> {
  const temp = await createTemp(paths.temp);
  try {
    const st = await temp.stat({ bigint: true });
    const id = { dev: st.dev, ino: st.ino };
    const journal = await Journal.create(paths.journal, {
      journal: 'parley-file/1',
      transferId,
      manifest: manifestDigest(manifest),
      dev: String(id.dev),
      ino: String(id.ino),
    });
    return { temp, journal, id };
  } catch (err) {
    await temp.close();
    await unlinkIfPresent(paths.temp);
    throw err;
  }
}

async function createTemp(file: string): Promise<FileHandle> {
  try {
    return await fsp.open(file, CREATE_EXCLUSIVE, 0o666);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  // A crash between creating the temp file and its journal leaves it empty, and it is ours to
  // take back; anything else at our temp path (a symlink, a folder, data) is left alone.
  const fh = await openExisting(file);
  const st = await fh.stat();
  if (st.isFile() && st.nlink === 1 && st.size === 0) return fh;
  await fh.close();
  throw new TransferError('temp-conflict', 'the temp file path holds something we did not create');
}

async function openExisting(file: string): Promise<FileHandle> {
  try {
    return await fsp.open(file, OPEN_EXISTING);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ELOOP' || errno === 'EISDIR' || errno === 'ENXIO') {
      throw new TransferError('temp-conflict', 'the temp file path holds a symlink or a non-file', { cause: err });
    }
    throw err;
  }
}

type Resumed = { temp: FileHandle | null; journal: Journal; id: Identity; verified: Set<number>; published: Published | null };

/** The state an earlier run left, or null when there is none (or only a journal too damaged to use). */
async function resume(paths: Paths, transferId: string, manifest: FileManifest): Promise<Resumed | null> {
  try {
    await fsp.lstat(paths.journal);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw err;
  }
  const count = chunkCount(manifest.size, manifest.chunkSize);
  const loaded = await Journal.load(paths.journal, count);
  if (!loaded || loaded.state.header.transferId !== transferId) {
    // Our own journal, unreadable: only a crash while creating it or damage does that. What it
    // described cannot be trusted, so start over (removing the temp file only if it is a file).
    await loaded?.journal.close();
    const st = await fsp.lstat(paths.temp).catch((err: unknown) => (errnoOf(err) === 'ENOENT' ? null : Promise.reject(err)));
    if (st && !st.isFile()) throw new TransferError('temp-conflict', 'the temp file path holds a symlink or a non-file');
    if (st) await fsp.unlink(paths.temp);
    await fsp.unlink(paths.journal);
    return null;
  }
  const { journal, state } = loaded;
  try {
    return await adopt(paths, manifest, journal, state, count);
  } catch (err) {
    await journal.close();
    throw err;
  }
}

async function adopt(paths: Paths, manifest: FileManifest, journal: Journal, state: JournalState, count: number): Promise<Resumed> {
  const { header } = state;
  if (header.manifest !== manifestDigest(manifest)) {
    throw new TransferError('manifest-mismatch', 'this transfer ID was started with a different file');
  }
  const id: Identity = { dev: BigInt(header.dev), ino: BigInt(header.ino) };
  const name = safeFileName(manifest.name);
  if (!name.ok) throw new TransferError('unsafe-name', 'file name refused');
  const allVerified = state.verified.size === count;

  let temp: FileHandle;
  try {
    temp = await openExisting(paths.temp);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
    if (state.published) {
      // Published, then stopped before the journal was removed.
      const found = await findPublished(paths.folder, name.name, id);
      if (found) return { temp: null, journal, id, verified: state.verified, published: found };
      await journal.close();
      await fsp.unlink(paths.journal);
      throw new TransferError('already-received', 'this file was received before and is no longer in the download folder');
    }
    // The temp file is gone (someone removed it): everything is to be received again.
    await journal.close();
    const fresh = await start(paths, header.transferId, manifest);
    return { ...fresh, verified: new Set(), published: null };
  }
  try {
    const st = await temp.stat({ bigint: true });
    if (!st.isFile() || st.dev !== id.dev || st.ino !== id.ino) {
      throw new TransferError('temp-conflict', 'the temp file was replaced by another file');
    }
    if (st.size > BigInt(manifest.size)) throw new TransferError('temp-conflict', 'the temp file grew beyond the file size');
    if (st.nlink !== 1n) {
      // Linked under its final name, then stopped before the temp name was removed.
      const found = allVerified ? await findPublished(paths.folder, name.name, id) : null;
      if (!found) throw new TransferError('temp-conflict', 'the temp file has another link we did not make');
      await temp.close();
      return { temp: null, journal, id, verified: state.verified, published: found };
    }
    return { temp, journal, id, verified: state.verified, published: null };
  } catch (err) {
    await temp.close().catch(() => {});
    throw err;
  }
}
