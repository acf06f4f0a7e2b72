// The resume journal beside a temp file: which chunks are verified and durable.
//
// Layout: one line of JSON (the header, written once and atomically by rename), then 8-byte
// records appended as chunks become durable: a u32 value and the same value XOR a constant,
// both big-endian. A crash can tear only the last record; loading stops at the first record
// that does not check out and cuts it off, so later appends follow valid ones.
// An append-only journal costs one small write and one fdatasync per batch of chunks, where
// rewriting a state file would cost a create, a rename and a directory fsync each time.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { errnoOf, TransferError } from './errors.ts';
import { CREATE_EXCLUSIVE, fsyncDir, OPEN_APPEND, OPEN_EXISTING, readFully, unlinkIfPresent, writeAll } from './fs-safe.ts';

const RECORD_BYTES = 8;
const CHECK = 0x5a17c0de;
const UNVERIFIED = 0x8000_0000;
const PUBLISHED = 0xffff_ffff;
const MAX_HEADER_BYTES = 4096;
/** Far more records than any real transfer appends (each chunk is verified once or a few times). */
const MAX_JOURNAL_BYTES = MAX_HEADER_BYTES + 64 * 4096 * RECORD_BYTES;

const HeaderSchema = z.object({
  journal: z.literal('parley-file/1'),
  transferId: z.string(),
  manifest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Device and inode of the temp file we created: anything else at its path is not ours. */
  dev: z.string().regex(/^\d+$/),
  ino: z.string().regex(/^\d+$/),
});
export type JournalHeader = z.infer<typeof HeaderSchema>;

export interface JournalState {
  header: JournalHeader;
  verified: Set<number>;
  /** The temp file was linked under its final name (then temp and journal are removed). */
  published: boolean;
}

function encode(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(values.length * RECORD_BYTES);
  values.forEach((v, i) => {
    buf.writeUInt32BE(v, i * RECORD_BYTES);
    buf.writeUInt32BE((v ^ CHECK) >>> 0, i * RECORD_BYTES + 4);
  });
  return buf;
}

export class Journal {
  readonly file: string;
  #fh: FileHandle;
  private constructor(file: string, fh: FileHandle) {
    this.file = file;
    this.#fh = fh;
  }

  /**
   * Writes a new journal with only a header, replacing any old one by rename (which replaces
   * a symlink itself, never its target), and makes its directory entry durable.
   */
  static async create(file: string, header: JournalHeader): Promise<Journal> {
    const dir = path.dirname(file);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await fsp.open(tmp, CREATE_EXCLUSIVE, 0o600);
    try {
      await writeAll(fh, Buffer.from(JSON.stringify(header) + '\n'), 0);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlinkIfPresent(tmp);
      throw err;
    }
    await fh.close();
    try {
      await fsp.rename(tmp, file);
    } catch (err) {
      await unlinkIfPresent(tmp);
      throw err;
    }
    await fsyncDir(dir);
    return new Journal(file, await openOwn(file, OPEN_APPEND));
  }

  /**
   * Reads an existing journal. Returns null if it is not a journal at all (unreadable header),
   * which only a crash while creating it or damage can cause; throws 'temp-conflict' if the
   * path holds a symlink or something else that is not a plain file.
   */
  static async load(file: string, maxChunks: number): Promise<{ journal: Journal; state: JournalState } | null> {
    const fh = await openOwn(file, OPEN_EXISTING);
    let keep = false;
    try {
      const size = (await fh.stat()).size;
      if (size > MAX_JOURNAL_BYTES) return null;
      const buf = Buffer.alloc(size);
      await readFully(fh, buf, size, 0);
      const nl = buf.subarray(0, MAX_HEADER_BYTES).indexOf(0x0a);
      if (nl < 0) return null;
      let header: JournalHeader;
      try {
        header = HeaderSchema.parse(JSON.parse(buf.subarray(0, nl).toString('utf8')));
      } catch {
        return null;
      }
      const verified = new Set<number>();
      let published = false;
      let pos = nl + 1;
      for (; pos + RECORD_BYTES <= size; pos += RECORD_BYTES) {
        const v = buf.readUInt32BE(pos);
        if (((v ^ CHECK) >>> 0) !== buf.readUInt32BE(pos + 4)) break;
        if (v === PUBLISHED) published = true;
        else if (v >= UNVERIFIED && v - UNVERIFIED < maxChunks) verified.delete(v - UNVERIFIED);
        else if (v < maxChunks) verified.add(v);
        else break;
      }
      if (pos !== size) {
        await fh.truncate(pos);
        await fh.sync();
      }
      keep = true;
      await fh.close();
      return { journal: new Journal(file, await openOwn(file, OPEN_APPEND)), state: { header, verified, published } };
    } finally {
      if (!keep) await fh.close();
    }
  }

  /** Appends records and returns once they are durable. */
  async append(records: { verified?: readonly number[]; unverified?: readonly number[]; published?: boolean }): Promise<void> {
    const values = [
      ...(records.verified ?? []),
      ...(records.unverified ?? []).map((i) => UNVERIFIED + i),
      ...(records.published ? [PUBLISHED] : []),
    ];
    if (values.length === 0) return;
    await writeAll(this.#fh, encode(values), null);
    await this.#fh.datasync();
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

/** Opens our own file: never through a symlink, and only a plain file with a single link. */
async function openOwn(file: string, flags: number): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, flags);
  } catch (err) {
    if (errnoOf(err) === 'ELOOP') throw new TransferError('temp-conflict', 'the journal path holds a symlink', { cause: err });
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile() || st.nlink !== 1) {
    await fh.close();
    throw new TransferError('temp-conflict', 'the journal path holds something we did not create');
  }
  return fh;
}
