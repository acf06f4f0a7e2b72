// Two LANs behind masquerading routers, with a "WAN" between them where a relay lives: the
// topology a relay exists for. Built from network namespaces (root only; unavailableReason()
// says why not otherwise). test/netlab/netlab.ts builds single bridged LANs, not routed ones,
// so this builds its own small topology and cleans it up:
//
//   [a 10.1.0.10] -- [r1: MASQUERADE] --\                /-- [r2: MASQUERADE] -- [b 10.2.0.10]
//                                        [wan: relay 198.51.100.10, no forwarding]
//
// Routers drop unsolicited traffic from the WAN; the WAN host does not route between routers,
// so a and b cannot reach each other by any address; both reach the relay. liftNat() turns the
// same wires into plain routing, as when two sites get a VPN or a direct line between them.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import type { MessageInfo } from '../../main/contract/contract.ts';
import { waitFor } from '../helpers/wait.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'main/headless/cli.ts');
export const RELAY_CLI = path.join(ROOT, 'relay/cli.ts');
export const RELAY_IP = '198.51.100.10';
export const A_IP = '10.1.0.10';
export const B_IP = '10.2.0.10';

export function natLabUnavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, veth, iptables)';
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs the '${tool}' command`;
    }
  }
  return null;
}

const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });

export type LabHost = 'wan' | 'r1' | 'r2' | 'a' | 'b';

export class NatLab {
  // Not 'pl…-h1'/'pl…-br': test/netlab's sweeper deletes namespaces of that shape it does not own.
  readonly prefix = `prl${randomBytes(3).toString('hex')}`;
  private readonly children = new Set<ChildProcessWithoutNullStreams>();
  private readonly hosts: LabHost[] = ['wan', 'r1', 'r2', 'a', 'b'];
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  ns(host: LabHost): string {
    return `${this.prefix}-${host}`;
  }

  /** Builds the topology; on any failure whatever was built is removed again. */
  static create(): NatLab {
    const lab = new NatLab();
    // Even a test run that dies mid-way leaves no namespaces or processes behind.
    process.once('exit', lab.onExit);
    try {
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const ns = (h: LabHost) => this.ns(h);
    for (const h of this.hosts) {
      sh(['ip', 'netns', 'add', ns(h)]);
      sh(['ip', '-n', ns(h), 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', ns('wan'), 'addr', 'add', `${RELAY_IP}/32`, 'dev', 'lo']);
    const links: Array<[LabHost, string, string, LabHost, string, string]> = [
      // [ns A, ifname A, addr A, ns B, ifname B, addr B]
      ['wan', 'w1', '203.0.113.1/30', 'r1', 'wan0', '203.0.113.2/30'],
      ['wan', 'w2', '203.0.113.5/30', 'r2', 'wan0', '203.0.113.6/30'],
      ['r1', 'lan0', '10.1.0.1/24', 'a', 'eth0', `${A_IP}/24`],
      ['r2', 'lan0', '10.2.0.1/24', 'b', 'eth0', `${B_IP}/24`],
    ];
    for (const [na, ia, aa, nb, ib, ab] of links) {
      sh(['ip', '-n', ns(na), 'link', 'add', ia, 'type', 'veth', 'peer', 'name', ib, 'netns', ns(nb)]);
      sh(['ip', '-n', ns(na), 'addr', 'add', aa, 'dev', ia]);
      sh(['ip', '-n', ns(nb), 'addr', 'add', ab, 'dev', ib]);
      sh(['ip', '-n', ns(na), 'link', 'set', ia, 'up']);
      sh(['ip', '-n', ns(nb), 'link', 'set', ib, 'up']);
    }
    sh(['ip', '-n', ns('r1'), 'route', 'add', 'default', 'via', '203.0.113.1']);
    sh(['ip', '-n', ns('r2'), 'route', 'add', 'default', 'via', '203.0.113.5']);
    sh(['ip', '-n', ns('a'), 'route', 'add', 'default', 'via', '10.1.0.1']);
    sh(['ip', '-n', ns('b'), 'route', 'add', 'default', 'via', '10.2.0.1']);
    for (const r of ['r1', 'r2'] as const) {
      this.exec(r, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      this.exec(r, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE']);
      this.exec(r, ['iptables', '-A', 'FORWARD', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
      this.exec(r, ['iptables', '-A', 'FORWARD', '-i', 'wan0', '-j', 'DROP']);
    }
  }

  /**
   * From now on the LANs reach each other directly: the WAN host routes between the routers,
   * which neither masquerade nor drop new connections any more. Connections already open (the
   * relay's) keep their translation.
   */
  liftNat(): void {
    this.exec('wan', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    sh(['ip', '-n', this.ns('wan'), 'route', 'add', '10.1.0.0/24', 'via', '203.0.113.2']);
    sh(['ip', '-n', this.ns('wan'), 'route', 'add', '10.2.0.0/24', 'via', '203.0.113.6']);
    for (const r of ['r1', 'r2'] as const) {
      this.exec(r, ['iptables', '-t', 'nat', '-D', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE']);
      this.exec(r, ['iptables', '-D', 'FORWARD', '-i', 'wan0', '-j', 'DROP']);
    }
  }

  exec(host: LabHost, args: string[]): void {
    sh(['ip', 'netns', 'exec', this.ns(host), ...args]);
  }

  /** Runs a command in a host's namespace and returns its stdout. */
  output(host: LabHost, args: string[], timeoutMs = 10_000): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(host), ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** A Node program (a .ts file and its arguments) in a host's namespace, speaking JSON lines. */
  spawn(host: LabHost, args: string[], log = process.env.PARLEY_LOG ?? 'warn'): NsProcess {
    const proc = spawn('ip', ['netns', 'exec', this.ns(host), process.execPath, ...args], { cwd: ROOT, env: { ...process.env, PARLEY_LOG: log } });
    this.children.add(proc);
    proc.once('exit', () => this.children.delete(proc));
    return new NsProcess(proc);
  }

  /** Kills every process in the lab and deletes its namespaces; safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    for (const c of this.children) c.kill('SIGKILL');
    for (const h of this.hosts) {
      const n = this.ns(h);
      try {
        const pids = execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        for (const pid of pids.split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        // gone already
      }
    }
  }
}

type Result = { ok: boolean; result?: unknown; error?: { message: string } };

/**
 * A process inside a namespace speaking JSON lines: the headless CLI in --json mode (numbered
 * commands in, results and events out) or the relay (its ready line).
 */
export class NsProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stderr: string[] = [];
  private nextId = 1;
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiters = new Map<number, (r: Result) => void>();

  constructor(proc: ChildProcessWithoutNullStreams) {
    this.proc = proc;
    readline.createInterface({ input: proc.stderr }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 2000) this.stderr.shift();
    });
    readline.createInterface({ input: proc.stdout }).on('line', (l) => {
      if (!l.startsWith('{')) return this.lines.push({ type: 'text', text: l });
      const msg = JSON.parse(l) as Record<string, unknown>;
      if (msg.type === 'result') {
        const id = msg.id as number;
        this.waiters.get(id)?.(msg as Result);
        this.waiters.delete(id);
      } else this.lines.push(msg);
    });
    proc.once('exit', (code, signal) => {
      for (const w of this.waiters.values()) w({ ok: false, error: { message: `process exited (${code ?? signal})` } });
      this.waiters.clear();
    });
  }

  async ready<T = Record<string, unknown>>(type = 'ready', timeoutMs = 60_000): Promise<T> {
    return (await waitFor(`${type} line (stderr: ${this.stderr.slice(-5).join(' | ')})`, () => this.lines.find((l) => l.type === type), timeoutMs)) as T;
  }

  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (r) => (r.ok ? resolve(r.result as T) : reject(new Error(`${cmd}: ${r.error?.message}`))));
      this.proc.stdin.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  /** Every message event so far (a message of mine appears again at each state change). */
  messages(): MessageInfo[] {
    return this.lines.filter((l) => l.type === 'event' && l.event === 'message').map((l) => l.payload as MessageInfo);
  }
}
