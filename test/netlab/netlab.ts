// Throwaway LANs made of Linux network namespaces, for tests that need real broadcast,
// multicast and several hosts. Layout of a lab named L:
//
//   namespace L-br : bridge br0 (multicast snooping off) with ports h1, h2, ...
//   namespace L-h1 : eth0 (veth peer of h1) 10.231.X.11/24 + IPv6 link-local, lo up
//   namespace L-h2 : eth0 10.231.X.12/24 ...
//
// Nothing is created in the root namespace, so labs cannot touch the machine's own
// network or each other. Filters (blockMulticast, blockUdpPort, ...) are nftables rules in
// the bridge namespace. Every lab is registered for cleanup on destroy(), on process
// exit and on SIGINT/SIGTERM, and create() first sweeps labs whose owner process died.
import { execFile, execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Marker files: one per lab, holding the owner's pid, so sweepers know what is stale. */
const STATE_DIR = '/run/parley-netlab';
const LAB_NAME = /^pl[a-z0-9]{2,10}$/;
const NS_OF_LAB = /^(pl[a-z0-9]{2,10})-(br|h\d+)$/;

export interface NetlabOptions {
  hosts: number;
  /** 'pl' + 2..10 lowercase letters/digits; random when absent. */
  name?: string;
  /** X in 10.231.X.0/24; random when absent (labs are isolated, so this is cosmetic). */
  subnet?: number;
  /** UTS hostnames of the hosts; default h1, h2, ... */
  hostnames?: string[];
}

export interface NetlabHost {
  /** 0-based position in lab.hosts. */
  index: number;
  /** 'h1', 'h2', ...: also the bridge port name. */
  name: string;
  ns: string;
  hostname: string;
  iface: 'eth0';
  ipv4: string;
  /** fe80::…%eth0 */
  ipv6LinkLocal: string;
}

export type HostRef = NetlabHost | string | number;

export interface SpawnOptions {
  cwd?: string;
  stdio?: StdioOptions;
  /** Directories that get a private tmpfs inside the process (e.g. /run/avahi-daemon). */
  privateDirs?: string[];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<Netlab>();
let handlersInstalled = false;

export class Netlab {
  readonly name: string;
  readonly bridgeNs: string;
  readonly subnet: string;
  readonly broadcast: string;
  readonly hosts: NetlabHost[];
  readonly #children = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(name: string, x: number, hosts: NetlabHost[]) {
    this.name = name;
    this.bridgeNs = `${name}-br`;
    this.subnet = `10.231.${x}.0/24`;
    this.broadcast = `10.231.${x}.255`;
    this.hosts = hosts;
  }

  /** Null when labs can be built here, otherwise the reason tests should state when skipping. */
  static unavailableReason(): string | null {
    if (process.platform !== 'linux') return 'netlab needs Linux network namespaces';
    if (process.getuid?.() !== 0) return 'netlab needs root (ip netns, veth, bridges, nftables)';
    for (const tool of ['ip', 'nft', 'unshare']) {
      try {
        execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      } catch {
        return `netlab needs the '${tool}' command`;
      }
    }
    const probe = `plprobe${randomInt(0, 1e6)}`;
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    } catch (err) {
      return `ip netns does not work here: ${firstLine(err)}`;
    }
    return null;
  }

  static async create(opts: NetlabOptions): Promise<Netlab> {
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 50) throw new RangeError('netlab hosts must be 1..50');
    const name = opts.name ?? `pl${randomBytes(4).toString('hex').slice(0, 6)}`;
    if (!LAB_NAME.test(name)) throw new RangeError(`netlab name must match ${LAB_NAME}`);
    const x = opts.subnet ?? randomInt(1, 255);
    Netlab.sweep();
    installHandlers();
    mkdirSync(STATE_DIR, { recursive: true });
    // The marker exists before any namespace so a concurrent sweeper never sees an orphan.
    writeFileSync(join(STATE_DIR, name), JSON.stringify({ pid: process.pid, created: Date.now() }), { flag: 'wx' });

    const hosts: NetlabHost[] = Array.from({ length: opts.hosts }, (_, i) => ({
      index: i,
      name: `h${i + 1}`,
      ns: `${name}-h${i + 1}`,
      hostname: opts.hostnames?.[i] ?? `h${i + 1}`,
      iface: 'eth0' as const,
      ipv4: `10.231.${x}.${11 + i}`,
      ipv6LinkLocal: '',
    }));
    const lab = new Netlab(name, x, hosts);
    live.add(lab);
    try {
      await lab.#build();
    } catch (err) {
      lab.#destroySync();
      throw err;
    }
    return lab;
  }

  /** Deletes labs whose owner process is gone; returns their names. */
  static sweep(): string[] {
    const swept: string[] = [];
    const labs = new Set<string>();
    for (const ns of listNamespaces()) {
      const m = NS_OF_LAB.exec(ns);
      if (m) labs.add(m[1]!);
    }
    let markers: string[] = [];
    try {
      markers = readdirSync(STATE_DIR);
    } catch {
      // no labs were ever made here
    }
    for (const m of markers) if (LAB_NAME.test(m)) labs.add(m);
    for (const lab of labs) {
      if (ownerAlive(lab)) continue;
      cleanupLab(lab);
      swept.push(lab);
    }
    return swept;
  }

  host(ref: HostRef): NetlabHost {
    const h = typeof ref === 'number' ? this.hosts[ref] : typeof ref === 'string' ? this.hosts.find((x) => x.name === ref) : ref;
    if (!h || !this.hosts.includes(h)) throw new RangeError(`no such netlab host: ${typeof ref === 'object' ? ref.name : String(ref)}`);
    return h;
  }

  /**
   * Starts `cmd` inside the host's network namespace with the host's own hostname (a UTS
   * namespace per process). The process is killed by destroy().
   */
  spawn(ref: HostRef, cmd: string, args: string[] = [], env: Record<string, string | undefined> = {}, opts: SpawnOptions = {}): ChildProcess {
    if (this.#destroyed) throw new Error(`netlab ${this.name} is destroyed`);
    const h = this.host(ref);
    const dirs = opts.privateDirs ?? [];
    const mounts = dirs.map((_, i) => `mkdir -p "$${i + 2}"; mount -t tmpfs netlab "$${i + 2}"; `).join('');
    const script = `set -e; hostname "$1"; ${mounts}shift ${dirs.length + 1}; exec "$@"`;
    const unshareArgs = dirs.length > 0 ? ['--uts', '--mount', '--propagation', 'private'] : ['--uts'];
    const child = spawn(
      'ip',
      ['netns', 'exec', h.ns, 'unshare', ...unshareArgs, '--', 'sh', '-c', script, 'netlab', h.hostname, ...dirs, cmd, ...args],
      { env: { ...process.env, ...env }, cwd: opts.cwd, stdio: opts.stdio ?? 'pipe' },
    );
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    child.once('error', () => this.#children.delete(child));
    return child;
  }

  /** Runs a command to completion inside the host's namespace. */
  async run(ref: HostRef, cmd: string, args: string[] = [], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    const child = this.spawn(ref, cmd, args, opts.env ?? {});
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timeout = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.once('error', () => resolve(null));
    });
    clearTimeout(timeout);
    return { code, stdout, stderr };
  }

  // ---- filters on the bridge -----------------------------------------------------------

  /** Drops IPv4 multicast and IPv6 UDP multicast (IPv6 neighbour discovery keeps working). */
  blockMulticast(): Promise<void> {
    return this.#rules(['ip daddr 224.0.0.0/4 drop', 'ip6 daddr ff00::/8 meta l4proto udp drop']);
  }

  /** Drops IPv4 UDP broadcasts (directed and limited); ARP keeps working. */
  blockBroadcast(): Promise<void> {
    return this.#rules([`ip daddr { ${this.broadcast}, 255.255.255.255 } drop`]);
  }

  /** Drops all IPv4 UDP (to test the IPv6 paths alone). */
  blockIpv4Udp(): Promise<void> {
    return this.#rules(['ip protocol udp drop']);
  }

  /** Drops UDP to `port` (IPv4 and IPv6), optionally only what one host sends. */
  blockUdpPort(port: number, opts: { from?: HostRef } = {}): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError('port must be 1..65535');
    const from = opts.from === undefined ? '' : `iifname "${this.host(opts.from).name}" `;
    return this.#rules([`${from}udp dport ${port} drop`]);
  }

  /** Wi-Fi style AP isolation: hosts reach nothing but the bridge. */
  async isolate(on = true): Promise<void> {
    for (const h of this.hosts) await run('ip', ['-n', this.bridgeNs, 'link', 'set', 'dev', h.name, 'type', 'bridge_slave', 'isolated', on ? 'on' : 'off']);
  }

  /** Removes every filter added by the block* methods and turns isolation off. */
  async unblockAll(): Promise<void> {
    await run('ip', ['netns', 'exec', this.bridgeNs, 'nft', 'flush', 'chain', 'bridge', 'netlab', 'forward']);
    await this.isolate(false);
  }

  /** Raw nftables rules for the bridge's forward chain, for cases the helpers do not cover. */
  async addBridgeRules(rules: string[]): Promise<void> {
    await this.#rules(rules);
  }

  async #rules(rules: string[]): Promise<void> {
    const script = rules.map((r) => `add rule bridge netlab forward ${r}\n`).join('');
    await nftScript(this.bridgeNs, script);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  /** Kills every process in the lab and deletes its namespaces (and with them all links). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    const children = [...this.#children];
    for (const c of children) c.kill('SIGTERM');
    await Promise.race([
      Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r))))),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    this.#destroySync();
  }

  /** Synchronous teardown (SIGKILL, no grace period), for exit handlers. */
  destroySync(): void {
    this.#destroySync();
  }

  #destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    for (const c of this.#children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    cleanupLab(this.name);
  }

  async #build(): Promise<void> {
    const br = this.bridgeNs;
    await run('ip', ['netns', 'add', br]);
    await run('ip', ['-n', br, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    await nftScript(br, 'add table bridge netlab\nadd chain bridge netlab forward { type filter hook forward priority 0; policy accept; }\n');
    for (const h of this.hosts) {
      await run('ip', ['netns', 'add', h.ns]);
      // DAD would hold the link-local address back for a second or two; nothing can clash here.
      await run('ip', ['netns', 'exec', h.ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      await run('ip', ['-n', br, 'link', 'add', h.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await run('ip', ['-n', br, 'link', 'set', h.name, 'master', 'br0', 'up']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.ipv4}/24`, 'brd', '+', 'dev', 'eth0']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'multicast', 'on', 'up']);
      await run('ip', ['-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    }
    for (const h of this.hosts) h.ipv6LinkLocal = await waitForLinkLocal(h.ns);
  }
}

// ---- helpers -------------------------------------------------------------------------------

async function nftScript(ns: string, script: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (err) => (err ? reject(err) : resolve()));
    child.stdin?.end(script);
  });
}

async function waitForLinkLocal(ns: string): Promise<string> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const { stdout } = await run('ip', ['-n', ns, '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    const info = JSON.parse(stdout) as { addr_info?: { local?: string; tentative?: boolean }[] }[];
    const addr = info[0]?.addr_info?.find((a) => a.local && !a.tentative)?.local;
    if (addr) return `${addr}%eth0`;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no IPv6 link-local address in ${ns} after 5 s`);
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean);
  } catch {
    return [];
  }
}

function ownerAlive(lab: string): boolean {
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(join(STATE_DIR, lab), 'utf8')) as { pid: number }).pid;
  } catch {
    return false;
  }
  if (pid === process.pid) return [...live].some((l) => l.name === lab);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Synchronous so that it can run from an 'exit' handler. */
function cleanupLab(lab: string): void {
  const namespaces = listNamespaces().filter((ns) => NS_OF_LAB.exec(ns)?.[1] === lab);
  for (const ns of namespaces) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    } catch {
      // namespace vanished meanwhile
    }
  }
  // Host namespaces first: deleting them removes the veth pairs from the bridge too.
  for (const ns of namespaces.sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')))) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  rmSync(join(STATE_DIR, lab), { force: true });
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupAll = () => {
    for (const lab of [...live]) lab.destroySync();
  };
  process.once('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupAll();
      // Re-raise so the exit status still says which signal ended us.
      process.kill(process.pid, signal);
    });
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = e.stderr ? String(e.stderr) : (e.message ?? String(err));
  return text.split('\n')[0] ?? text;
}
