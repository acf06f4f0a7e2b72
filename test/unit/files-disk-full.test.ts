// A real full disk: a 4 MiB tmpfs (root only; skipped with the reason otherwise). The receiver
// reports ENOSPC as a typed, resumable error, keeps what it verified, and after space is freed
// resumes and completes. Nothing partial ever appears under the final name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ulid } from 'ulid';
import { DownloadSink } from '../../main/core/files/download-sink.ts';
import { TransferError } from '../../main/core/files/errors.ts';
import { chunkCount, HASH_BYTES, type FileManifest } from '../../main/core/files/manifest.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root to mount a small tmpfs';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

function manifestOf(data: Uint8Array, name: string): FileManifest {
  const count = chunkCount(data.byteLength, CHUNK);
  const chunkHashes = new Uint8Array(count * HASH_BYTES);
  for (let i = 0; i < count; i++) chunkHashes.set(sha256(data.subarray(i * CHUNK, (i + 1) * CHUNK)), i * HASH_BYTES);
  return { name, size: data.byteLength, chunkSize: CHUNK, chunkHashes, fileHash: new Uint8Array(sha256(data)) };
}
const chunkOf = (data: Uint8Array, i: number) => data.subarray(i * CHUNK, (i + 1) * CHUNK);

/** Fills the file system with one file until it is full; returns its path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const block = Buffer.alloc(64 * KiB, 1);
  const parts: Buffer[] = [];
  for (let i = 0; i < 256; i++) parts.push(block);
  try {
    writeFileSync(filler, Buffer.concat(parts));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  return filler;
}

describe('a full disk', { skip }, () => {
  let mnt = '';
  before(() => {
    mnt = mkdtempSync(path.join(os.tmpdir(), 'parley-tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', mnt], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mount failed: ${r.stderr}`);
  });
  after(() => {
    if (!mnt) return;
    // Unmount even when a test failed; then the empty mount point goes.
    spawnSync('umount', [mnt]);
    try {
      rmdirSync(mnt);
    } catch {
      spawnSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('is refused up front when the file cannot fit, before anything is created', async () => {
    const dir = mkdtempSync(path.join(mnt, 'a-'));
    const data = randomBytes(5 * MiB);
    const err = await DownloadSink.open({ dir, transferId: ulid(), manifest: manifestOf(data, 'big.bin'), keepFreeBytes: 0 }).then(
      () => assert.fail('expected insufficient-space'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransferError);
    assert.equal(err.code, 'insufficient-space');
    assert.equal(err.peerCode, 'disk-full');
    assert.deepEqual(readdirSync(dir), []);
    rmSync(dir, { recursive: true });
  });

  it('filling up mid-transfer is a typed, resumable error, and the transfer completes once space is freed', async () => {
    const dir = mkdtempSync(path.join(mnt, 'b-'));
    const data = randomBytes(2 * MiB + 5);
    const m = manifestOf(data, 'report.bin');
    const transferId = ulid();
    let sink = await DownloadSink.open({ dir, transferId, manifest: m, keepFreeBytes: 0 });
    for (let i = 0; i < 4; i++) await sink.writeChunk(i, chunkOf(data, i));

    // Something else fills the disk while the transfer runs.
    const filler = fill(dir);
    let failure: unknown;
    let i = 4;
    for (; i < sink.chunkCount; i++) {
      try {
        await sink.writeChunk(i, chunkOf(data, i));
      } catch (err) {
        failure = err;
        break;
      }
    }
    assert.ok(failure instanceof TransferError, `expected a TransferError, got ${String(failure)}`);
    assert.equal(failure.code, 'disk-full');
    assert.equal(failure.peerCode, 'disk-full');
    assert.equal(failure.resumable, true);
    assert.ok(!readdirSync(dir).includes('report.bin'), 'nothing under the final name');
    // The sink stops at the first failure: a later call gets the same error, not a half-state.
    const next = (i + 1) % sink.chunkCount;
    await assert.rejects(sink.writeChunk(next, chunkOf(data, next)), (err) => err === failure);
    await sink.close();

    const kept = readdirSync(dir).filter((n) => n.startsWith('.parley-')).sort();
    assert.deepEqual(kept, [`.parley-${transferId}.journal`, `.parley-${transferId}.part`], 'the partial is kept to resume');

    rmSync(filler);
    sink = await DownloadSink.open({ dir, transferId, manifest: m, keepFreeBytes: 0 });
    const missing = sink.missingChunks();
    assert.ok(missing.length < sink.chunkCount - 3, `the first chunks survived, missing: ${missing}`);
    assert.ok(!missing.includes(0) && !missing.includes(3));
    for (const j of missing) await sink.writeChunk(j, chunkOf(data, j));
    const r = await sink.complete();
    assert.deepEqual(sha256(readFileSync(r.path)), sha256(data));
    assert.deepEqual(readdirSync(dir), ['report.bin']);
    rmSync(dir, { recursive: true });
  });
});
