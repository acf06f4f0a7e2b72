// One relay process holding 1,000 idle members (real TLS control connections, each its own
// identity, in a separate crowd process) plus 100 active tunnels between 200 more members:
// the relay's resident memory and CPU, against the same relay process idle with no
// connections, measured first in the same run. CPU and RSS come from /proc, outside the relay.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type net from 'node:net';
import os from 'node:os';
import readline from 'node:readline';
import type { Identity } from '../main/core/identity/identity.ts';
import type { RelayClient } from '../main/core/relay/client.ts';
import { RelayProcess } from '../test/integration/relay-harness.ts';
import { sleep } from '../test/helpers/wait.ts';
import { cpuMs, ensureFdLimit, watch } from './proc.ts';
import { benchLimits, CHUNK, describeOverrides, inBatches, joinedMember, relayTunnel } from './relay-tools.ts';
import { fmt, printTable } from './stats.ts';

export const IDLE_MEMBERS = Number(process.env.BENCH_RELAY_IDLE ?? 1000);
export const TUNNELS = Number(process.env.BENCH_RELAY_TUNNELS ?? 100);
/** Per tunnel and direction in the steady phase: a busy chat or a slow file transfer. */
const TUNNEL_KIBPS = Number(process.env.BENCH_RELAY_TUNNEL_KIBPS ?? 64);
/**
 * The idle-members window spans a whole client ping cycle (a member pings after 20 s without
 * sending); traffic swamps the pings, so the tunnel windows are half as long, as is the window
 * of the relay alone.
 */
const WINDOW_MS = Number(process.env.BENCH_RELAY_WINDOW_S ?? 20) * 1000;
const CROWD = new URL('./relay-crowd.ts', import.meta.url).pathname;
const MIB = 2 ** 20;

/** Identities this bench takes from the pool, from `offset` on: tunnel members, then the crowd. */
export const loadIdentities = () => 2 * TUNNELS + IDLE_MEMBERS;

interface Ends {
  senders: net.Socket[];
  received: number[];
}

/** Every tunnel carries `bytesPerSec` each way, paced by the clock. */
function pace(ends: Ends, bytesPerSec: number): () => void {
  const t0 = performance.now();
  const sent = ends.senders.map(() => 0);
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * bytesPerSec);
    ends.senders.forEach((s, i) => {
      while (sent[i]! < due) {
        const n = Math.min(CHUNK.byteLength, due - sent[i]!);
        s.write(CHUNK.subarray(0, n));
        sent[i]! += n;
      }
    });
  }, 50);
  return () => clearInterval(timer);
}

/** Every tunnel as fast as it goes, both ways. */
function flood(ends: Ends): () => void {
  let on = true;
  for (const s of ends.senders) {
    const go = () => {
      while (on && s.write(CHUNK));
      if (on) s.once('drain', go);
    };
    go();
  }
  return () => (on = false);
}

async function phase(relay: RelayProcess, ends: Ends, start: (e: Ends) => () => void) {
  const stop = start(ends);
  await sleep(2000);
  const before = [...ends.received];
  const mine = cpuMs(process.pid);
  const w = await watch(relay.pid, WINDOW_MS / 2);
  const endsCpuPct = ((cpuMs(process.pid) - mine) / w.wallMs) * 100;
  const moved = ends.received.map((r, i) => r - before[i]!);
  stop();
  const total = moved.reduce((x, y) => x + y, 0);
  return { ...w, endsCpuPct, mibps: total / MIB / (w.wallMs / 1000), silent: moved.filter((m) => m === 0).length, load: os.loadavg()[0]! };
}

export async function relayLoadBench(pool: Identity[], offset: number): Promise<void> {
  const maxMembers = IDLE_MEMBERS + 2 * TUNNELS;
  const fds = maxMembers + 2 * TUNNELS + 100;
  ensureFdLimit(process.pid, 4 * TUNNELS + 100);
  const relay = await RelayProcess.start({ limits: benchLimits(maxMembers) });
  let crowd: ReturnType<typeof spawn> | null = null;
  const members: RelayClient[] = [];
  const sockets: net.Socket[] = [];
  try {
    const relayFds = ensureFdLimit(relay.pid, fds);
    await sleep(2000);
    const idle = await watch(relay.pid, WINDOW_MS / 2);
    const idleLoad = os.loadavg()[0]!;

    // The crowd: its members take identities after the tunnel members'.
    const t0 = performance.now();
    const joinCpu0 = cpuMs(relay.pid);
    crowd = spawn(process.execPath, [CROWD, relay.url, String(offset + 2 * TUNNELS), String(IDLE_MEMBERS), '32'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const crowdFds = ensureFdLimit(crowd.pid!, IDLE_MEMBERS + 100);
    const line = await Promise.race([
      readline.createInterface({ input: crowd.stdout! })[Symbol.asyncIterator]().next(),
      once(crowd, 'exit').then(([code]) => Promise.reject(new Error(`crowd exited with ${code}`))),
    ]);
    const joined = JSON.parse(String(line.value)) as { n: number; ms: number };
    if (joined.n !== IDLE_MEMBERS) throw new Error(`only ${joined.n} of ${IDLE_MEMBERS} idle members joined`);
    const joinSecs = (performance.now() - t0) / 1000;
    const joinCpuSecs = (cpuMs(relay.pid) - joinCpu0) / 1000;
    await sleep(3000);
    const crowded = await watch(relay.pid, WINDOW_MS);
    const crowdLoad = os.loadavg()[0]!;

    // 200 more members in this process, then one tunnel between each pair: member 2i asks for 2i+1.
    const t1 = performance.now();
    const setupCpu0 = cpuMs(relay.pid);
    const tunnelIds = pool.slice(offset, offset + 2 * TUNNELS);
    members.push(...(await inBatches(tunnelIds.length, 16, (i) => joinedMember(relay.url, tunnelIds[i]!, `busy ${i}`))));
    const tunnels = await inBatches(TUNNELS, 10, (t) =>
      relayTunnel({ client: members[2 * t]!, id: tunnelIds[2 * t]!.id }, { client: members[2 * t + 1]!, id: tunnelIds[2 * t + 1]!.id }, 'raw'),
    );
    const setupSecs = (performance.now() - t1) / 1000;
    const setupCpuSecs = (cpuMs(relay.pid) - setupCpu0) / 1000;
    const ends: Ends = { senders: [], received: [] };
    for (const t of tunnels) {
      for (const s of [t.a, t.b]) {
        const i = ends.received.push(0) - 1;
        s.on('data', (d: Buffer) => (ends.received[i]! += d.byteLength));
        s.on('error', () => undefined);
        s.resume();
        ends.senders.push(s);
        sockets.push(s);
      }
    }
    const status = await relay.status();
    if (status.members.length !== maxMembers || status.sessions.active !== TUNNELS) {
      throw new Error(`relay has ${status.members.length} members and ${status.sessions.active} active tunnels, expected ${maxMembers} and ${TUNNELS}`);
    }
    const steady = await phase(relay, ends, (e) => pace(e, TUNNEL_KIBPS * 1024));
    await sleep(1000);
    const saturated = await phase(relay, ends, flood);
    const after = await relay.status();
    if (after.members.length !== maxMembers || after.sessions.active !== TUNNELS) {
      throw new Error(`after the traffic the relay has ${after.members.length} members and ${after.sessions.active} active tunnels`);
    }
    const rejected = Object.entries(after.rejected).filter(([, n]) => n > 0);

    const mib = (x: number) => fmt(x, 1);
    const pct = (x: number) => fmt(x, 2);
    const times = (x: number, base: number) => (base > 0 ? `${fmt(x / base, 1)}×` : '—');
    const base = `idle relay, no connections`;
    const expected = (2 * TUNNELS * TUNNEL_KIBPS) / 1024;
    printTable(`One relay process: ${IDLE_MEMBERS.toLocaleString('en')} idle members, then + ${TUNNELS} active tunnels between ${2 * TUNNELS} more members (relay, crowd and tunnel ends in three processes)`, [
      { name: `RSS, ${IDLE_MEMBERS.toLocaleString('en')} idle members (MiB)`, value: mib(crowded.rssMiB), baseline: `${mib(idle.rssMiB)} ${base}`, ratio: times(crowded.rssMiB, idle.rssMiB) },
      { name: `CPU, ${IDLE_MEMBERS.toLocaleString('en')} idle members (% of one core)`, value: pct(crowded.cpuPct), baseline: `${pct(idle.cpuPct)} ${base}`, ratio: times(crowded.cpuPct, idle.cpuPct) },
      { name: `RSS, + ${TUNNELS} tunnels at ${TUNNEL_KIBPS} KiB/s each way (MiB)`, value: mib(steady.rssMiB), baseline: `${mib(idle.rssMiB)} ${base}`, ratio: times(steady.rssMiB, idle.rssMiB) },
      { name: `CPU, + ${TUNNELS} tunnels at ${TUNNEL_KIBPS} KiB/s each way = ${fmt(steady.mibps, 1)} MiB/s relayed (%)`, value: pct(steady.cpuPct), baseline: `${pct(idle.cpuPct)} ${base}`, ratio: times(steady.cpuPct, idle.cpuPct) },
      { name: `RSS, + ${TUNNELS} tunnels flat out (MiB)`, value: mib(saturated.rssMiB), baseline: `${mib(idle.rssMiB)} ${base}`, ratio: times(saturated.rssMiB, idle.rssMiB) },
      { name: `CPU, + ${TUNNELS} tunnels flat out = ${fmt(saturated.mibps, 0)} MiB/s relayed (%)`, value: pct(saturated.cpuPct), baseline: `${pct(idle.cpuPct)} ${base}`, ratio: times(saturated.cpuPct, idle.cpuPct) },
    ]);
    console.log(
      [
        '',
        `RSS per idle member: ${fmt(((crowded.rssMiB - idle.rssMiB) * 1024) / IDLE_MEMBERS, 1)} KiB; relay peak RSS (VmHWM) ${mib(saturated.peakMiB)} MiB. CPU windows: ${WINDOW_MS / 1000} s with the idle members, ${WINDOW_MS / 2000} s for the others; RSS at each window's end.`,
        `Steady phase relayed ${fmt(steady.mibps, 1)} of ${fmt(expected, 1)} MiB/s offered; tunnels silent in a window: ${steady.silent} steady, ${saturated.silent} flat out.`,
        `Load ${fmt(idleLoad, 1)} idle, ${fmt(crowdLoad, 1)} with the crowd, ${fmt(steady.load, 1)} steady, ${fmt(saturated.load, 1)} flat out.`,
        `Flat out, the process holding all ${2 * TUNNELS} tunnel ends and their members (this one) used ${pct(saturated.endsCpuPct)} % of a core${saturated.cpuPct < 90 ? ': it and the shared machine set the pace, not the relay' : ''}.`,
        `Setup (not in the figures): ${IDLE_MEMBERS} idle members joined in ${fmt(joinSecs, 1)} s, 32 at a time, costing the relay ${fmt(joinCpuSecs, 1)} CPU-s (every join is announced to every member: O(n²) frames); ${2 * TUNNELS} more members + ${TUNNELS} tunnels in ${fmt(setupSecs, 1)} s, ${fmt(setupCpuSecs, 1)} relay CPU-s.`,
        `${describeOverrides(maxMembers)}.`,
        `Open-file limits (soft): relay ${relayFds.soft}${relayFds.raised ? ' (raised)' : ''}, crowd ${crowdFds.soft}${crowdFds.raised ? ' (raised)' : ''}; needed about ${fds} and ${IDLE_MEMBERS + 100}.`,
        `Relay rejections during the run: ${rejected.length === 0 ? 'none' : rejected.map(([k, n]) => `${k} ${n}`).join(', ')}.`,
      ].join('\n'),
    );
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(members.map((m) => m.stop()));
    if (crowd && crowd.exitCode === null && crowd.signalCode === null) {
      const exited = once(crowd, 'exit');
      crowd.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => crowd?.kill('SIGKILL'))]);
    }
    await relay.stop();
  }
}
