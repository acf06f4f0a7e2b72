// LAN discovery measured on throwaway LANs (test/netlab, root only), with every node a separate
// headless CLI process at default timing:
//  1. how soon a node started on h2 is linked at h1, against the cost of starting the process;
//  2. how soon h1 shows it offline after a clean exit and after the network goes, against the
//     heartbeat deadline;
//  3. on one 30-node segment: the time from the last start until everyone is linked to everyone,
//     and what beacons and mDNS cost per node and minute, counted on the bridge.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { z } from 'zod';
import type { DiagnosticsInfo, SelfInfo } from '../main/contract/contract.ts';
import { DEFAULT_BEACON_PORT } from '../main/core/discovery/beacon.ts';
import { defaultTiming } from '../main/core/links/timing.ts';
import { removeTempDirs, tempDir } from '../test/helpers/nodes.ts';
import { JsonLineProcess } from '../test/netlab/json-lines.ts';
import { Netlab } from '../test/netlab/netlab.ts';
import { fmt, printTable, summarize, type BenchRow } from './stats.ts';

const CLI = path.resolve(import.meta.dirname, '../main/headless/cli.ts');
const RUNS = Number(process.env.BENCH_DISCOVERY_RUNS ?? 20);
const LOSS_RUNS = Number(process.env.BENCH_DISCOVERY_LOSS_RUNS ?? 5);
/** Two nodes per host (ports 47474 and 47475), as several users on one terminal server. */
const CROWD_HOSTS = Number(process.env.BENCH_DISCOVERY_CROWD_HOSTS ?? 15);
const WINDOW_MS = Number(process.env.BENCH_DISCOVERY_WINDOW_MS ?? 60_000);
/** The counting window opens this long after everyone is linked: start-up bursts end after 2 s. */
const SETTLE_MS = 5000;
/** Loss runs start from a link that has been up on both sides this long. */
const STABLE_MS = 2000;
const MDNS_PORT = 5353;
/** Down and up again faster than any real loss and return: a replaced link. */
const FLICKER_MS = 100;
/** Steady-state beacon period from discovery/README.md: every 5.0 to 5.5 s. */
const BEACON_PERIOD_MS = 5250;

const execFileP = promisify(execFile);
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const load = () => os.loadavg()[0]!.toFixed(1);
const ms = (n: number) => fmt(n, 0);
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const never = new Promise<never>(() => undefined);

// The CLI is our own child, but its output is still parsed, not trusted to have a shape.
const PeerEvent = z.object({
  type: z.literal('event'),
  event: z.literal('peer'),
  payload: z.object({ id: z.string(), link: z.string().nullable(), presence: z.string() }).loose(),
});
type Peer = z.infer<typeof PeerEvent>['payload'];
interface PeerSeen {
  at: number;
  peer: Peer;
}

/** One CLI node in a lab, with the arrival time of every line it prints. */
class LabNode {
  readonly p: JsonLineProcess;
  readonly spawnedAt: number;
  readyAt = Number.NaN;
  self!: SelfInfo;
  /** Each peer's link as the latest `peer` event stated it. */
  readonly links = new Map<string, string | null>();
  /** When the current direct link to each peer came up, as far as events tell. */
  readonly directSince = new Map<string, number>();
  /** When each peer first appeared in a `peer` event (a discovery candidate or a link). */
  readonly firstSeen = new Map<string, number>();
  /** Direct links seen to go down. */
  drops = 0;
  /** When each peer last went from a direct link to none (a `peer` event without one). */
  readonly downAt = new Map<string, number>();
  /**
   * A peer shown without a link that had one again within FLICKER_MS: a link replaced by
   * another (simultaneous dials), which the UI would show as a brief offline.
   */
  flickers = 0;
  /** Direct links seen to come up. */
  ups = 0;
  readonly #watchers = new Set<(s: PeerSeen) => void>();

  constructor(lab: Netlab, host: string, label: string, args: string[]) {
    this.spawnedAt = performance.now();
    const child = lab.spawn(host, process.execPath, [CLI, '--json', ...args], { PARLEY_LOG: 'warn' });
    this.p = new JsonLineProcess(child, label);
    // A second reader of the same stdout, so that each line is stamped as it arrives.
    createInterface({ input: child.stdout! }).on('line', (line) => this.#line(line, performance.now()));
  }

  #line(line: string, at: number): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if ((msg as { type?: unknown }).type === 'ready' && Number.isNaN(this.readyAt)) this.readyAt = at;
    const ev = PeerEvent.safeParse(msg);
    if (!ev.success) return;
    const { id, link } = ev.data.payload;
    if (!this.firstSeen.has(id)) this.firstSeen.set(id, at);
    if (link !== 'direct') {
      if (this.directSince.delete(id)) {
        this.drops++;
        this.downAt.set(id, at);
      }
    } else if (!this.directSince.has(id)) {
      this.ups++;
      this.directSince.set(id, at);
      if (at - (this.downAt.get(id) ?? -Infinity) < FLICKER_MS) this.flickers++;
    }
    this.links.set(id, link);
    for (const w of [...this.#watchers]) w({ at, peer: ev.data.payload });
  }

  async ready(timeoutMs = 60_000): Promise<this> {
    const exited = this.p.exited.then(async ({ code, signal }) => {
      if (!Number.isNaN(this.readyAt)) return never;
      await sleep(100); // the rest of stderr may still be in the pipe
      throw new Error(`${this.p.label} exited (${signal ?? code}) before ready: ${this.p.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    });
    const m = await Promise.race([this.p.waitFor((x) => x.type === 'ready', timeoutMs, 'ready'), exited]);
    this.self = m.self as SelfInfo;
    return this;
  }

  /** The next `peer` event matching `pred`, with its arrival time. */
  nextPeer(pred: (p: Peer) => boolean, timeoutMs: number, what: string): Promise<PeerSeen> {
    const result = new Promise<PeerSeen>((resolve, reject) => {
      const watcher = (s: PeerSeen) => {
        if (!pred(s.peer)) return;
        this.#watchers.delete(watcher);
        clearTimeout(timer);
        resolve(s);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watcher);
        reject(new Error(`${this.p.label}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#watchers.add(watcher);
    });
    // Callers may give up on the wait (their node failed to start); that is not an unhandled rejection.
    result.catch(() => undefined);
    return result;
  }

  /** Calls `fn` on every `peer` event until the returned function is called. */
  onPeer(fn: (s: PeerSeen) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  /** CPU time (user + system) the process has used so far, in ms; NaN once it is gone. */
  cpuMs(): number {
    try {
      // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${this.p.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      return Number.NaN;
    }
  }

  /** SIGTERM (a clean exit: goodbyes, then close), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const { child } = this.p;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.p.exited;
    clearTimeout(timer);
  }
}

const linkedTo = (n: LabNode, id: string) => n.links.get(id) === 'direct';

/**
 * Resolves when every node of `group` has a direct link to every other, with the time the last
 * of those links came up (exact even when that happened before the call).
 */
function allLinked(group: LabNode[], timeoutMs: number): Promise<number> {
  const linkedAt = () => {
    let latest = 0;
    for (const n of group) {
      for (const o of group) {
        if (o === n) continue;
        const at = n.directSince.get(o.self.id);
        if (at === undefined) return undefined;
        latest = Math.max(latest, at);
      }
    }
    return latest;
  };
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const finish = (at: number | undefined) => {
      if (at === undefined) return;
      clearTimeout(timer);
      for (const off of offs) off();
      resolve(at);
    };
    const timer = setTimeout(() => {
      for (const off of offs) off();
      const missing = group.reduce((a, n) => a + group.filter((o) => o !== n && !linkedTo(n, o.self.id)).length, 0);
      reject(new Error(`${missing} of ${group.length * (group.length - 1)} links still missing after ${timeoutMs} ms`));
    }, timeoutMs);
    for (const n of group) offs.push(n.onPeer(() => finish(linkedAt())));
    finish(linkedAt());
  });
}

// ---- 1 and 2: two hosts ------------------------------------------------------------------

interface LatencySamples {
  visible: number[];
  ready: number[];
  afterReady: number[];
  offlineClean: number[];
  failures: string[];
}

/**
 * Starts a node on h2 `runs` times while h1 runs all along. `fresh`: a new data dir (a new
 * identity) each time, the "new colleague". `reused`: one data dir, the "colleague restarts";
 * its identity is made by one unmeasured start first.
 */
async function startStopRuns(lab: Netlab, h1: LabNode, mode: 'fresh' | 'reused', runs: number): Promise<LatencySamples> {
  const out: LatencySamples = { visible: [], ready: [], afterReady: [], offlineClean: [], failures: [] };
  const reusedDir = tempDir();
  let reusedId: string | undefined;
  if (mode === 'reused') {
    const first = await new LabNode(lab, 'h2', 'h2/first', ['--data', reusedDir, '--name', 'Returning colleague']).ready();
    reusedId = first.self.id;
    try {
      await allLinked([h1, first], 15_000);
    } finally {
      await first.stop();
    }
  }
  for (let i = 0; i < runs; i++) {
    // A late `peer` event about an earlier colleague must not count as this one.
    const earlier = new Set(h1.links.keys());
    const seen = h1.nextPeer((p) => p.link === 'direct' && (reusedId ? p.id === reusedId : !earlier.has(p.id)), 15_000, `link to run ${i}`);
    const dir = mode === 'fresh' ? tempDir() : reusedDir;
    const n = new LabNode(lab, 'h2', `h2/${mode}${i}`, ['--data', dir, '--name', `Colleague ${i}`]);
    try {
      await n.ready(30_000);
      out.ready.push(n.readyAt - n.spawnedAt);
      const s = await seen.catch((err: Error) => err);
      if (s instanceof Error || s.peer.id !== n.self.id) {
        out.visible.push(Infinity);
        out.afterReady.push(Infinity);
        throw s instanceof Error ? s : new Error(`h1 linked to ${s.peer.id.slice(0, 7)}, not the new node`);
      }
      out.visible.push(s.at - n.spawnedAt);
      out.afterReady.push(s.at - n.readyAt);
      const t = performance.now();
      n.p.child.kill('SIGTERM');
      await Promise.race([n.p.exited, sleep(10_000)]);
      // Wait for h1 to show it without a link; a link replaced right after the first one came
      // up shows a brief offline too, so the time taken is that of the last time it went down.
      if (linkedTo(h1, n.self.id)) await h1.nextPeer((p) => p.id === n.self.id && p.link !== 'direct', 10_000, 'offline after SIGTERM');
      const downAt = h1.downAt.get(n.self.id) ?? Infinity;
      if (downAt < t) throw new Error('h1 showed it offline before SIGTERM and never linked again');
      out.offlineClean.push(downAt - t);
    } catch (err) {
      out.failures.push(`${mode} run ${i}: ${(err as Error).message}`);
    } finally {
      await n.stop();
    }
  }
  return out;
}

interface LossSamples {
  offline: number[];
  relinked: number[];
  /** Offline shown before the isolation could have caused it. */
  spurious: number;
  failures: string[];
}

/** A pulled cable: isolation on the bridge, so no FIN and no RST, only silence. */
async function networkLossRuns(lab: Netlab, h1: LabNode, runs: number): Promise<LossSamples> {
  const out: LossSamples = { offline: [], relinked: [], spurious: 0, failures: [] };
  const n = await new LabNode(lab, 'h2', 'h2/loss', ['--data', tempDir(), '--name', 'Cable puller']).ready();
  const pair = [h1, n];
  try {
    await allLinked(pair, 20_000);
    for (let i = 0; i < runs; i++) {
      // Both sides' links settle first (a simultaneous dial from both ends is resolved by then).
      // A random phase against the pings, which decide how stale the link already is.
      await sleep(STABLE_MS + Math.random() * defaultTiming.pingIdleMs);
      await allLinked(pair, 20_000);
      const offline = h1.nextPeer((p) => p.id === n.self.id && p.presence === 'offline', 30_000, 'offline after isolation');
      const t = performance.now();
      await lab.isolate(true);
      try {
        const at = (await offline).at - t;
        // Silence cannot be noticed this fast: something else took the link down.
        if (at < 1000) {
          out.spurious++;
          out.failures.push(`loss run ${i}: h1 showed the peer offline ${ms(at)} ms into the isolation, before any heartbeat could expire`);
        } else out.offline.push(at);
      } catch (err) {
        out.offline.push(Infinity);
        out.failures.push(`loss run ${i}: ${(err as Error).message}`);
      }
      await lab.isolate(false);
      const t2 = performance.now();
      try {
        out.relinked.push((await allLinked(pair, 60_000)) - t2);
      } catch (err) {
        out.relinked.push(Infinity);
        out.failures.push(`loss run ${i}: linking again after the network returned: ${(err as Error).message}`);
        break;
      }
    }
  } finally {
    await lab.isolate(false).catch(() => undefined);
    await n.stop();
  }
  return out;
}

async function twoHosts(): Promise<void> {
  const loadBefore = load();
  const lab = await Netlab.create({ hosts: 2 });
  let fresh: LatencySamples;
  let reused: LatencySamples;
  let loss: LossSamples;
  let h1!: LabNode;
  try {
    h1 = await new LabNode(lab, 'h1', 'h1', ['--data', tempDir(), '--name', 'Watcher']).ready();
    // Restarts first: afterwards h1 keeps redialling every earlier fresh identity at h2's address.
    reused = await startStopRuns(lab, h1, 'reused', RUNS);
    fresh = await startStopRuns(lab, h1, 'fresh', RUNS);
    loss = await networkLossRuns(lab, h1, LOSS_RUNS).catch((err: Error) => ({ offline: [], relinked: [], spurious: 0, failures: [`loss runs: ${err.message}`] }));
  } finally {
    await h1?.stop();
    await lab.destroy();
  }
  const rows: BenchRow[] = [];
  for (const [label, s] of [['new colleague (fresh data dir)', fresh], ['colleague restarts (same data dir)', reused]] as const) {
    const vis = summarize(s.visible);
    const rdy = summarize(s.ready);
    const after = summarize(s.afterReady);
    rows.push(
      { name: `${label}: spawn → linked at h1, p50 (ms)`, value: ms(vis.p50), baseline: `${ms(rdy.p50)} spawn → ready`, ratio: `${fmt(vis.p50 / rdy.p50, 2)}×`, target: '< 1000' },
      { name: `${label}: spawn → linked at h1, p99 (ms)`, value: ms(vis.p99), baseline: `${ms(rdy.p99)} spawn → ready`, ratio: `${fmt(vis.p99 / rdy.p99, 2)}×`, target: '< 2000' },
      { name: `${label}: ready → linked at h1, p50 / p99 (ms)`, value: `${ms(after.p50)} / ${ms(after.p99)}`, baseline: `${ms(rdy.p50)} / ${ms(rdy.p99)} spawn → ready`, ratio: `${fmt(after.p50 / rdy.p50, 2)}×` },
    );
  }
  const clean = summarize([...fresh.offlineClean, ...reused.offlineClean]);
  const lost = summarize(loss.offline);
  const back = summarize(loss.relinked);
  const dead = defaultTiming.deadAfterMs;
  rows.push(
    { name: `offline at h1 after SIGTERM, p50 / p99 (ms, n=${clean.n})`, value: `${ms(clean.p50)} / ${ms(clean.p99)}`, baseline: `${dead} heartbeat deadline`, ratio: `${fmt(clean.p50 / dead, 3)}×`, target: '≤ 1000' },
    { name: `offline at h1 after network loss, p50 / max (ms, n=${lost.n}${loss.spurious ? `, ${loss.spurious} spurious left out` : ''})`, value: `${ms(lost.p50)} / ${ms(Math.max(...loss.offline))}`, baseline: `${dead} heartbeat deadline`, ratio: `${fmt(lost.p50 / dead, 2)}×`, target: '≤ 15000' },
    { name: `linked again after the network returns, p50 / max (ms, n=${back.n})`, value: `${ms(back.p50)} / ${ms(Math.max(...loss.relinked))}`, baseline: `${defaultTiming.redialMinMs} first redial`, ratio: `${fmt(back.p50 / defaultTiming.redialMinMs, 2)}×` },
  );
  rows.push({
    name: `brief offline at h1 while a link was replaced (down → up < ${FLICKER_MS} ms)`,
    value: String(h1.flickers),
    baseline: `${h1.ups} direct links came up`,
    ratio: `${fmt(h1.flickers / h1.ups, 3)}×`,
    target: '0',
  });
  printTable(`Discovery on a 2-host netlab, CLI processes at default timing (n=${RUNS} starts per case; load avg ${loadBefore} → ${load()})`, rows);
  const failures = [...fresh.failures, ...reused.failures, ...loss.failures];
  for (const f of failures) console.log(`- failed: ${f}`);
}

// ---- 3: thirty nodes ---------------------------------------------------------------------

const COUNTERS = {
  beacon4: `ether type ip udp dport ${DEFAULT_BEACON_PORT}`,
  beacon6: `ether type ip6 udp dport ${DEFAULT_BEACON_PORT}`,
  mdns4: `ether type ip udp dport ${MDNS_PORT}`,
  mdns6: `ether type ip6 udp dport ${MDNS_PORT}`,
  // Unicast mDNS answers go to the asker's port, which for bonjour is 5353 anyway; counted in case.
  mdnsUnicast: `udp sport ${MDNS_PORT} udp dport != ${MDNS_PORT}`,
  all: '',
} as const;
type CounterName = keyof typeof COUNTERS;
interface Count {
  packets: number;
  bytes: number;
}

/**
 * Counters in a table of our own in the bridge namespace. The prerouting hook sees each frame
 * once, as its host sent it (the forward hook would count a broadcast once per receiving port).
 * Bytes are IP-layer bytes: IP and UDP headers plus payload, without the 14-byte Ethernet header.
 */
async function addCounters(lab: Netlab): Promise<void> {
  const script = [
    'add table bridge parleybench',
    'add chain bridge parleybench sent { type filter hook prerouting priority -200; policy accept; }',
    ...Object.entries(COUNTERS).map(([name, match]) => `add rule bridge parleybench sent ${match} counter comment "${name}"`),
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', lab.bridgeNs, 'nft', '-f', '-'], (err) => (err ? reject(err) : resolve()));
    child.stdin?.end(`${script}\n`);
  });
}

const NftRules = z.object({
  nftables: z.array(
    z.union([
      z.object({ rule: z.object({ comment: z.string().optional(), expr: z.array(z.record(z.string(), z.unknown())) }) }),
      z.record(z.string(), z.unknown()),
    ]),
  ),
});
const NftCounter = z.object({ packets: z.number(), bytes: z.number() });

async function readCounters(lab: Netlab): Promise<Record<CounterName, Count>> {
  const { stdout } = await execFileP('ip', ['netns', 'exec', lab.bridgeNs, 'nft', '-j', 'list', 'table', 'bridge', 'parleybench']);
  const out: Partial<Record<CounterName, Count>> = {};
  for (const item of NftRules.parse(JSON.parse(stdout)).nftables) {
    const rule = (item as { rule?: { comment?: string; expr: Array<Record<string, unknown>> } }).rule;
    if (!rule?.comment || !(rule.comment in COUNTERS)) continue;
    const counter = rule.expr.find((e) => 'counter' in e)?.counter;
    out[rule.comment as CounterName] = NftCounter.parse(counter);
  }
  for (const name of Object.keys(COUNTERS)) if (!out[name as CounterName]) throw new Error(`nft counter ${name} missing`);
  return out as Record<CounterName, Count>;
}

async function diagnosticsOf(ns: LabNode[]): Promise<Array<DiagnosticsInfo['discovery']>> {
  return Promise.all(ns.map(async (n) => (await n.p.request<DiagnosticsInfo>('diagnostics', {}, 20_000)).discovery));
}

async function thirtyNodes(): Promise<void> {
  const lab = await Netlab.create({ hosts: CROWD_HOSTS });
  const ns: LabNode[] = [];
  try {
    await addCounters(lab);
    const loadBefore = load();
    const start = (host: string, k: number) =>
      new LabNode(lab, host, `${host}-${k}`, ['--data', tempDir(), '--name', `${host}-${k}`, '--port', String(47474 + k)]).ready();
    // Two at a time: this machine has two cores, and the figure is about discovery, not start-up.
    // All hosts but the last start back to back; the last two nodes join once those are linked, so
    // that the last figure is about newcomers on a settled segment, not a start-up backlog.
    const [lastHost, ...firstHosts] = [...lab.hosts].reverse();
    for (const h of firstHosts.reverse()) ns.push(...(await Promise.all([start(h.name, 0), start(h.name, 1)])));
    const firstReady = Math.max(...ns.map((n) => n.readyAt));
    const loadAtFirst = load();
    const firstLinkedAt = await allLinked([...ns], 120_000);
    await sleep(SETTLE_MS);
    const loadBeforeLast = load();
    const lastPair = await Promise.all([start(lastHost!.name, 0), start(lastHost!.name, 1)]);
    ns.push(...lastPair);
    const last = lastPair.reduce((a, b) => (b.spawnedAt > a.spawnedAt ? b : a));
    const lastReady = Math.max(...lastPair.map((n) => n.readyAt));
    const linkedAt = await allLinked(ns, 120_000);
    const seenAt = Math.max(...ns.flatMap((n) => lastPair.filter((o) => o !== n).map((o) => n.firstSeen.get(o.self.id) ?? Infinity)));
    // Confirm from listPeers, not only from the events.
    const confirmed = (
      await Promise.all(ns.map(async (n) => (await n.p.request<Array<{ id: string; link: string | null }>>('listPeers', {}, 20_000)).filter((p) => p.link === 'direct').length))
    ).every((c) => c === ns.length - 1);

    await sleep(SETTLE_MS);
    const c0 = await readCounters(lab);
    const d0 = await diagnosticsOf(ns);
    const cpu0 = ns.map((n) => n.cpuMs());
    const drops0 = ns.reduce((a, n) => a + n.drops, 0);
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const c1 = await readCounters(lab);
    const d1 = await diagnosticsOf(ns);
    const minutes = (performance.now() - t0) / 60_000;
    const drops = ns.reduce((a, n) => a + n.drops, 0) - drops0;
    const cpu = summarize(ns.map((n, i) => (n.cpuMs() - cpu0[i]!) / minutes));
    const loadAfter = load();

    const perNodeMin = (f: (c: Record<CounterName, Count>) => number) => (f(c1) - f(c0)) / ns.length / minutes;
    const beaconBytes = perNodeMin((c) => c.beacon4.bytes + c.beacon6.bytes);
    const beaconPackets = perNodeMin((c) => c.beacon4.packets + c.beacon6.packets);
    const mdnsBytes = perNodeMin((c) => c.mdns4.bytes + c.mdns6.bytes + c.mdnsUnicast.bytes);
    const mdnsPackets = perNodeMin((c) => c.mdns4.packets + c.mdns6.packets + c.mdnsUnicast.packets);
    const allBytes = perNodeMin((c) => c.all.bytes);
    const sum = (d: Array<DiagnosticsInfo['discovery']>, f: (x: DiagnosticsInfo['discovery']) => number) => d.reduce((a, x) => a + f(x), 0);
    const beaconsSent = (sum(d1, (x) => x.beacon?.sent ?? 0) - sum(d0, (x) => x.beacon?.sent ?? 0)) / ns.length / minutes;
    const beaconsReceived = (sum(d1, (x) => x.beacon?.received ?? 0) - sum(d0, (x) => x.beacon?.received ?? 0)) / ns.length / minutes;
    const expectedBeacons = 60_000 / BEACON_PERIOD_MS;
    const allNote = 'all IP traffic sent per node per min';

    const lastStartCost = last.readyAt - last.spawnedAt;
    printTable(`Discovery at ${ns.length} nodes on one segment (${CROWD_HOSTS} hosts × 2 nodes, each with a fresh identity; traffic counted on the bridge over ${fmt(minutes * 60, 0)} s from ${SETTLE_MS / 1000} s after everyone was linked)`, [
      {
        name: `first ${ns.length - 2}, started two at a time back to back: last ready → all linked (ms; load avg ${loadBefore} → ${loadAtFirst})`,
        value: ms(firstLinkedAt - firstReady),
        baseline: `${ms(lastStartCost)} spawn → ready of the last node`,
        ratio: `${fmt((firstLinkedAt - firstReady) / lastStartCost, 2)}×`,
      },
      {
        name: `last 2 join the linked ${ns.length - 2}: last spawned → everyone linked (ms; load avg ${loadBeforeLast})`,
        value: ms(linkedAt - last.spawnedAt) + (confirmed ? '' : ' (listPeers disagreed)'),
        baseline: `${ms(lastStartCost)} its spawn → ready`,
        ratio: `${fmt((linkedAt - last.spawnedAt) / lastStartCost, 2)}×`,
      },
      {
        name: 'last 2 join: last ready → every node has seen both (first `peer` event, ms)',
        value: ms(seenAt - lastReady),
        baseline: `${ms(lastStartCost)} its spawn → ready`,
        ratio: `${fmt((seenAt - lastReady) / lastStartCost, 2)}×`,
      },
      {
        name: 'last 2 join: last ready → everyone linked to everyone (ms)',
        value: ms(linkedAt - lastReady),
        baseline: `${ms(lastStartCost)} its spawn → ready`,
        ratio: `${fmt((linkedAt - lastReady) / lastStartCost, 2)}×`,
        target: '≤ 5000',
      },
      { name: `beacon bytes sent per node per minute (UDP ${DEFAULT_BEACON_PORT}, IPv4 + IPv6; load avg ${loadAfter})`, value: fmt(beaconBytes, 0), baseline: `${fmt(allBytes, 0)} ${allNote}`, ratio: `${fmt(beaconBytes / allBytes, 3)}×` },
      { name: 'beacon packets sent per node per minute', value: fmt(beaconPackets, 1), baseline: `${fmt(beaconsSent, 1)} beacons/node/min (diagnostics)`, ratio: `${fmt(beaconPackets / beaconsSent, 2)}×`, target: `${fmt(expectedBeacons, 1)} beacons × 3 paths` },
      { name: 'beacon packets received per node per minute (diagnostics; every path, own included)', value: fmt(beaconsReceived, 0), baseline: `${fmt(beaconsSent, 1)} beacons sent`, ratio: `${fmt(beaconsReceived / beaconsSent, 1)}×`, target: `3 × ${ns.length} = ${3 * ns.length}×` },
      { name: `mDNS bytes sent per node per minute (UDP ${MDNS_PORT})`, value: fmt(mdnsBytes, 0), baseline: `${fmt(allBytes, 0)} ${allNote}`, ratio: `${fmt(mdnsBytes / allBytes, 3)}×` },
      { name: 'mDNS packets sent per node per minute', value: fmt(mdnsPackets, 1), baseline: `${fmt(beaconPackets, 1)} beacon packets`, ratio: `${fmt(mdnsPackets / beaconPackets, 2)}×` },
      {
        name: `brief offline while a link was replaced (down → up < ${FLICKER_MS} ms), whole ${ns.length}-node run, all nodes`,
        value: String(ns.reduce((a, n) => a + n.flickers, 0)),
        baseline: `${ns.reduce((a, n) => a + n.ups, 0)} direct links came up`,
        ratio: `${fmt(ns.reduce((a, n) => a + n.flickers, 0) / ns.reduce((a, n) => a + n.ups, 0), 3)}×`,
        target: '0',
      },
      { name: 'direct links seen going down during the window (all nodes)', value: String(drops), baseline: `${ns.length * (ns.length - 1)} link ends up`, ratio: `${fmt(drops / (ns.length * (ns.length - 1)), 3)}×`, target: '0' },
      { name: `CPU per node per minute, idle and linked to ${ns.length - 1} peers, p50 / max (ms)`, value: `${ms(cpu.p50)} / ${ms(cpu.p99)}`, baseline: '60000 one core', ratio: `${fmt(cpu.p50 / 60_000, 4)}×` },
    ]);
    console.log('\nBytes are IP-layer (IP + UDP headers + payload); add 18 B of Ethernet header and FCS per packet for the wire.');
  } finally {
    await lab.destroy();
  }
}

export async function discoveryBench(): Promise<void> {
  const reason = Netlab.unavailableReason();
  if (reason) {
    console.log(`\n## Discovery on a LAN\n\nskipped: ${reason}`);
    return;
  }
  const failed: string[] = [];
  for (const [part, fn] of [['two hosts', twoHosts], ['thirty nodes', thirtyNodes]] as const) {
    try {
      await fn();
    } catch (err) {
      failed.push(part);
      console.log(`\n## Discovery: ${part}\n\nFAILED: ${(err as Error).stack ?? String(err)}`);
    }
  }
  removeTempDirs();
  if (failed.length > 0) throw new Error(`discovery bench failed: ${failed.join(', ')}`);
}

if (import.meta.main) await discoveryBench();
