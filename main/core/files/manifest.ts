// What a sender says about one file before sending it: the future offer frame carries one
// manifest per file. It crosses a trust boundary, so every field is bounded here; names are
// only checked for size, since safe-name.ts decides what they become on disk.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const HASH_BYTES = 32;

export const FILE_LIMITS = {
  minChunkBytes: 64 * 1024,
  defaultChunkBytes: 1024 * 1024,
  maxChunkBytes: 16 * 1024 * 1024,
  /**
   * 4,096 hashes are 128 KiB of MessagePack bin, which fits one 256 KiB frame with room to
   * spare. Files over 4 GiB get larger chunks instead of more of them.
   */
  maxChunks: 4096,
  /** maxChunks × maxChunkBytes = 64 GiB. */
  maxFileBytes: 4096 * 16 * 1024 * 1024,
  /** UTF-16 units as received; the name on disk is at most 255 bytes of UTF-8 (safe-name.ts). */
  maxNameChars: 1024,
  maxPathChars: 4096,
} as const;

/** Transfer IDs become part of temp file names, so they are ULIDs and nothing else. */
export const TransferIdSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a ULID');

const isPowerOfTwo = (n: number) => Number.isInteger(Math.log2(n));
const bytes = z.instanceof(Uint8Array);

export function chunkCount(size: number, chunkSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

export const FileManifestSchema = z
  .object({
    /** The file's own name, one segment. */
    name: z.string().min(1).max(FILE_LIMITS.maxNameChars),
    /** In a folder transfer, the folder it sits in relative to the transfer's root ("a/b"). */
    path: z.string().max(FILE_LIMITS.maxPathChars).optional(),
    size: z.number().int().min(0).max(FILE_LIMITS.maxFileBytes),
    chunkSize: z
      .number()
      .int()
      .min(FILE_LIMITS.minChunkBytes)
      .max(FILE_LIMITS.maxChunkBytes)
      .refine(isPowerOfTwo, 'chunk size must be a power of two'),
    /** SHA-256 of each chunk, concatenated in order. */
    chunkHashes: bytes.refine((b) => b.byteLength <= FILE_LIMITS.maxChunks * HASH_BYTES && b.byteLength % HASH_BYTES === 0, {
      message: `at most ${FILE_LIMITS.maxChunks} hashes of ${HASH_BYTES} bytes`,
    }),
    /** SHA-256 of the whole file. */
    fileHash: bytes.refine((b) => b.byteLength === HASH_BYTES, { message: `${HASH_BYTES} bytes` }),
  })
  .refine((m) => m.chunkHashes.byteLength === chunkCount(m.size, m.chunkSize) * HASH_BYTES, {
    message: 'the number of chunk hashes does not match size and chunk size',
    path: ['chunkHashes'],
  });
export type FileManifest = z.infer<typeof FileManifestSchema>;

/** The chunk size a sender picks: the default, doubled until the file needs at most maxChunks. */
export function chooseChunkSize(size: number, preferred: number = FILE_LIMITS.defaultChunkBytes): number {
  let chunk = preferred;
  while (chunkCount(size, chunk) > FILE_LIMITS.maxChunks && chunk < FILE_LIMITS.maxChunkBytes) chunk *= 2;
  return chunk;
}

export function chunkLength(m: Pick<FileManifest, 'size' | 'chunkSize'>, index: number): number {
  return Math.min(m.chunkSize, m.size - index * m.chunkSize);
}

export function chunkHash(m: Pick<FileManifest, 'chunkHashes'>, index: number): Uint8Array {
  return m.chunkHashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
}

/**
 * One digest for the whole manifest. The resume journal stores it, so a transfer ID reused for
 * different content is noticed instead of mixing two files' chunks.
 */
export function manifestDigest(m: FileManifest): string {
  return createHash('sha256')
    .update(JSON.stringify(['parley-file-manifest/1', m.name, m.path ?? null, m.size, m.chunkSize]))
    .update(m.chunkHashes)
    .update(m.fileHash)
    .digest('hex');
}
