// Send→ack latency and sustained throughput with SQLite persistence (synchronous=FULL) on
// both sides, against raw Node TLS 1.3 on loopback measured in the same run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import tls from 'node:tls';
import type { SelfInfo } from '../main/contract/contract.ts';
import type { ParleyNode } from '../main/core/node.ts';
import { node, removeTempDirs } from '../test/helpers/nodes.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { fmt, printTable, summarize } from './stats.ts';

const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 2000);
const BURST = Number(process.env.BENCH_BURST ?? 50_000);

const RAW_PEER = new URL('./raw-tls-peer.ts', import.meta.url).pathname;

/** A raw TLS client connected to a bare TLS server in another process. */
async function rawTlsPeer(args: string[]) {
  const child = spawn(process.execPath, [RAW_PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const it = lines[Symbol.asyncIterator]();
  const port = Number((await it.next()).value);
  const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  await once(client, 'secureConnect');
  client.setNoDelay(true);
  return { client, next: () => it.next(), close: () => { client.destroy(); child.kill(); } };
}

/** Raw TLS: 4-byte length + ~100-byte payload, echoed back by the other process. */
async function rawRoundTrips(n: number): Promise<number[]> {
  const { client, close } = await rawTlsPeer(['--echo']);
  const frame = Buffer.alloc(104, 7);
  frame.writeUInt32BE(100, 0);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    let got = 0;
    const t0 = process.hrtime.bigint();
    const done = new Promise<void>((resolve) => {
      const on = (d: Buffer) => {
        got += d.length;
        if (got >= frame.length) {
          client.off('data', on);
          resolve();
        }
      };
      client.on('data', on);
    });
    client.write(frame);
    await done;
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  close();
  return samples;
}

async function rawThroughput(n: number): Promise<number> {
  const frame = Buffer.alloc(104, 7);
  frame.writeUInt32BE(100, 0);
  const { client, next, close } = await rawTlsPeer(['--count', String(n * frame.length)]);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (!client.write(frame)) await once(client, 'drain');
  await next();
  const secs = (performance.now() - t0) / 1000;
  close();
  return n / secs;
}

const PEER = new URL('./parley-peer.ts', import.meta.url).pathname;

/** The sender in this process, the receiver in its own, as on two machines. */
async function parleyPair(): Promise<{ a: ParleyNode; b: { stop(): Promise<void> }; conv: string }> {
  const a = await node('bench-a', undefined, {});
  const child = spawn(process.execPath, [PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const self = JSON.parse(first.value as string) as SelfInfo;
  await a.api.call('addPeer', { address: `127.0.0.1:${self.port}`, id: self.id });
  const conv = (await a.api.call('openConversation', { peerId: self.id })).id;
  await waitFor('link', () => a.links.get(self.id));
  const b = { stop: async () => void (child.kill('SIGTERM'), await once(child, 'exit')) };
  return { a, b, conv };
}

/** Time from `send` to the receiver's ack arriving (the receiver acks only after its commit). */
async function parleyRoundTrips(n: number): Promise<number[]> {
  const { a, b, conv } = await parleyPair();
  const waiting = new Map<string, () => void>();
  a.links.on('frame', (_link, f) => {
    if (f.t === 'ack') for (const id of f.ids) waiting.get(id)?.();
  });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    let acked = false;
    let resolveAck!: () => void;
    const ack = new Promise<void>((r) => (resolveAck = r));
    const m = await a.api.call('send', { convId: conv, text: `latency probe ${i} with a typical length of a chat line` });
    waiting.set(m.id, () => {
      acked = true;
      resolveAck();
    });
    if (!acked && a.store.getMessage(m.id)?.state === 'delivered') resolveAck();
    await ack;
    waiting.delete(m.id);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await a.stop();
  await b.stop();
  return samples;
}

async function parleyThroughput(n: number): Promise<number> {
  const { a, b, conv } = await parleyPair();
  const t0 = performance.now();
  const sends = [];
  for (let i = 0; i < n; i++) {
    sends.push(a.api.call('send', { convId: conv, text: `throughput ${i} with a typical length of a chat line` }));
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(sends);
  await waitFor('all acked', () => a.store.outboxCount() === 0, 300_000, 5);
  const secs = (performance.now() - t0) / 1000;
  await a.stop();
  await b.stop();
  return n / secs;
}

export async function messagingBench(): Promise<void> {
  const raw = summarize(await rawRoundTrips(ROUND_TRIPS));
  const parley = summarize(await parleyRoundTrips(ROUND_TRIPS));
  const rawRate = await rawThroughput(BURST * 2);
  const parleyRate = await parleyThroughput(BURST);
  removeTempDirs();
  printTable('Direct messaging on loopback, sender and receiver in separate processes (persistence: SQLite WAL, synchronous=FULL, both sides)', [
    { name: 'send→ack p50 (ms)', value: fmt(parley.p50), baseline: `${fmt(raw.p50)} raw TLS echo`, ratio: `${fmt(parley.p50 / raw.p50, 1)}×`, target: '≤ 2 ms' },
    { name: 'send→ack p99 (ms)', value: fmt(parley.p99), baseline: `${fmt(raw.p99)} raw TLS echo`, ratio: `${fmt(parley.p99 / raw.p99, 1)}×`, target: '≤ 10 ms' },
    { name: 'sustained one-way (msgs/s, acked + persisted)', value: fmt(parleyRate, 0), baseline: `${fmt(rawRate, 0)} raw TLS frames/s`, ratio: `${fmt(parleyRate / rawRate, 3)}×`, target: '≥ 20,000/s' },
  ]);
}
