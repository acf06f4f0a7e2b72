// Issue 6's acceptance run: a 1 GiB file (PARLEY_FILES_ACCEPTANCE_MIB to change the size) to a
// receiver in its own OS process, with the link cut at 5 random points and the receiver
// SIGKILLed and restarted once at another. It completes, the whole-file SHA-256 matches, and
// a watcher polling the download folder the whole time never sees the final name before the
// file is complete there. The sender is this process, behind a TCP proxy that cuts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import { FolderTransferStore } from '../../main/core/files/transfer-store.ts';
import { TransferManager, type TransferEvents } from '../../main/core/files/transfers.ts';
import { generateIdentity } from '../../main/core/identity/identity.ts';
import { testLogger } from '../../main/core/log.ts';
import { TcpProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { fileListener, MiB, sha256File, writeTestFile } from './files-harness.ts';
import { manifestToJson } from './files-manifest-json.ts';

const SIZE = Number(process.env.PARLEY_FILES_ACCEPTANCE_MIB ?? 1024) * MiB;
const RECEIVER = path.join(import.meta.dirname, 'files-receiver-process.ts');
const root = mkdtempSync(path.join(os.tmpdir(), 'parley-files-acceptance-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

type Line = { type: string; [k: string]: unknown };

class Receiver {
  readonly lines: Line[] = [];
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<void>;
  stderr = '';
  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [RECEIVER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.proc.once('exit', () => r()));
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => this.lines.push(JSON.parse(l) as Line));
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }
  of(type: string): Line[] {
    return this.lines.filter((l) => l.type === type);
  }
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** `n` points in (from, to), at least `gap` apart, in order. */
function randomPoints(n: number, from: number, to: number, gap: number): number[] {
  for (;;) {
    const p = Array.from({ length: n }, () => from + Math.random() * (to - from)).sort((a, b) => a - b);
    if (p.every((x, i) => i === 0 || x - p[i - 1]! >= gap)) return p;
  }
}

it(`a ${SIZE / MiB} MiB file survives 5 link cuts and a receiver restart, and nothing shows under its name before it is whole`, async (t) => {
  const t0 = performance.now();
  const lap = (what: string) => t.diagnostic(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const src = path.join(mkdtempSync(path.join(root, 'src-')), 'big.bin');
  const hash = await writeTestFile(src, SIZE);
  lap('source written');

  const senderId = generateIdentity();
  const sender = new TransferManager({
    selfId: senderId.id,
    store: new FolderTransferStore(path.join(root, 'sender-state')),
    connect: () => Promise.reject(new Error('the sender does not dial')),
    log: testLogger('sender'),
    timing: { progressEveryMs: 20 },
  });
  const events: Array<{ type: keyof TransferEvents; e: object }> = [];
  for (const type of ['done', 'failed', 'canceled'] as const) sender.on(type, (e: object) => events.push({ type, e }));
  let acked = 0;
  sender.on('progress', (p) => (acked = p.bytesDone));
  cleanups.push(() => sender.close());
  const listener = await fileListener(senderId, (socket, peer) => sender.handleIncoming(socket, peer));
  cleanups.push(listener.close);
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: listener.port });
  cleanups.push(() => proxy.close());

  const dl = mkdtempSync(path.join(root, 'dl-'));
  const data = mkdtempSync(path.join(root, 'receiver-'));
  const args = ['--data', data, '--dl', dl, '--port', String(proxy.port)];
  let receiver = new Receiver(args);
  cleanups.push(() => receiver.kill());
  const ready = await waitFor('the receiver process is ready', () => receiver.of('ready')[0], 30_000);
  const receiverId = ready.id as PeerId;

  // The watcher: the final name may only ever show the whole file.
  const sightings: Array<{ at: number; size: number }> = [];
  const strangers = new Set<string>();
  const watcher = setInterval(() => {
    for (const name of readdirSync(dl)) {
      if (name === 'big.bin') {
        try {
          sightings.push({ at: acked, size: statSync(path.join(dl, name)).size });
        } catch {
          sightings.push({ at: acked, size: -1 });
        }
      } else if (!name.startsWith('.parley-')) strangers.add(name);
    }
  }, 5);
  cleanups.push(() => clearInterval(watcher));

  const offer = await sender.offer(receiverId, src);
  lap('offered (hashed)');
  receiver.proc.stdin.write(`${JSON.stringify({ accept: { transferId: offer.transferId, from: senderId.id, manifest: manifestToJson(offer.manifest) } })}\n`);

  // Six random points, one of them (at random) the receiver's restart, the others link cuts.
  const points = randomPoints(6, 0.05, 0.92, 0.04).map((f) => Math.floor(f * SIZE));
  const restartAt = Math.floor(Math.random() * points.length);
  let cuts = 0;
  for (const [i, at] of points.entries()) {
    await waitFor(`${(at / MiB).toFixed(0)} MiB acknowledged`, () => acked >= at, 120_000, 2);
    if (i === restartAt) {
      await receiver.kill();
      lap(`receiver killed at ${(acked / MiB).toFixed(0)} MiB`);
      receiver = new Receiver(args);
      await waitFor('the restarted receiver is ready', () => receiver.of('ready')[0], 30_000);
    } else {
      proxy.cut();
      cuts++;
      lap(`link cut at ${(acked / MiB).toFixed(0)} MiB`);
    }
  }
  const done = await waitFor('the file is received', () => receiver.of('done')[0] ?? receiver.of('failed')[0], 180_000, 20);
  lap('received and verified by the receiver');
  assert.equal(done.type, 'done', JSON.stringify(done));
  await waitFor('the sender hears it', () => events.find((e) => e.type === 'done'), 10_000);
  clearInterval(watcher);

  assert.equal(cuts, 5);
  assert.equal(await sha256File(path.join(dl, 'big.bin')), hash, 'whole-file SHA-256');
  lap('SHA-256 checked');
  assert.ok(sightings.length > 0, 'the watcher saw the file in the end');
  assert.deepEqual(
    sightings.filter((s) => s.size !== SIZE),
    [],
    'whenever the final name showed, it held the whole file',
  );
  assert.deepEqual([...strangers], [], 'no other name showed up in the folder');
  assert.deepEqual(readdirSync(dl), ['big.bin'], 'no temp file or journal is left');
  assert.deepEqual(events.map((e) => e.type), ['done']);
  assert.ok(receiver.of('progress').length > 0);
  assert.ok(proxy.connections >= 7, `${proxy.connections} connections: one per cut and restart at least`);
  receiver.proc.stdin.end();
  await receiver.exited;
});
