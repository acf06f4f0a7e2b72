// The sender's side of a file transfer: the manifest it offers (as it crosses the wire) and
// chunks read by index from the file it was made from.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { fromFsError, TransferError } from '../../main/core/files/errors.ts';
import { FileSource, offeredName } from '../../main/core/files/file-source.ts';
import {
  chooseChunkSize,
  FILE_LIMITS,
  FileManifestSchema,
  HASH_BYTES,
  manifestDigest,
  TransferIdSchema,
  type FileManifest,
} from '../../main/core/files/manifest.ts';
import { MAX_FRAME_BYTES } from '../../main/core/protocol/frames.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'parley-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newFile = (data: Uint8Array, name = `f${n++}.bin`) => {
  const dir = path.join(root, `d${n++}`);
  mkdirSync(dir);
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
};
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
const KiB = 1024;
const MiB = 1024 * KiB;

function manifest(over: Partial<FileManifest> = {}): FileManifest {
  const size = over.size ?? 100 * KiB;
  const chunkSize = over.chunkSize ?? 64 * KiB;
  const count = size === 0 ? 0 : Math.ceil(size / chunkSize);
  return { name: 'a.txt', size, chunkSize, chunkHashes: new Uint8Array(count * HASH_BYTES), fileHash: new Uint8Array(HASH_BYTES), ...over };
}

async function expectTransferError(p: Promise<unknown>, code: TransferError['code']): Promise<TransferError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransferError, `expected a TransferError, got ${String(err)}`);
  assert.equal(err.code, code);
  return err;
}

describe('the file manifest on the wire', () => {
  it('survives MessagePack as the offer frame would carry it', () => {
    const m = manifest({ path: 'Photos/2024' });
    const back = FileManifestSchema.parse(decode(encode(m)));
    assert.deepEqual({ ...back, chunkHashes: [...back.chunkHashes], fileHash: [...back.fileHash] }, {
      ...m,
      chunkHashes: [...m.chunkHashes],
      fileHash: [...m.fileHash],
    });
  });

  it('fits one frame even for the largest file, hashes included', () => {
    const largest = manifest({
      name: 'n'.repeat(FILE_LIMITS.maxNameChars),
      path: 'p'.repeat(FILE_LIMITS.maxPathChars),
      size: FILE_LIMITS.maxFileBytes,
      chunkSize: FILE_LIMITS.maxChunkBytes,
    });
    assert.equal(largest.chunkHashes.byteLength, FILE_LIMITS.maxChunks * HASH_BYTES);
    assert.ok(FileManifestSchema.safeParse(largest).success);
    const bytes = encode(largest).byteLength;
    assert.ok(bytes + 64 * KiB < MAX_FRAME_BYTES, `${bytes} bytes, with 64 KiB to spare for the rest of the offer`);
  });

  it('refuses sizes, chunk sizes and hash lists that do not add up', () => {
    const bad: [string, unknown][] = [
      ['negative size', manifest({ size: -1 })],
      ['fractional size', { ...manifest(), size: 1.5 }],
      ['over 64 GiB', manifest({ size: FILE_LIMITS.maxFileBytes + 1, chunkSize: FILE_LIMITS.maxChunkBytes })],
      ['chunks under 64 KiB', manifest({ chunkSize: 32 * KiB })],
      ['chunks over 16 MiB', manifest({ chunkSize: 32 * MiB })],
      ['chunk size not a power of two', manifest({ chunkSize: 100 * KiB })],
      ['one hash too few', { ...manifest(), chunkHashes: new Uint8Array(HASH_BYTES) }],
      ['one hash too many', { ...manifest(), chunkHashes: new Uint8Array(3 * HASH_BYTES) }],
      ['a ragged hash list', { ...manifest(), chunkHashes: new Uint8Array(2 * HASH_BYTES + 1) }],
      ['more than 4,096 hashes', { ...manifest({ size: 4097 * 64 * KiB }) }],
      ['a short file hash', { ...manifest(), fileHash: new Uint8Array(31) }],
      ['hashes as text', { ...manifest(), fileHash: 'ab'.repeat(32) }],
      ['an empty name', manifest({ name: '' })],
      ['a name over 1,024 characters', manifest({ name: 'n'.repeat(1025) })],
      ['a path over 4,096 characters', manifest({ path: 'p'.repeat(4097) })],
      ['no size', { ...manifest(), size: undefined }],
    ];
    for (const [what, m] of bad) assert.equal(FileManifestSchema.safeParse(m).success, false, what);
    assert.ok(FileManifestSchema.safeParse(manifest({ size: 0 })).success, 'an empty file has no chunks');
  });

  it('takes transfer IDs that are ULIDs and nothing else, since they become file names', () => {
    assert.ok(TransferIdSchema.safeParse('01J9ZQ3V4W5X6Y7Z8A9B0C1D2E').success);
    for (const id of ['../../x', '01J9ZQ3V4W5X6Y7Z8A9B0C1D2', '01j9zq3v4w5x6y7z8a9b0c1d2e', '01J9ZQ3V4W5X6Y7Z8A9B0C1D2/']) {
      assert.equal(TransferIdSchema.safeParse(id).success, false, id);
    }
  });

  it('picks 1 MiB chunks, and larger ones so a file never needs more than 4,096', () => {
    assert.equal(chooseChunkSize(0), MiB);
    assert.equal(chooseChunkSize(4096 * MiB), MiB);
    assert.equal(chooseChunkSize(4096 * MiB + 1), 2 * MiB);
    assert.equal(chooseChunkSize(FILE_LIMITS.maxFileBytes), 16 * MiB);
  });

  it('has a digest that changes with any field', () => {
    const base = manifest();
    const digests = new Set([
      manifestDigest(base),
      manifestDigest({ ...base, name: 'b.txt' }),
      manifestDigest({ ...base, path: 'x' }),
      manifestDigest({ ...base, fileHash: new Uint8Array(HASH_BYTES).fill(1) }),
      manifestDigest({ ...base, chunkHashes: new Uint8Array(2 * HASH_BYTES).fill(1) }),
    ]);
    assert.equal(digests.size, 5);
  });
});

describe('a file source', () => {
  it('hashes each chunk and the whole file, and reads any chunk by index', async () => {
    const data = randomBytes(5 * 64 * KiB + 1234);
    const src = await FileSource.open(newFile(data, 'report.pdf'), { chunkSize: 64 * KiB });
    try {
      const m = src.manifest;
      assert.equal(m.name, 'report.pdf');
      assert.equal(m.size, data.byteLength);
      assert.equal(m.chunkHashes.byteLength, 6 * HASH_BYTES);
      assert.deepEqual(Buffer.from(m.fileHash), sha256(data));
      for (const i of [5, 0, 3]) {
        const chunk = await src.readChunk(i);
        assert.deepEqual(chunk, data.subarray(i * 64 * KiB, (i + 1) * 64 * KiB));
        assert.deepEqual(Buffer.from(m.chunkHashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)), sha256(chunk));
      }
      assert.equal((await src.readChunk(5)).byteLength, 1234, 'the last chunk is short');
      await expectTransferError(src.readChunk(6), 'chunk-out-of-range');
      await expectTransferError(src.readChunk(-1), 'chunk-out-of-range');
    } finally {
      await src.close();
    }
  });

  it('makes a manifest with no chunks for an empty file', async () => {
    const src = await FileSource.open(newFile(new Uint8Array(0)));
    assert.equal(src.manifest.size, 0);
    assert.equal(src.manifest.chunkHashes.byteLength, 0);
    assert.deepEqual(Buffer.from(src.manifest.fileHash), sha256(new Uint8Array(0)));
    await src.close();
  });

  it('notices the file changing after the manifest was made, and sends nothing that no longer matches', async () => {
    const data = randomBytes(3 * 64 * KiB);
    const file = newFile(data);
    const src = await FileSource.open(file, { chunkSize: 64 * KiB });
    try {
      const changed = Buffer.from(data);
      changed[64 * KiB + 7]! ^= 0xff;
      writeFileSync(file, changed);
      assert.deepEqual(await src.readChunk(0), data.subarray(0, 64 * KiB), 'unchanged chunks still go');
      await expectTransferError(src.readChunk(1), 'source-changed');
      writeFileSync(file, data.subarray(0, 2 * 64 * KiB + 5));
      await expectTransferError(src.readChunk(2), 'source-changed');
    } finally {
      await src.close();
    }
  });

  it('refuses what is not a regular file, and a chunk size outside the limits', async () => {
    await expectTransferError(FileSource.open(root), 'not-a-file');
    await assert.rejects(FileSource.open(newFile(randomBytes(10)), { chunkSize: 1000 }), RangeError);
    await expectTransferError(FileSource.open(path.join(root, 'missing')), 'io');
  });

  it('offers the base name in NFC, and a POSIX backslash as "_" (receivers read it as a separator)', () => {
    assert.equal(offeredName('/home/a/Re\u0301sume\u0301.pdf'), 'Résumé.pdf');
    if (process.platform !== 'win32') assert.equal(offeredName('/home/a/x\\y.txt'), 'x_y.txt');
  });
});

describe('transfer errors', () => {
  it('turn what the disk says into codes the sender can be told, and say whether to try again', () => {
    const cases: [string, TransferError['code'], TransferError['peerCode'], boolean][] = [
      ['ENOSPC', 'disk-full', 'disk-full', true],
      ['EDQUOT', 'quota-exceeded', 'quota-exceeded', true],
      ['EFBIG', 'too-large-for-filesystem', 'too-large', false],
      ['EROFS', 'not-writable', 'receiver-error', true],
      ['EACCES', 'not-writable', 'receiver-error', true],
      ['ENAMETOOLONG', 'path-too-long', 'receiver-error', false],
      ['EIO', 'io', 'receiver-error', true],
    ];
    for (const [errno, code, peerCode, resumable] of cases) {
      const e = fromFsError(Object.assign(new Error(errno), { code: errno }), 'writing');
      assert.ok(e instanceof TransferError, errno);
      assert.deepEqual([e.code, e.peerCode, e.resumable], [code, peerCode, resumable], errno);
    }
    const plain = new Error('not from the file system');
    assert.equal(fromFsError(plain, 'x'), plain);
  });
});
