// Receiving files into the download folder: hostile names never write outside it or over
// anything, symlinks are never followed, chunks are verified before they count, nothing sits
// under the final name before the file is complete, and a transfer resumes from its last
// verified chunk after a link drop or a killed process. Real files, real fsync, real processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ulid } from 'ulid';
import { DownloadSink, type Received, type SinkOptions } from '../../main/core/files/download-sink.ts';
import { TransferError } from '../../main/core/files/errors.ts';
import { chunkCount, HASH_BYTES, type FileManifest } from '../../main/core/files/manifest.ts';
import { candidateName, createUniqueFolder } from '../../main/core/files/publish.ts';
import { safeFileName, type NameRefusal } from '../../main/core/files/safe-name.ts';

const KiB = 1024;
const CHUNK = 64 * KiB;
const filesDir = path.resolve(import.meta.dirname, '../../main/core/files');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A sandbox holding the download folder and, beside it, files that must never change. */
function sandbox() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'parley-sink-'));
  dirs.push(root);
  const dl = path.join(root, 'dl');
  const outside = path.join(root, 'outside');
  mkdirSync(dl);
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.txt'), 'outside canary\n');
  return { root, dl, outside, secret: path.join(outside, 'secret.txt') };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

function manifestOf(data: Uint8Array, name: string, extra: { path?: string; chunkSize?: number } = {}): FileManifest {
  const chunkSize = extra.chunkSize ?? CHUNK;
  const count = chunkCount(data.byteLength, chunkSize);
  const chunkHashes = new Uint8Array(count * HASH_BYTES);
  for (let i = 0; i < count; i++) chunkHashes.set(sha256(data.subarray(i * chunkSize, (i + 1) * chunkSize)), i * HASH_BYTES);
  return {
    name,
    ...(extra.path === undefined ? {} : { path: extra.path }),
    size: data.byteLength,
    chunkSize,
    chunkHashes,
    fileHash: new Uint8Array(sha256(data)),
  };
}

const chunkOf = (data: Uint8Array, m: FileManifest, i: number) => data.subarray(i * m.chunkSize, (i + 1) * m.chunkSize);

function open(dir: string, manifest: FileManifest, over: Partial<SinkOptions> = {}): Promise<DownloadSink> {
  return DownloadSink.open({ dir, transferId: ulid(), manifest, keepFreeBytes: 0, ...over });
}

async function receive(dir: string, data: Uint8Array, name: string, over: Partial<SinkOptions> & { path?: string } = {}): Promise<Received> {
  const m = manifestOf(data, name, over.path === undefined ? {} : { path: over.path });
  const sink = await open(dir, m, over);
  for (let i = 0; i < sink.chunkCount; i++) await sink.writeChunk(i, chunkOf(data, m, i));
  return sink.complete();
}

async function rejectsWith(p: Promise<unknown>, code: TransferError['code']): Promise<TransferError> {
  const err = await p.then(
    () => assert.fail(`expected a TransferError ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransferError, `expected a TransferError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** Every entry under `dir`: file contents by hash, symlink targets, folders. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = 'dir';
        walk(p);
      } else out[rel] = `file ${sha256(readFileSync(p)).toString('hex')} mode ${st.mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

/** Nothing but our hidden temp files and journals (and whatever `also` names) is in `dir`. */
function assertOnlyPartials(dir: string, also: string[] = []): void {
  for (const name of readdirSync(dir)) {
    assert.ok(name.startsWith('.parley-') || also.includes(name), `${JSON.stringify(name)} appeared in the download folder early`);
  }
}

describe('hostile file names', () => {
  // [what the peer sends, what it must become (or the refusal)]. Every accepted one finds a
  // canary already sitting under its safe name, so it must land beside it as "name (1)".
  const HOSTILE: [string | Uint8Array, string | { refused: NameRefusal }][] = [
    ['../evil.txt', { refused: 'traversal' }],
    ['..', { refused: 'traversal' }],
    ['.', { refused: 'traversal' }],
    ['..\\..\\outside\\secret.txt', { refused: 'traversal' }],
    ['..\u200B', { refused: 'traversal' }],
    ['/etc/passwd', { refused: 'absolute' }],
    ['\\outside\\secret.txt', { refused: 'absolute' }],
    ['C:\\Windows\\win.ini', { refused: 'drive' }],
    ['C:', { refused: 'drive' }],
    ['c:evil.txt', { refused: 'drive' }],
    ['\\\\server\\share\\x.txt', { refused: 'unc' }],
    ['//server/share/x.txt', { refused: 'unc' }],
    ['\\\\?\\C:\\x.txt', { refused: 'unc' }],
    ['a\0.txt', { refused: 'nul' }],
    ['CON', { refused: 'reserved' }],
    ['con.txt', { refused: 'reserved' }],
    ['LpT9.log', { refused: 'reserved' }],
    ['COM¹.txt', { refused: 'reserved' }],
    ['report.txt.', { refused: 'trailing-dot' }],
    ['report.txt ', { refused: 'trailing-space' }],
    ['', { refused: 'empty' }],
    ['\u200B\u202E', { refused: 'empty' }],
    [new Uint8Array([0x66, 0xff, 0x2e, 0x74]), { refused: 'invalid-utf8' }],
    ['\uD800.txt', { refused: 'invalid-utf8' }],
    ['a/b.txt', { refused: 'separator' }],
    ['photo\u202Egnp.exe', 'photognp.exe'],
    ['in\u200Bvoice.pdf', 'invoice.pdf'],
    ['what?<>:"|*.txt', 'what_______.txt'],
    ['-rf', '_rf'],
    ['line\nbreak.txt', 'line_break.txt'],
    ['e\u0301te\u0301.txt', 'été.txt'],
    ['．．／evil', '．．_evil'],
    ['.parley-01J9ZQ3V4W5X6Y7Z8A9B0C1D2E.part', '_parley-01J9ZQ3V4W5X6Y7Z8A9B0C1D2E.part'],
    ['x'.repeat(300) + '.txt', 'x'.repeat(251) + '.txt'],
    // These two names are taken by symlinks planted in the download folder, not by canaries.
    ['secret-link', 'secret-link'],
    ['dangling', 'dangling'],
  ];

  it('are refused or land inside the download folder, beside whatever has their name', async () => {
    const { root, dl, outside, secret } = sandbox();
    symlinkSync(secret, path.join(dl, 'secret-link'));
    symlinkSync(path.join(outside, 'created-through-symlink'), path.join(dl, 'dangling'));
    for (const [, expected] of HOSTILE) {
      if (typeof expected === 'string' && !['secret-link', 'dangling'].includes(expected)) {
        writeFileSync(path.join(dl, expected), `canary for ${expected}\n`);
      }
    }
    const outsideBefore = snapshot(outside);
    const dlBefore = snapshot(dl);
    const realDl = await fsp.realpath(dl);
    const received: string[] = [];

    for (const [input, expected] of HOSTILE) {
      const label = typeof input === 'string' ? JSON.stringify(input) : `bytes ${[...input]}`;
      const data = randomBytes(CHUNK + 100);
      const m = manifestOf(data, 'placeholder');
      const manifest = { ...m, name: typeof input === 'string' ? input : 'x' };
      if (typeof expected !== 'string') {
        if (typeof input === 'string' && input === '') {
          // The wire schema already refuses an empty name; the sink never sees one.
          await assert.rejects(open(dl, manifest), /too_small|at least/i, label);
          continue;
        }
        if (typeof input !== 'string') {
          // Names arrive as text on the wire; bytes are checked by safe-name directly.
          assert.deepEqual(safeFileName(input), { ok: false, reason: expected.refused }, label);
          continue;
        }
        const err = await rejectsWith(open(dl, manifest), 'unsafe-name');
        assert.equal(err.refusal, expected.refused, label);
        assert.equal(err.peerCode, 'refused-name');
        assert.deepEqual(snapshot(dl), dlBefore, `${label}: nothing was created`);
        continue;
      }
      const sink = await open(dl, manifest);
      assert.equal(sink.name, expected, label);
      for (let i = 0; i < sink.chunkCount; i++) await sink.writeChunk(i, chunkOf(data, m, i));
      const r = await sink.complete();
      assert.equal(path.dirname(r.path), realDl, `${label} landed in the download folder`);
      assert.equal(r.name, candidateName(expected, 1), `${label} did not take the existing name`);
      assert.equal(r.renamed, true);
      assert.deepEqual(readFileSync(r.path), data, `${label}: the received bytes`);
      received.push(r.name);
    }

    assert.deepEqual(snapshot(outside), outsideBefore, 'nothing outside the download folder changed');
    assert.equal(existsSync(path.join(outside, 'created-through-symlink')), false, 'the dangling symlink was not followed');
    assert.deepEqual(readdirSync(root).sort(), ['dl', 'outside']);
    const dlAfter = snapshot(dl);
    for (const [name, entry] of Object.entries(dlBefore)) assert.equal(dlAfter[name], entry, `${name} is untouched`);
    assert.deepEqual(Object.keys(dlAfter).filter((n) => !(n in dlBefore)).sort(), received.sort(), 'only the received files are new');
  });

  it('in folder paths are refused, and a symlinked folder is never entered', async () => {
    const { dl, outside } = sandbox();
    symlinkSync(outside, path.join(dl, 'link-out'));
    const before = snapshot(outside);
    const data = randomBytes(100);
    const refused: [string, NameRefusal][] = [
      ['../outside', 'traversal'],
      ['sub/../../outside', 'traversal'],
      [outside, 'absolute'],
      ['C:/Users', 'drive'],
      ['\\\\srv\\share', 'unc'],
      ['ok/CON', 'reserved'],
      ['ok//x', 'empty'],
    ];
    for (const [p, reason] of refused) {
      const err = await rejectsWith(open(dl, manifestOf(data, 'a.txt', { path: p })), 'unsafe-name');
      assert.equal(err.refusal, reason, p);
    }
    for (const p of ['link-out', 'link-out/deeper']) {
      await rejectsWith(open(dl, manifestOf(data, 'a.txt', { path: p })), 'unsafe-path');
    }
    assert.deepEqual(snapshot(outside), before);

    const r = await receive(dl, data, 'a.txt', { path: 'ok\\sub' });
    assert.equal(r.path, path.join(await fsp.realpath(dl), 'ok', 'sub', 'a.txt'));
    assert.deepEqual(readFileSync(r.path), data);
  });

  it('never become our temp files: transfer IDs that are not ULIDs are refused', async () => {
    const { dl } = sandbox();
    for (const transferId of ['../../x', 'A'.repeat(27), '01J9ZQ3V4W5X6Y7Z8A9B0C1D2/']) {
      await assert.rejects(open(dl, manifestOf(randomBytes(10), 'a.txt'), { transferId }));
    }
    assert.deepEqual(readdirSync(dl), []);
  });
});

describe('symlinks and substitutions', () => {
  it('a symlink planted at the temp path is not followed, not replaced, not removed', async () => {
    const { dl, outside, secret } = sandbox();
    const data = randomBytes(3 * CHUNK);
    const m = manifestOf(data, 'a.txt');
    for (const target of [secret, path.join(outside, 'not-yet')]) {
      const transferId = ulid();
      const temp = path.join(dl, `.parley-${transferId}.part`);
      symlinkSync(target, temp);
      const err = await rejectsWith(open(dl, m, { transferId }), 'temp-conflict');
      assert.equal(err.peerCode, 'receiver-error', 'the sender hears no local details');
      assert.equal(readlinkSync(temp), target);
      rmSync(temp);
    }
    assert.equal(readFileSync(secret, 'utf8'), 'outside canary\n');
    assert.equal(existsSync(path.join(outside, 'not-yet')), false);
    assert.deepEqual(readdirSync(dl), []);
  });

  it('a symlink planted at the journal path is not followed', async () => {
    const { dl, secret } = sandbox();
    const transferId = ulid();
    symlinkSync(secret, path.join(dl, `.parley-${transferId}.journal`));
    await rejectsWith(open(dl, manifestOf(randomBytes(10), 'a.txt'), { transferId }), 'temp-conflict');
    assert.equal(readFileSync(secret, 'utf8'), 'outside canary\n');
  });

  it('a file left at the temp path that we did not create is left alone', async () => {
    const { dl } = sandbox();
    const transferId = ulid();
    const temp = path.join(dl, `.parley-${transferId}.part`);
    writeFileSync(temp, 'someone else');
    await rejectsWith(open(dl, manifestOf(randomBytes(10), 'a.txt'), { transferId }), 'temp-conflict');
    assert.equal(readFileSync(temp, 'utf8'), 'someone else');
  });

  it('a temp file swapped for a symlink or another file between runs is not resumed', async () => {
    const { dl, secret } = sandbox();
    const data = randomBytes(3 * CHUNK);
    const m = manifestOf(data, 'a.txt');
    for (const swap of ['symlink', 'file', 'hard link'] as const) {
      const transferId = ulid();
      const sink = await open(dl, m, { transferId });
      await sink.writeChunk(0, chunkOf(data, m, 0));
      await sink.close();
      const temp = path.join(dl, `.parley-${transferId}.part`);
      if (swap === 'symlink') {
        rmSync(temp);
        symlinkSync(secret, temp);
      } else if (swap === 'file') {
        renameSync(temp, `${temp}.moved`);
        writeFileSync(temp, chunkOf(data, m, 0));
      } else {
        linkSync(temp, path.join(dl, `hard-${transferId}`));
      }
      await rejectsWith(open(dl, m, { transferId }), 'temp-conflict');
    }
    assert.equal(readFileSync(secret, 'utf8'), 'outside canary\n');
    assert.ok(!readdirSync(dl).includes('a.txt'));
  });

  it('a temp file swapped for a symlink just before publishing is caught, and the name given back', async () => {
    const { dl, secret } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.txt');
    const transferId = ulid();
    const temp = path.join(dl, `.parley-${transferId}.part`);
    const sink = await open(dl, m, {
      transferId,
      publishOps: {
        link: async (from, to) => {
          renameSync(temp, `${temp}.moved`);
          symlinkSync(secret, temp);
          await fsp.link(from, to);
        },
      },
    });
    for (let i = 0; i < sink.chunkCount; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    await rejectsWith(sink.complete(), 'temp-conflict');
    assert.equal(existsSync(path.join(dl, 'a.txt')), false, 'the symlink did not stay under the final name');
    assert.equal(readFileSync(secret, 'utf8'), 'outside canary\n');
  });

  it('the download folder itself may be a symlink the user chose; files land in its target', async () => {
    const { root, dl } = sandbox();
    const chosen = path.join(root, 'Downloads');
    symlinkSync(dl, chosen);
    const data = randomBytes(CHUNK + 1);
    const r = await receive(chosen, data, 'a.txt');
    assert.equal(r.path, path.join(await fsp.realpath(dl), 'a.txt'));
    assert.deepEqual(readFileSync(path.join(dl, 'a.txt')), data);
  });
});

describe('chunks', () => {
  it('are counted only when they match their hash; a bad one is not written', async () => {
    const { dl } = sandbox();
    const data = randomBytes(3 * CHUNK + 10);
    const m = manifestOf(data, 'a.bin');
    const sink = await open(dl, m);
    const bad = Buffer.from(chunkOf(data, m, 1));
    bad[100]! ^= 1;
    const err = await rejectsWith(sink.writeChunk(1, bad), 'chunk-hash-mismatch');
    assert.equal(err.peerCode, 'bad-chunk');
    assert.equal(err.resumable, true);
    assert.deepEqual(sink.missingChunks(), [0, 1, 2, 3]);
    await rejectsWith(sink.writeChunk(1, chunkOf(data, m, 2)), 'chunk-hash-mismatch');
    await rejectsWith(sink.writeChunk(3, chunkOf(data, m, 0)), 'chunk-size');
    await rejectsWith(sink.writeChunk(4, chunkOf(data, m, 0)), 'chunk-out-of-range');
    await rejectsWith(sink.writeChunk(-1, chunkOf(data, m, 0)), 'chunk-out-of-range');
    await rejectsWith(sink.writeChunk(0.5, chunkOf(data, m, 0)), 'chunk-out-of-range');
    const tempFile = path.join(dl, `.parley-${sink.transferId}.part`);
    assert.equal(lstatSync(tempFile).size, 0, 'nothing unverified reached the disk');
    await rejectsWith(sink.complete(), 'incomplete');

    // Out of order, and a repeat is harmless.
    for (const i of [3, 1, 0, 2]) assert.equal(await sink.writeChunk(i, chunkOf(data, m, i)), 'written');
    assert.equal(await sink.writeChunk(1, chunkOf(data, m, 1)), 'duplicate');
    const r = await sink.complete();
    assert.deepEqual(readFileSync(r.path), data);
    await rejectsWith(sink.writeChunk(0, chunkOf(data, m, 0)), 'closed');
  });

  it('that read back wrong from disk are counted missing again and can be resent', async () => {
    const { dl } = sandbox();
    const data = randomBytes(4 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    for (let i = 0; i < 4; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    await sink.close();
    const temp = path.join(dl, `.parley-${transferId}.part`);
    const fh = await fsp.open(temp, 'r+');
    await fh.write(Buffer.from([data[2 * CHUNK + 5]! ^ 0xff]), 0, 1, 2 * CHUNK + 5);
    await fh.close();

    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [], 'the journal still says verified');
    await rejectsWith(sink.complete(), 'corrupt-on-disk');
    assert.deepEqual(sink.missingChunks(), [2]);
    assert.ok(!readdirSync(dl).includes('a.bin'));
    await sink.close();
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [2], 'and that is durable');
    await sink.writeChunk(2, chunkOf(data, m, 2));
    assert.deepEqual(readFileSync((await sink.complete()).path), data);
  });

  it('that all match while the file hash does not (a lying manifest) publish nothing', async () => {
    const { dl } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = { ...manifestOf(data, 'a.bin'), fileHash: new Uint8Array(sha256(Buffer.from('something else'))) };
    const sink = await open(dl, m);
    for (let i = 0; i < 2; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    const err = await rejectsWith(sink.complete(), 'file-hash-mismatch');
    assert.equal(err.peerCode, 'bad-file');
    assertOnlyPartials(dl);
    await sink.cancel();
    assert.deepEqual(readdirSync(dl), [], 'cancel removes the temp file and the journal');
  });

  it('written concurrently all count', async () => {
    const { dl } = sandbox();
    const data = randomBytes(40 * CHUNK + 3);
    const m = manifestOf(data, 'a.bin');
    const sink = await open(dl, m);
    const results = await Promise.all(Array.from({ length: sink.chunkCount }, (_, i) => sink.writeChunk(i, chunkOf(data, m, i))));
    assert.ok(results.every((r) => r === 'written'));
    assert.deepEqual(sink.missingChunks(), []);
    assert.deepEqual(readFileSync((await sink.complete()).path), data);
  });
});

describe('the final name', () => {
  it('holds nothing until the file is complete, at every step, across a link drop', async () => {
    const { dl } = sandbox();
    writeFileSync(path.join(dl, 'other.txt'), 'x');
    const data = randomBytes(5 * CHUNK + 7);
    const m = manifestOf(data, 'report.pdf');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    assertOnlyPartials(dl, ['other.txt']);
    for (let i = 0; i < 3; i++) {
      await sink.writeChunk(i, chunkOf(data, m, i));
      assertOnlyPartials(dl, ['other.txt']);
    }
    await sink.close(); // the link dropped
    assertOnlyPartials(dl, ['other.txt']);
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [3, 4, 5]);
    assert.deepEqual(sink.progress(), { verifiedChunks: 3, chunks: 6, verifiedBytes: 3 * CHUNK, bytes: data.byteLength });
    for (let i = 3; i < 6; i++) {
      await sink.writeChunk(i, chunkOf(data, m, i));
      assertOnlyPartials(dl, ['other.txt']);
    }
    const r = await sink.complete();
    assert.deepEqual(readdirSync(dl).sort(), ['other.txt', 'report.pdf'], 'temp file and journal are gone');
    assert.equal(r.renamed, false);
    assert.deepEqual(readFileSync(r.path), data);
  });

  it('never replaces an existing file: two transfers of one name end up as two files', async () => {
    const { dl } = sandbox();
    writeFileSync(path.join(dl, 'report.pdf'), 'mine');
    const a = randomBytes(3 * CHUNK);
    const b = randomBytes(2 * CHUNK + 1);
    const ma = manifestOf(a, 'report.pdf');
    const mb = manifestOf(b, 'report.pdf');
    const [sa, sb] = await Promise.all([open(dl, ma), open(dl, mb)]);
    await Promise.all([
      (async () => {
        for (let i = 0; i < sa.chunkCount; i++) await sa.writeChunk(i, chunkOf(a, ma, i));
      })(),
      (async () => {
        for (let i = 0; i < sb.chunkCount; i++) await sb.writeChunk(i, chunkOf(b, mb, i));
      })(),
    ]);
    const [ra, rb] = await Promise.all([sa.complete(), sb.complete()]);
    assert.deepEqual([ra.name, rb.name].sort(), ['report (1).pdf', 'report (2).pdf']);
    assert.deepEqual(readFileSync(ra.path), a);
    assert.deepEqual(readFileSync(rb.path), b);
    assert.equal(readFileSync(path.join(dl, 'report.pdf'), 'utf8'), 'mine');
    assert.deepEqual(readdirSync(dl).sort(), ['report (1).pdf', 'report (2).pdf', 'report.pdf']);
  });

  it('on a file system without hard links is claimed exclusively, still never over a file', async () => {
    const { dl } = sandbox();
    writeFileSync(path.join(dl, 'a.txt'), 'mine');
    const noLinks = {
      link: async () => {
        throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
      },
    };
    const data = randomBytes(CHUNK + 1);
    const r = await receive(dl, data, 'a.txt', { publishOps: noLinks });
    assert.equal(r.name, 'a (1).txt');
    assert.deepEqual(readFileSync(r.path), data);
    assert.equal(readFileSync(path.join(dl, 'a.txt'), 'utf8'), 'mine');
    assert.deepEqual(readdirSync(dl).sort(), ['a (1).txt', 'a.txt']);
  });

  it('is found again after a crash between publishing and cleaning up', async () => {
    const { dl } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.txt');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    for (let i = 0; i < 2; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    await sink.close();
    // What publishing does first; then the process "died".
    linkSync(path.join(dl, `.parley-${transferId}.part`), path.join(dl, 'a.txt'));
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), []);
    const r = await sink.complete();
    assert.equal(r.name, 'a.txt');
    assert.deepEqual(readdirSync(dl), ['a.txt'], 'the temp name and journal were cleaned up, no second copy');
  });

  it('is never held open: nothing received is opened after it is published', async () => {
    const { dl } = sandbox();
    const r = await receive(dl, randomBytes(CHUNK), 'a.txt');
    if (process.platform !== 'linux') return;
    const open = readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/self/fd/${fd}`)];
      } catch {
        return [];
      }
    });
    const real = await fsp.realpath(dl);
    assert.deepEqual(open.filter((p) => p.startsWith(real)), [], `${r.path} and its temp file are closed`);
  });
});

describe('limits and cancel', () => {
  it('refuses a file over the per-file limit or the free space before creating anything', async () => {
    const { dl } = sandbox();
    const data = randomBytes(CHUNK);
    const big = await rejectsWith(open(dl, manifestOf(data, 'a.bin'), { maxFileBytes: CHUNK - 1 }), 'too-large');
    assert.equal(big.peerCode, 'too-large');
    const space = await rejectsWith(open(dl, manifestOf(data, 'a.bin'), { keepFreeBytes: Number.MAX_SAFE_INTEGER / 2 }), 'insufficient-space');
    assert.equal(space.peerCode, 'disk-full');
    assert.equal(space.resumable, true);
    assert.deepEqual(readdirSync(dl), []);
  });

  it('refuses to resume a transfer ID with a different file, leaving the first one intact', async () => {
    const { dl } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const transferId = ulid();
    const sink = await open(dl, m, { transferId });
    await sink.writeChunk(0, chunkOf(data, m, 0));
    await sink.close();
    const before = snapshot(dl);
    await rejectsWith(open(dl, manifestOf(randomBytes(2 * CHUNK), 'a.bin'), { transferId }), 'manifest-mismatch');
    assert.deepEqual(snapshot(dl), before);
    const again = await open(dl, m, { transferId });
    assert.deepEqual(again.missingChunks(), [1]);
    await again.cancel();
  });

  it('opens one transfer once per process', async () => {
    const { dl } = sandbox();
    const m = manifestOf(randomBytes(10), 'a.bin');
    const transferId = ulid();
    const sink = await open(dl, m, { transferId });
    await rejectsWith(open(dl, m, { transferId }), 'busy');
    await sink.close();
    await (await open(dl, m, { transferId })).cancel();
  });

  it('cancel removes the temp file and the journal and nothing else', async () => {
    const { dl } = sandbox();
    writeFileSync(path.join(dl, 'a.bin'), 'mine');
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const sink = await open(dl, m);
    await sink.writeChunk(1, chunkOf(data, m, 1));
    await sink.cancel();
    assert.deepEqual(readdirSync(dl), ['a.bin']);
    assert.equal(readFileSync(path.join(dl, 'a.bin'), 'utf8'), 'mine');
    await rejectsWith(sink.writeChunk(0, chunkOf(data, m, 0)), 'closed');
  });

  it('receives an empty file', async () => {
    const { dl } = sandbox();
    const r = await receive(dl, new Uint8Array(0), 'empty.txt');
    assert.equal(lstatSync(r.path).size, 0);
  });
});

describe('folder transfers', () => {
  it('go into a new folder of their own, never into an existing one of that name', async () => {
    const { dl, outside } = sandbox();
    mkdirSync(path.join(dl, 'Photos'));
    symlinkSync(outside, path.join(dl, 'Photos (1)'));
    const top = await createUniqueFolder(dl, 'Photos');
    assert.equal(top.name, 'Photos (2)');
    const data = randomBytes(100);
    const r = await receive(dl, data, 'beach.jpg', { into: top.name, path: '2024/summer' });
    assert.equal(r.path, path.join(await fsp.realpath(dl), 'Photos (2)', '2024', 'summer', 'beach.jpg'));
    assert.deepEqual(readdirSync(outside), ['secret.txt']);
    await rejectsWith(createUniqueFolder(dl, '..'), 'unsafe-name');
  });
});

describe('the resume journal', () => {
  it('survives a torn last record: the chunks before it still count', async () => {
    const { dl } = sandbox();
    const data = randomBytes(4 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    for (let i = 0; i < 2; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    await sink.close();
    const journal = path.join(dl, `.parley-${transferId}.journal`);
    writeFileSync(journal, Buffer.from([0, 0, 0, 3, 0x5a]), { flag: 'a' }); // half a record for chunk 3
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [2, 3]);
    await sink.writeChunk(2, chunkOf(data, m, 2));
    await sink.close();
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [3], 'records appended after the torn one are read');
    await sink.writeChunk(3, chunkOf(data, m, 3));
    assert.deepEqual(readFileSync((await sink.complete()).path), data);
  });

  it('that is unreadable makes the transfer start over rather than trust it', async () => {
    const { dl } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    await sink.writeChunk(0, chunkOf(data, m, 0));
    await sink.close();
    writeFileSync(path.join(dl, `.parley-${transferId}.journal`), 'not a journal');
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [0, 1]);
    for (let i = 0; i < 2; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    assert.deepEqual(readFileSync((await sink.complete()).path), data);
    assert.deepEqual(readdirSync(dl), ['a.bin']);
  });

  it('whose temp file was deleted starts over', async () => {
    const { dl } = sandbox();
    const data = randomBytes(2 * CHUNK);
    const m = manifestOf(data, 'a.bin');
    const transferId = ulid();
    let sink = await open(dl, m, { transferId });
    await sink.writeChunk(0, chunkOf(data, m, 0));
    await sink.close();
    rmSync(path.join(dl, `.parley-${transferId}.part`));
    sink = await open(dl, m, { transferId });
    assert.deepEqual(sink.missingChunks(), [0, 1]);
    for (let i = 0; i < 2; i++) await sink.writeChunk(i, chunkOf(data, m, i));
    assert.deepEqual(readFileSync((await sink.complete()).path), data);
  });
});

describe('resuming after the receiving process is killed', () => {
  it('resumes from the last durable chunk and writes only the missing ones', async () => {
    const { root, dl } = sandbox();
    const data = randomBytes(12 * CHUNK + 999);
    const src = path.join(root, 'source.bin');
    writeFileSync(src, data);
    const transferId = ulid();
    const upTo = 6;
    // The child receives chunks 0..5, starts chunk 6 and is killed with SIGKILL: no cleanup,
    // no close, whatever was in flight is cut off.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { FileSource } from ${JSON.stringify(path.join(filesDir, 'file-source.ts'))};
        import { DownloadSink } from ${JSON.stringify(path.join(filesDir, 'download-sink.ts'))};
        const { DIR, SRC, ID, UPTO } = process.env;
        const source = await FileSource.open(SRC, { chunkSize: ${CHUNK} });
        const sink = await DownloadSink.open({ dir: DIR, transferId: ID, manifest: source.manifest, keepFreeBytes: 0 });
        for (let i = 0; i < Number(UPTO); i++) await sink.writeChunk(i, await source.readChunk(i));
        void sink.writeChunk(Number(UPTO), await source.readChunk(Number(UPTO)));
        process.stdout.write('written\\n');
        process.kill(process.pid, 'SIGKILL');
        `,
      ],
      { env: { ...process.env, DIR: dl, SRC: src, ID: transferId, UPTO: String(upTo) }, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    assert.equal(child.stdout, 'written\n');
    assertOnlyPartials(dl);

    const m = manifestOf(data, 'source.bin');
    const sink = await open(dl, m, { transferId });
    const missing = sink.missingChunks();
    const all = Array.from({ length: 13 }, (_, i) => i);
    assert.ok(
      JSON.stringify(missing) === JSON.stringify(all.slice(upTo)) || JSON.stringify(missing) === JSON.stringify(all.slice(upTo + 1)),
      `chunks 0..${upTo - 1} survived the kill (chunk ${upTo} may have), missing: ${missing}`,
    );
    let writes = 0;
    for (const i of missing) {
      assert.equal(await sink.writeChunk(i, chunkOf(data, m, i)), 'written');
      writes++;
      assertOnlyPartials(dl);
    }
    assert.ok(writes <= 13 - upTo);
    const r = await sink.complete();
    assert.equal(r.name, 'source.bin');
    assert.deepEqual(sha256(readFileSync(r.path)), sha256(data));
    assert.deepEqual(readdirSync(dl), ['source.bin']);
  });
});
