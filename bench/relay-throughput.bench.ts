// One tunnel's throughput through the relay against a minimal TCP forwarder (tcp-forwarder.ts)
// in the same run. Relay and forwarder each run in their own process, as a relay does in
// production; sender and receiver are this process, with the same client code for both paths.
// Besides MiB/s, the CPU the relay and the forwarder spend per GiB forwarded (from /proc).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import readline from 'node:readline';
import type { Identity } from '../main/core/identity/identity.ts';
import { openDataConnection, openTunnel } from '../main/core/relay/tunnel.ts';
import { RelayProcess } from '../test/integration/relay-harness.ts';
import { cpuMs } from './proc.ts';
import { benchLimits, joinedMember, push, receive, relayTunnel, type TunnelEnds } from './relay-tools.ts';
import { fmt, printTable } from './stats.ts';

const MIB = 2 ** 20;
const PIPE_MIB = Number(process.env.BENCH_RELAY_PIPE_MIB ?? 256);
const REPS = Number(process.env.BENCH_RELAY_PIPE_REPS ?? 5);
const FORWARDER = new URL('./tcp-forwarder.ts', import.meta.url).pathname;

async function forwarderTunnel(port: number, a: Identity, b: Identity, mode: 'raw' | 'tls'): Promise<TunnelEnds> {
  const key = randomBytes(32);
  if (mode === 'raw') {
    const [sa, sb] = await Promise.all([0, 1].map(() => openDataConnection({ host: '127.0.0.1', port, key, timeoutMs: 30_000 })));
    return { a: sa!, b: sb! };
  }
  const common = { relay: { host: '127.0.0.1', port }, key, pairTimeoutMs: 30_000, handshakeTimeoutMs: 30_000 };
  const [sa, sb] = await Promise.all([
    openTunnel({ ...common, server: false, peerId: b.id, identity: a }),
    openTunnel({ ...common, server: true, peerId: a.id, identity: b }),
  ]);
  return { a: sa, b: sb };
}

/** Pushes `mib` MiB from a to b; MiB/s and the forwarding process's CPU ms for it. */
async function run(ends: TunnelEnds, mib: number, pid: number): Promise<{ mibps: number; cpu: number }> {
  ends.a.on('error', () => undefined);
  const done = receive(ends.b, mib * MIB);
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await push(ends.a, mib * MIB);
  await done;
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuMs(pid) - c0;
  ends.a.destroy();
  ends.b.destroy();
  return { mibps: mib / secs, cpu };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)]!;

export async function relayThroughputBench(ids: Identity[]): Promise<void> {
  const relay = await RelayProcess.start({ limits: benchLimits(2) });
  const fwd = spawn(process.execPath, [FORWARDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const fwdPort = Number((await readline.createInterface({ input: fwd.stdout! })[Symbol.asyncIterator]().next()).value);
    const [ia, ib] = [ids[0]!, ids[1]!];
    const a = { client: await joinedMember(relay.url, ia, 'pipe-a'), id: ia.id };
    const b = { client: await joinedMember(relay.url, ib, 'pipe-b'), id: ib.id };
    const results = { relay: { raw: [] as number[], tls: [] as number[] }, fwd: { raw: [] as number[], tls: [] as number[] } };
    const cpu = { relay: 0, fwd: 0, mib: 0 };
    const load: number[] = [];
    // Round 0 warms up both paths (JIT, socket buffers) and is not counted.
    for (let rep = 0; rep <= REPS; rep++) {
      for (const mode of ['raw', 'tls'] as const) {
        const mib = rep === 0 ? 32 : PIPE_MIB;
        // Alternating which path goes first keeps a drift in the machine's load out of the ratio.
        const viaRelay = async () => run(await relayTunnel(a, b, mode), mib, relay.pid);
        const viaForwarder = async () => run(await forwarderTunnel(fwdPort, ia, ib, mode), mib, fwd.pid!);
        let r, f;
        if (rep % 2 === 0) {
          r = await viaRelay();
          f = await viaForwarder();
        } else {
          f = await viaForwarder();
          r = await viaRelay();
        }
        if (rep === 0) continue;
        results.relay[mode].push(r.mibps);
        results.fwd[mode].push(f.mibps);
        if (mode === 'raw') {
          cpu.relay += r.cpu;
          cpu.fwd += f.cpu;
          cpu.mib += mib;
        }
        load.push(os.loadavg()[0]!);
      }
    }
    await Promise.all([a.client.stop(), b.client.stop()]);
    const raw = { relay: median(results.relay.raw), fwd: median(results.fwd.raw) };
    const tls = { relay: median(results.relay.tls), fwd: median(results.fwd.tls) };
    const perGiB = { relay: cpu.relay / 1000 / (cpu.mib / 1024), fwd: cpu.fwd / 1000 / (cpu.mib / 1024) };
    const all = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(', ');
    printTable(`One relay tunnel vs a minimal TCP forwarder (${PIPE_MIB} MiB one way, median of ${REPS}; relay and forwarder each in their own process)`, [
      { name: 'raw bytes through the spliced data connections (MiB/s)', value: fmt(raw.relay, 0), baseline: `${fmt(raw.fwd, 0)} pipe() forwarder`, ratio: `${fmt(raw.relay / raw.fwd, 2)}×` },
      { name: 'peer TLS 1.3 inside the tunnel (MiB/s)', value: fmt(tls.relay, 0), baseline: `${fmt(tls.fwd, 0)} same TLS through the forwarder`, ratio: `${fmt(tls.relay / tls.fwd, 2)}×` },
      { name: 'forwarding process CPU per GiB, raw (s)', value: fmt(perGiB.relay, 2), baseline: `${fmt(perGiB.fwd, 2)} forwarder`, ratio: `${fmt(perGiB.relay / perGiB.fwd, 2)}×` },
    ]);
    console.log(`\nruns (MiB/s): relay raw ${all(results.relay.raw)}; forwarder raw ${all(results.fwd.raw)}; relay TLS ${all(results.relay.tls)}; forwarder TLS ${all(results.fwd.tls)}. Load ${fmt(Math.min(...load), 1)}–${fmt(Math.max(...load), 1)}.`);
  } finally {
    if (fwd.exitCode === null && fwd.signalCode === null) {
      fwd.kill();
      await once(fwd, 'exit');
    }
    await relay.stop();
  }
}
