// What going through a relay costs: send→ack latency, sustained throughput and link setup
// over a relayed link (relay in its own process, tunnel = two spliced TCP connections with the
// peers' TLS inside), against a direct link between the same kind of nodes in the same run;
// then one tunnel's byte throughput against a bare TCP forwarder (relay-throughput.bench.ts) and
// one relay process under 1,000 idle members plus 100 busy tunnels (relay-load.bench.ts).
// BENCH_RELAY_PARTS=latency,throughput,load picks parts (default: all).
import os from 'node:os';
import type { ParleyNode } from '../main/core/node.ts';
import { connect, node, removeTempDirs } from '../test/helpers/nodes.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from '../test/integration/relay-harness.ts';
import { identityPool } from './identity-pool.ts';
import { loadIdentities, relayLoadBench } from './relay-load.bench.ts';
import { relayThroughputBench } from './relay-throughput.bench.ts';
import { fmt, printTable, summarize } from './stats.ts';

const ROUND_TRIPS = Number(process.env.BENCH_RELAY_ROUND_TRIPS ?? 1000);
const BURST = Number(process.env.BENCH_RELAY_BURST ?? 20_000);
const SETUPS = Number(process.env.BENCH_RELAY_SETUPS ?? 10);

interface Pair {
  a: ParleyNode;
  b: ParleyNode;
  conv: string;
  /** ms from "a wants to talk to b" to a verified link. */
  setupMs: number;
  stop(): Promise<void>;
}

async function directPair(): Promise<Pair> {
  const a = await node('bench-a', undefined, {});
  const b = await node('bench-b', undefined, {});
  const t0 = performance.now();
  const conv = await connect(a, b);
  await waitFor('direct link', () => a.links.get(b.self.id) && b.links.get(a.self.id), 30_000, 1);
  const setupMs = performance.now() - t0;
  return { a, b, conv, setupMs, stop: async () => void (await Promise.all([a.stop(), b.stop()])) };
}

async function relayedPair(relay: RelayProcess): Promise<Pair> {
  const ra: RelayedNode = await relayedNode('bench-a', relay.url);
  const rb: RelayedNode = await relayedNode('bench-b', relay.url);
  await waitRelayConnected(ra);
  await waitRelayConnected(rb);
  await waitFor('directory', () => ra.relay.client.member(rb.node.self.id), 30_000, 1);
  const conv = (await ra.node.api.call('openConversation', { peerId: rb.node.self.id })).id;
  // The first message is what makes a node ask for a tunnel (no polling delay in the figure).
  const t0 = performance.now();
  await ra.node.api.call('send', { convId: conv, text: 'hello' });
  await waitFor('relayed link', () => ra.node.links.get(rb.node.self.id)?.isUp && rb.node.links.get(ra.node.self.id)?.isUp, 30_000, 1);
  const setupMs = performance.now() - t0;
  return { a: ra.node, b: rb.node, conv, setupMs, stop: async () => void (await Promise.all([ra.stop(), rb.stop()])) };
}

async function roundTrips(p: Pair, n: number): Promise<number[]> {
  const waiting = new Map<string, () => void>();
  p.a.api.on('message', (m) => {
    if (m.state === 'delivered') waiting.get(m.id)?.();
  });
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    let resolveAck!: () => void;
    const acked = new Promise<void>((r) => (resolveAck = r));
    const m = await p.a.api.call('send', { convId: p.conv, text: `latency probe ${i} with a typical length of a chat line` });
    waiting.set(m.id, resolveAck);
    if (p.a.store.getMessage(m.id)?.state === 'delivered') resolveAck();
    await acked;
    waiting.delete(m.id);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return samples;
}

async function throughput(p: Pair, n: number): Promise<number> {
  const t0 = performance.now();
  const sends = [];
  for (let i = 0; i < n; i++) {
    sends.push(p.a.api.call('send', { convId: p.conv, text: `throughput ${i} with a typical length of a chat line` }));
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(sends);
  await waitFor('all acked', () => p.a.store.outboxCount() === 0, 300_000, 5);
  return n / ((performance.now() - t0) / 1000);
}

async function measure(make: () => Promise<Pair>) {
  const setups: number[] = [];
  for (let i = 0; i < SETUPS; i++) {
    const p = await make();
    setups.push(p.setupMs);
    await p.stop();
  }
  const p = await make();
  const rtt = summarize(await roundTrips(p, ROUND_TRIPS));
  await p.stop();
  const q = await make();
  const rate = await throughput(q, BURST);
  await q.stop();
  return { setup: summarize(setups), rtt, rate };
}

export async function relayBench(): Promise<void> {
  const parts = (process.env.BENCH_RELAY_PARTS ?? 'latency,throughput,load').split(',');
  if (parts.includes('latency')) await relayLatencyBench();
  if (!parts.includes('throughput') && !parts.includes('load')) return;
  // Two members for the throughput part, then the load part's; generated once, then cached.
  const pool = await identityPool(2 + (parts.includes('load') ? loadIdentities() : 0));
  console.log(
    pool.generated > 0
      ? `\n${pool.generated} relay member identities generated in ${fmt(pool.generateMs / 1000, 1)} s on ${os.cpus().length} worker threads (not in any figure), cached in ${pool.file}`
      : `\n${pool.ids.length} relay member identities from the cache ${pool.file}`,
  );
  try {
    if (parts.includes('throughput')) await relayThroughputBench(pool.ids.slice(0, 2));
    if (parts.includes('load')) await relayLoadBench(pool.ids, 2);
  } finally {
    removeTempDirs();
  }
}

async function relayLatencyBench(): Promise<void> {
  const direct = await measure(directPair);
  const relay = await RelayProcess.start({ limits: { sessionBytesPerSec: 0 } });
  let relayed;
  try {
    relayed = await measure(() => relayedPair(relay));
  } finally {
    await relay.stop();
    removeTempDirs();
  }
  const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;
  printTable('Relayed vs direct messaging on loopback (relay in its own process; persistence as above)', [
    { name: 'send→ack p50 (ms)', value: fmt(relayed.rtt.p50), baseline: `${fmt(direct.rtt.p50)} direct`, ratio: ratio(relayed.rtt.p50, direct.rtt.p50), target: '≤ 2× direct' },
    { name: 'send→ack p99 (ms)', value: fmt(relayed.rtt.p99), baseline: `${fmt(direct.rtt.p99)} direct`, ratio: ratio(relayed.rtt.p99, direct.rtt.p99) },
    { name: 'sustained one-way (msgs/s, acked + persisted)', value: fmt(relayed.rate, 0), baseline: `${fmt(direct.rate, 0)} direct`, ratio: ratio(relayed.rate, direct.rate), target: '≥ 0.5× direct' },
    { name: `link setup p50 (ms, ${SETUPS} runs)`, value: fmt(relayed.setup.p50, 1), baseline: `${fmt(direct.setup.p50, 1)} direct dial`, ratio: ratio(relayed.setup.p50, direct.setup.p50) },
  ]);
}
