// One error type for both ends of a file transfer. `code` is the local detail (logs, UI);
// `peerCode` is what may be told to the other side; `resumable` says whether the same
// transfer can continue later (after space is freed, the link is back, a chunk is resent).
import type { NameRefusal } from './safe-name.ts';

export type TransferErrorCode =
  // Refused before anything is written.
  | 'unsafe-name' // the peer's name or folder path was refused (see `refusal`)
  | 'too-large' // over the receiver's per-file limit, or over FILE_LIMITS
  | 'too-large-for-filesystem' // e.g. 4 GiB and more on FAT32; EFBIG
  | 'insufficient-space' // free space (minus what the receiver keeps free) is less than what is left to receive
  // The disk, while writing.
  | 'disk-full' // ENOSPC
  | 'quota-exceeded' // EDQUOT
  | 'not-writable' // EACCES, EPERM, EROFS
  | 'path-too-long' // ENAMETOOLONG
  | 'io' // anything else the file system says
  // The download folder.
  | 'unsafe-path' // a folder on the way is a symlink or not a folder, or resolves elsewhere
  | 'temp-conflict' // our temp or journal path holds something we did not create
  | 'no-free-name' // every candidate final name is taken
  | 'busy' // this transfer is already open in this process
  // Chunks and the file.
  | 'chunk-out-of-range'
  | 'chunk-size' // a chunk of the wrong length
  | 'chunk-hash-mismatch' // not written, not counted
  | 'corrupt-on-disk' // a verified chunk read back wrong; it is counted missing again
  | 'file-hash-mismatch' // every chunk matches but the whole file does not: the manifest lies
  | 'incomplete' // complete() with chunks missing
  | 'manifest-mismatch' // the transfer ID was seen with a different manifest
  | 'already-received' // it was published before (a restart after completing); its file is gone
  | 'closed' // used after close(), cancel() or complete()
  // The sender's file.
  | 'not-a-file'
  | 'source-changed'; // modified since the manifest was made

/** What the receiver tells the sender. Local details (paths, conflicts) stay local. */
export type PeerErrorCode =
  | 'refused-name'
  | 'too-large'
  | 'disk-full'
  | 'quota-exceeded'
  | 'bad-chunk'
  | 'bad-file'
  | 'complete'
  | 'receiver-error';

const PEER_CODES: Partial<Record<TransferErrorCode, PeerErrorCode>> = {
  'unsafe-name': 'refused-name',
  'too-large': 'too-large',
  'too-large-for-filesystem': 'too-large',
  'insufficient-space': 'disk-full',
  'disk-full': 'disk-full',
  'quota-exceeded': 'quota-exceeded',
  'chunk-out-of-range': 'bad-chunk',
  'chunk-size': 'bad-chunk',
  'chunk-hash-mismatch': 'bad-chunk',
  'file-hash-mismatch': 'bad-file',
  'already-received': 'complete',
};

/** Codes after which trying again later can succeed. */
const RESUMABLE: ReadonlySet<TransferErrorCode> = new Set<TransferErrorCode>([
  'insufficient-space',
  'disk-full',
  'quota-exceeded',
  'not-writable',
  'io',
  'busy',
  'chunk-out-of-range',
  'chunk-size',
  'chunk-hash-mismatch',
  'corrupt-on-disk',
  'incomplete',
]);

export class TransferError extends Error {
  readonly code: TransferErrorCode;
  /** For 'unsafe-name': which rule refused it. */
  readonly refusal: NameRefusal | undefined;
  constructor(code: TransferErrorCode, message: string, options: { cause?: unknown; refusal?: NameRefusal } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransferError';
    this.code = code;
    this.refusal = options.refusal;
  }
  get peerCode(): PeerErrorCode {
    return PEER_CODES[this.code] ?? 'receiver-error';
  }
  get resumable(): boolean {
    return RESUMABLE.has(this.code);
  }
}

export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A file-system error as a TransferError; other errors (and TransferErrors) pass through. */
export function fromFsError(err: unknown, doing: string): unknown {
  if (err instanceof TransferError) return err;
  const errno = errnoOf(err);
  if (errno === undefined) return err;
  const code: TransferErrorCode =
    errno === 'ENOSPC'
      ? 'disk-full'
      : errno === 'EDQUOT'
        ? 'quota-exceeded'
        : errno === 'EFBIG'
          ? 'too-large-for-filesystem'
          : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
            ? 'not-writable'
            : errno === 'ENAMETOOLONG'
              ? 'path-too-long'
              : 'io';
  return new TransferError(code, `${doing}: ${errno}`, { cause: err });
}
