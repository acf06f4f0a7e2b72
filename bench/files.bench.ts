// File transfer over parley-file/1 on loopback against a raw Node TLS 1.3 stream pushing the
// same bytes in the same run, sender (this process) and receiver in separate processes; then
// chat send→ack latency between the same two processes, idle and while a transfer runs.
// BENCH_FILES_MIB (default 1024) sizes the file, BENCH_FILES_REPS (2) repeats each
// throughput run (the best is kept), BENCH_FILES_WINDOWS ("1,2,4,8,16", MiB) the window sweep
// and BENCH_FILES_SWEEP_MIB (256) its file size, BENCH_FILES_ROUND_TRIPS (500) the idle probes.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import readline from 'node:readline';
import tls from 'node:tls';
import type { SelfInfo } from '../main/contract/contract.ts';
import { MemoryTransferStore } from '../main/core/files/transfer-store.ts';
import { defaultTransferTiming, TransferManager } from '../main/core/files/transfers.ts';
import { testLogger } from '../main/core/log.ts';
import type { ParleyNode } from '../main/core/node.ts';
import { fileListener, MiB, writeTestFile } from '../test/integration/files-harness.ts';
import { manifestToJson } from '../test/integration/files-manifest-json.ts';
import { node, removeTempDirs } from '../test/helpers/nodes.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { cpuMs } from './proc.ts';
import { fmt, printTable, summarize } from './stats.ts';

const SIZE = Number(process.env.BENCH_FILES_MIB ?? 1024) * MiB;
const REPS = Number(process.env.BENCH_FILES_REPS ?? 2);
const WINDOWS = (process.env.BENCH_FILES_WINDOWS ?? '1,2,4,8,16').split(',').filter(Boolean).map(Number);
const SWEEP = Number(process.env.BENCH_FILES_SWEEP_MIB ?? 256) * MiB;
const ROUND_TRIPS = Number(process.env.BENCH_FILES_ROUND_TRIPS ?? 500);

const RAW_COUNT_PEER = new URL('./raw-tls-peer.ts', import.meta.url).pathname;
const RAW_FILE_PEER = new URL('./files-raw-peer.ts', import.meta.url).pathname;
const PEER = new URL('./files-peer.ts', import.meta.url).pathname;

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Run {
  secs: number;
  /** Event-loop delay p99 and max (ms) of the sender's and the receiver's process, when measured. */
  loop?: { sender: [number, number]; receiver: [number, number] };
  /** CPU of this process (the sender) and of the receiver's, in ms. */
  senderCpu: number;
  receiverCpu: number;
}

async function firstLine(child: ChildProcess): Promise<string> {
  return (await readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value as string;
}

async function rawClient(port: number): Promise<tls.TLSSocket> {
  const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  await once(client, 'secureConnect');
  return client;
}

/** Raw TLS, memory to memory: 64 KiB writes as fast as the socket drains; the peer counts. */
async function rawMemory(bytes: number): Promise<Run> {
  const child = spawn(process.execPath, [RAW_COUNT_PEER, '--count', String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const client = await rawClient(Number((await lines.next()).value));
  const block = Buffer.alloc(64 * 1024, 7);
  const [c0, r0, t0] = [selfCpuMs(), cpuMs(child.pid!), performance.now()];
  for (let sent = 0; sent < bytes; sent += block.byteLength) {
    if (!client.write(block.subarray(0, Math.min(block.byteLength, bytes - sent)))) await once(client, 'drain');
  }
  await lines.next();
  const run = { secs: (performance.now() - t0) / 1000, senderCpu: selfCpuMs() - c0, receiverCpu: cpuMs(child.pid!) - r0 };
  client.destroy();
  child.kill();
  return run;
}

/** Raw TLS, file to file: the file piped into the socket, written by the peer and fsynced once. */
async function rawFile(src: string, bytes: number, scratch: string): Promise<Run> {
  const dst = path.join(scratch, `raw-${Date.now()}.bin`);
  const child = spawn(process.execPath, [RAW_FILE_PEER, dst, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const client = await rawClient(Number((await lines.next()).value));
  const [c0, r0, t0] = [selfCpuMs(), cpuMs(child.pid!), performance.now()];
  createReadStream(src, { highWaterMark: MiB }).pipe(client);
  const result = (await lines.next()).value as string;
  const run = { secs: (performance.now() - t0) / 1000, senderCpu: selfCpuMs() - c0, receiverCpu: cpuMs(child.pid!) - r0 };
  if (result !== 'done') throw new Error(`raw file transfer: ${result}`);
  client.destroy();
  child.kill();
  rmSync(dst, { force: true });
  return run;
}

/** This process's node and file sender, and the peer process's node and file receiver. */
async function parleyPair() {
  const a = await node('bench-files-a', undefined, {});
  const child = spawn(process.execPath, [PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  const rl = readline.createInterface({ input: child.stdout! });
  const ready = new Promise<SelfInfo>((resolve) =>
    rl.on('line', (l) => {
      const msg = JSON.parse(l) as Record<string, unknown>;
      if (msg.type === 'ready') resolve(msg as unknown as SelfInfo);
      else lines.push(msg);
    }),
  );
  const self = await ready;
  await a.api.call('addPeer', { address: `127.0.0.1:${self.port}`, id: self.id });
  const conv = (await a.api.call('openConversation', { peerId: self.id })).id;
  await waitFor('link', () => a.links.get(self.id), 30_000);
  const sender = new TransferManager({
    selfId: a.identity.id,
    store: new MemoryTransferStore(),
    connect: () => Promise.reject(new Error('the sender does not dial')),
    log: testLogger('bench-files-sender'),
  });
  // Until the node routes parley-file/1 on its own listener, a second listener with the same key.
  const listener = await fileListener(a.identity, (socket, peer) => sender.handleIncoming(socket, peer));
  return {
    a,
    conv,
    peerId: self.id,
    child,
    /**
     * Sends `src` to the peer process; resolves when the peer says it is done. `started` runs
     * once the offer is made (hashing the file to offer it is not part of the transfer).
     */
    async transfer(src: string, windowBytes: number, started?: () => void): Promise<Run & { verifiedSecs: number }> {
      const offer = await sender.offer(self.id, src);
      started?.();
      const before = lines.length;
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const [c0, r0] = [selfCpuMs(), cpuMs(child.pid!)];
      child.stdin!.write(
        `${JSON.stringify({ accept: { transferId: offer.transferId, from: a.identity.id, port: listener.port, windowBytes, manifest: manifestToJson(offer.manifest) } })}\n`,
      );
      const done = await waitFor('the peer received the file', () => lines.slice(before).find((l) => l.type === 'done' || l.type === 'error'), 600_000, 5);
      loop.disable();
      if (done.type !== 'done') throw new Error(String(done.message));
      return {
        secs: (done.doneMs as number) / 1000,
        verifiedSecs: (done.verifiedMs as number) / 1000,
        senderCpu: selfCpuMs() - c0,
        receiverCpu: cpuMs(child.pid!) - r0,
        loop: { sender: [loop.percentile(99) / 1e6, loop.max / 1e6], receiver: [done.loopP99Ms as number, done.loopMaxMs as number] },
      };
    },
    async stop() {
      await sender.close();
      await listener.close();
      await a.stop();
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** send→ack round trips on the chat link, one at a time, until `until()` or `n` samples. */
async function roundTrips(a: ParleyNode, conv: string, opts: { n?: number; until?: () => boolean }): Promise<number[]> {
  const waiting = new Map<string, () => void>();
  const onFrame = (_link: unknown, f: { t: string; ids?: string[] }) => {
    if (f.t === 'ack') for (const id of f.ids ?? []) waiting.get(id)?.();
  };
  a.links.on('frame', onFrame as never);
  const samples: number[] = [];
  for (let i = 0; opts.n === undefined ? !opts.until!() : i < opts.n; i++) {
    const t0 = process.hrtime.bigint();
    let resolveAck!: () => void;
    const ack = new Promise<void>((r) => (resolveAck = r));
    const m = await a.api.call('send', { convId: conv, text: `latency probe ${i} with a typical length of a chat line` });
    waiting.set(m.id, resolveAck);
    if (a.store.getMessage(m.id)?.state === 'delivered') resolveAck();
    await ack;
    waiting.delete(m.id);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    // A person types a line now and then; 20 per second is already a busy conversation.
    await new Promise((r) => setTimeout(r, 50));
  }
  a.links.off('frame', onFrame as never);
  return samples;
}

const loopDelay = (r: Run) => (r.loop ? `${fmt(r.loop.sender[0], 0)} / ${fmt(r.loop.sender[1], 0)}, ${fmt(r.loop.receiver[0], 0)} / ${fmt(r.loop.receiver[1], 0)}` : '');
const best = (runs: Run[]) => runs.reduce((x, y) => (y.secs < x.secs ? y : x));
const mibps = (bytes: number, secs: number) => bytes / MiB / secs;
const cpuPerGiB = (ms: number, bytes: number) => (ms / 1000) * (1024 * MiB / bytes);

export async function filesBench(): Promise<void> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-files-'));
  try {
    const src = path.join(scratch, 'bench.bin');
    await writeTestFile(src, SIZE);
    const sweepSrc = path.join(scratch, 'sweep.bin');
    if (WINDOWS.length > 0) await writeTestFile(sweepSrc, SWEEP, 2);

    const raw: Run[] = [];
    const rawF: Run[] = [];
    for (let i = 0; i < REPS; i++) raw.push(await rawMemory(SIZE));
    for (let i = 0; i < REPS; i++) rawF.push(await rawFile(src, SIZE, scratch));

    const pair = await parleyPair();
    try {
      const parley: Array<Run & { verifiedSecs: number }> = [];
      for (let i = 0; i < REPS; i++) parley.push(await pair.transfer(src, defaultTransferTiming.windowBytes));
      const sweep: Array<[number, number]> = [];
      for (const w of WINDOWS) sweep.push([w, mibps(SWEEP, (await pair.transfer(sweepSrc, w * MiB)).secs)]);
      const rawSweep = mibps(SWEEP, best([await rawMemory(SWEEP)]).secs);

      const idle = summarize(await roundTrips(pair.a, pair.conv, { n: ROUND_TRIPS }));
      let busy = true;
      let during: Promise<number[]> = Promise.resolve([]);
      const t = await pair.transfer(src, defaultTransferTiming.windowBytes, () => (during = roundTrips(pair.a, pair.conv, { until: () => !busy })));
      busy = false;
      const busySamples = summarize(await during);

      const [p, r, rf] = [parley.reduce((x, y) => (y.secs < x.secs ? y : x)), best(raw), best(rawF)];
      const [pm, rm, rfm] = [mibps(SIZE, p.secs), mibps(SIZE, r.secs), mibps(SIZE, rf.secs)];
      printTable(`Files: ${SIZE / MiB} MiB on loopback, sender and receiver in separate processes (best of ${REPS})`, [
        { name: 'throughput, accept → published (MiB/s)', value: fmt(pm, 0), baseline: `${fmt(rm, 0)} raw TLS, memory to memory`, ratio: `${fmt(pm / rm, 2)}×`, target: '≥ 0.8× raw TLS' },
        { name: 'throughput, accept → published (MiB/s)', value: fmt(pm, 0), baseline: `${fmt(rfm, 0)} raw TLS, file to file + fsync`, ratio: `${fmt(pm / rfm, 2)}×`, target: '' },
        { name: 'throughput, accept → every chunk durable (MiB/s)', value: fmt(mibps(SIZE, p.verifiedSecs), 0), baseline: `${fmt(rm, 0)} raw TLS, memory to memory`, ratio: `${fmt(mibps(SIZE, p.verifiedSecs) / rm, 2)}×`, target: '' },
        { name: 'receiver CPU per GiB (s)', value: fmt(cpuPerGiB(p.receiverCpu, SIZE), 2), baseline: `${fmt(cpuPerGiB(rf.receiverCpu, SIZE), 2)} raw TLS file to file`, ratio: `${fmt(p.receiverCpu / rf.receiverCpu, 1)}×`, target: '' },
        { name: 'sender CPU per GiB (s)', value: fmt(cpuPerGiB(p.senderCpu, SIZE), 2), baseline: `${fmt(cpuPerGiB(rf.senderCpu, SIZE), 2)} raw TLS file to file`, ratio: `${fmt(p.senderCpu / rf.senderCpu, 1)}×`, target: '' },
        { name: 'chat send→ack p50 / p99 during the transfer (ms)', value: `${fmt(busySamples.p50, 2)} / ${fmt(busySamples.p99, 2)}`, baseline: `${fmt(idle.p50, 2)} / ${fmt(idle.p99, 2)} idle`, ratio: `${fmt(busySamples.p50 / idle.p50, 1)}× / ${fmt(busySamples.p99 / idle.p99, 1)}×`, target: 'p99 ≤ 50 ms' },
        {
          name: 'event-loop delay p99 / max, sender and receiver process, during the transfer with chat (ms)',
          value: loopDelay(t),
          baseline: `${loopDelay(p)} without chat`,
          ratio: '',
          target: '',
        },
        { name: `transfer with chat probes (MiB/s, ${busySamples.n} probes)`, value: fmt(mibps(SIZE, t.secs), 0), baseline: `${fmt(pm, 0)} without`, ratio: `${fmt(mibps(SIZE, t.secs) / pm, 2)}×`, target: '' },
      ]);
      if (sweep.length > 0) {
        printTable(`Files: receiver window (bytes of chunks asked for ahead), ${SWEEP / MiB} MiB each`, sweep.map(([w, v]) => ({
          name: `window ${w} MiB (MiB/s)`,
          value: fmt(v, 0),
          baseline: `${fmt(rawSweep, 0)} raw TLS, memory to memory`,
          ratio: `${fmt(v / rawSweep, 2)}×`,
        })));
      }
    } finally {
      await pair.stop();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    removeTempDirs();
  }
}
