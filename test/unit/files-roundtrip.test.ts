// A 256 MiB file from a FileSource into a DownloadSink in one process, with a few chunks in
// flight at a time as a link would have them: the received file's SHA-256 must be the
// source's, computed separately. Timings are printed as diagnostics, never asserted.
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, openSync, closeSync, writeSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { ulid } from 'ulid';
import { DownloadSink } from '../../main/core/files/download-sink.ts';
import { FileSource } from '../../main/core/files/file-source.ts';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB + 12_345;
const IN_FLIGHT = 4;

const root = mkdtempSync(path.join(os.tmpdir(), 'parley-roundtrip-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

it('a 256 MiB file arrives with the SHA-256 it left with', async (t) => {
  const src = path.join(root, 'source.bin');
  const fd = openSync(src, 'w');
  const block = Buffer.allocUnsafe(4 * MiB);
  for (let written = 0; written < SIZE; ) {
    const n = Math.min(block.byteLength, SIZE - written);
    randomFillSync(block, 0, n);
    writeSync(fd, block, 0, n);
    written += n;
  }
  closeSync(fd);
  const dl = path.join(root, 'dl');
  mkdirSync(dl);

  let started = performance.now();
  const source = await FileSource.open(src);
  const hashMs = performance.now() - started;
  assert.equal(source.manifest.chunkSize, MiB);
  assert.equal(source.manifest.chunkHashes.byteLength, 257 * 32);

  started = performance.now();
  const sink = await DownloadSink.open({ dir: dl, transferId: ulid(), manifest: source.manifest });
  let next = 0;
  const worker = async () => {
    while (next < sink.chunkCount) {
      const i = next++;
      assert.equal(await sink.writeChunk(i, await source.readChunk(i)), 'written');
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const received = await sink.complete();
  const receiveMs = performance.now() - started;
  await source.close();

  assert.equal(await fileSha256(received.path), Buffer.from(source.manifest.fileHash).toString('hex'));
  assert.equal(await fileSha256(received.path), await fileSha256(src));
  assert.deepEqual(readdirSync(dl), ['source.bin']);
  const mibps = (ms: number) => (SIZE / MiB / (ms / 1000)).toFixed(0);
  t.diagnostic(`manifest: ${hashMs.toFixed(0)} ms (${mibps(hashMs)} MiB/s); receive incl. fsyncs and read-back: ${receiveMs.toFixed(0)} ms (${mibps(receiveMs)} MiB/s)`);
});
