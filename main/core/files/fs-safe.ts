// File-system steps that never follow a symlink inside the download folder. Node has no
// openat(), so "inside" is kept by construction (every path is the folder's real path plus
// checked segments), by O_NOFOLLOW|O_EXCL on every open, by lstat on every folder we descend
// into, and by comparing device and inode before publishing.
// On Windows O_NOFOLLOW does not exist (it is 0 here) and directories cannot be fsynced.
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf, fromFsError, TransferError } from './errors.ts';

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

/** Create, exclusively: fails on anything already there, a dangling symlink included. */
export const CREATE_EXCLUSIVE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;
/** Open what exists for reading and writing, refusing a symlink (ELOOP). */
export const OPEN_EXISTING = constants.O_RDWR | O_NOFOLLOW;
export const OPEN_APPEND = constants.O_WRONLY | constants.O_APPEND | O_NOFOLLOW;

export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, constants.O_RDONLY | O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes all of `data` at `position`, or at the end for a file opened with O_APPEND (null). */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number | null): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position === null ? null : position + done);
    done += bytesWritten;
  }
}

/** Reads up to `length` bytes at `position` into `into`; returns how many (fewer only at EOF). */
export async function readFully(fh: FileHandle, into: Uint8Array, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(into, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** ENOENT is what removing an already-removed file says; anything else is a real failure. */
export async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/**
 * The download folder the user chose, as a real path: it may itself be a symlink (the user's
 * choice, so trusted once, here); every entry inside it is then checked.
 */
export async function realDownloadDir(dir: string): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(dir);
  } catch (err) {
    throw fromFsError(err, 'resolving the download folder');
  }
  const st = await fsp.stat(real);
  if (!st.isDirectory()) throw new TransferError('unsafe-path', 'the download folder is not a folder');
  return real;
}

/**
 * `root/segments…`, creating missing folders. Each step must be a real folder, not a symlink
 * to one (Syncthing CVE-2017-1000420 was exactly that), and the result must resolve to itself.
 * `segments` come from safe-name.ts: no "..", no separators.
 */
export async function folderInside(root: string, segments: readonly string[]): Promise<string> {
  let dir = root;
  try {
    for (const segment of segments) {
      dir = path.join(dir, segment);
      try {
        await fsp.mkdir(dir);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
      const st = await fsp.lstat(dir);
      if (!st.isDirectory()) throw new TransferError('unsafe-path', 'a folder on the way is a symlink or a file');
    }
    if ((await fsp.realpath(dir)) !== dir) throw new TransferError('unsafe-path', 'the folder resolves outside the download folder');
  } catch (err) {
    throw fromFsError(err, 'creating the folder');
  }
  return dir;
}
