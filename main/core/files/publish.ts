// Giving a finished temp file its final name without ever replacing anything: link() fails
// with EEXIST on any existing entry (a dangling symlink included) and never follows one, so
// "name", "name (1)", "name (2)"… are tried until one is free. There is no moment when the
// final name holds a partial file, and no check-then-create race.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoOf, fromFsError, TransferError } from './errors.ts';
import { CREATE_EXCLUSIVE, fsyncDir, realDownloadDir } from './fs-safe.ts';
import { safeFileName, withSuffix } from './safe-name.ts';

/** "a.txt", then "a (1).txt" … "a (999).txt". */
export const MAX_NAME_CANDIDATES = 1000;

export function candidateName(name: string, n: number, isFolder = false): string {
  return n === 0 ? name : withSuffix(name, ` (${n})`, undefined, !isFolder);
}

/** File systems without hard links (FAT, exFAT, some network shares) answer link() with these. */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export interface PublishOps {
  link(existing: string, created: string): Promise<void>;
}
const defaultOps: PublishOps = { link: (a, b) => fsp.link(a, b) };

export interface Identity {
  dev: bigint;
  ino: bigint;
}

export interface Published {
  path: string;
  name: string;
  /** 'rename' on file systems without hard links: then the temp path no longer exists. */
  method: 'link' | 'rename';
}

/**
 * Publishes `temp` (whose identity is `id`) in `dir` under the first free candidate of `name`.
 * The caller has fsynced the file; the directory is fsynced here.
 *
 * Without hard links the name is first claimed by creating an empty file exclusively, then
 * the temp file is renamed over that placeholder: still never over someone else's file, but
 * for that instant the final name shows an empty file.
 * `ops` lets a test stand in a link() that fails as FAT's does.
 */
export async function publishNoReplace(
  temp: string,
  id: Identity,
  dir: string,
  name: string,
  ops: PublishOps = defaultOps,
): Promise<Published> {
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const candidate = candidateName(name, n);
    const final = path.join(dir, candidate);
    let method: Published['method'] = 'link';
    try {
      await ops.link(temp, final);
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'EEXIST') continue;
      if (errno === undefined || !NO_HARD_LINKS.has(errno)) throw fromFsError(err, 'publishing the file');
      try {
        await (await fsp.open(final, CREATE_EXCLUSIVE, 0o600)).close();
      } catch (claimErr) {
        if (errnoOf(claimErr) === 'EEXIST') continue;
        throw fromFsError(claimErr, 'publishing the file');
      }
      await fsp.rename(temp, final);
      method = 'rename';
    }
    // Something could have been swapped in at the temp path since it was verified; then what
    // we just published is not our file, and it goes again (it is the name we just created).
    const st = await fsp.lstat(final, { bigint: true });
    if (!st.isFile() || st.ino !== id.ino || st.dev !== id.dev) {
      await fsp.unlink(final);
      throw new TransferError('temp-conflict', 'the temp file was replaced before publishing');
    }
    await fsyncDir(dir);
    return { path: final, name: candidate, method };
  }
  throw new TransferError('no-free-name', `no free name among ${MAX_NAME_CANDIDATES} candidates`);
}

/**
 * After a crash between publishing and cleaning up: the candidate that is our file (same
 * device and inode as the temp file had), or null.
 */
export async function findPublished(dir: string, name: string, id: Identity): Promise<Published | null> {
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const candidate = candidateName(name, n);
    const final = path.join(dir, candidate);
    try {
      const st = await fsp.lstat(final, { bigint: true });
      if (st.isFile() && st.ino === id.ino && st.dev === id.dev) return { path: final, name: candidate, method: 'link' };
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw fromFsError(err, 'looking for the published file');
    }
  }
  return null;
}

/**
 * A new, empty folder for a folder transfer: the peer's folder name made safe, then the first
 * free candidate, created exclusively (mkdir fails on any existing entry, symlinks included).
 * Every file of the transfer then goes inside it (the sink's `into`), so nothing mixes with
 * an existing folder.
 */
export async function createUniqueFolder(downloadDir: string, peerName: string | Uint8Array): Promise<{ name: string; path: string }> {
  const safe = safeFileName(peerName);
  if (!safe.ok) throw new TransferError('unsafe-name', `folder name refused: ${safe.reason}`, { refusal: safe.reason });
  const root = await realDownloadDir(downloadDir);
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const candidate = candidateName(safe.name, n, true);
    const dir = path.join(root, candidate);
    try {
      await fsp.mkdir(dir);
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') continue;
      throw fromFsError(err, 'creating the folder');
    }
    await fsyncDir(root);
    return { name: candidate, path: dir };
  }
  throw new TransferError('no-free-name', `no free folder name among ${MAX_NAME_CANDIDATES} candidates`);
}
