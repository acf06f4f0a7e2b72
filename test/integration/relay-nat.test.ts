// Two LANs behind masquerading routers, the relay on the "WAN" between them: the topology a
// relay exists for. Built from network namespaces (root only; skipped with the reason
// otherwise). test/netlab/netlab.ts builds single bridged LANs, not routed ones, so this file
// builds its own small topology and cleans it up:
//
//   [a 10.1.0.10] -- [r1: MASQUERADE] --\                /-- [r2: MASQUERADE] -- [b 10.2.0.10]
//                                        [wan: relay 198.51.100.10, no forwarding]
//
// Routers drop unsolicited traffic from the WAN; the WAN host does not route between routers,
// so a and b cannot reach each other by any address; both reach the relay.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import type { MessageInfo, PeerId, SelfInfo } from '../../main/contract/contract.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { testLimits } from './relay-harness.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RELAY_IP = '198.51.100.10';
const RELAY_PORT = 47480;
// Not 'pl…-h1'/'pl…-br': test/netlab's sweeper deletes namespaces of that shape it does not own.
const PREFIX = `prl${randomBytes(3).toString('hex')}`;
const NAMESPACES = ['wan', 'r1', 'r2', 'a', 'b'].map((n) => `${PREFIX}-${n}`);
const ns = (n: string) => `${PREFIX}-${n}`;

function unavailable(): string | null {
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

function build(): void {
  for (const n of NAMESPACES) {
    sh(['ip', 'netns', 'add', n]);
    sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
  }
  sh(['ip', '-n', ns('wan'), 'addr', 'add', `${RELAY_IP}/32`, 'dev', 'lo']);
  const links: Array<[string, string, string, string, string, string]> = [
    // [ns A, ifname A, addr A, ns B, ifname B, addr B]
    [ns('wan'), 'w1', '203.0.113.1/30', ns('r1'), 'wan0', '203.0.113.2/30'],
    [ns('wan'), 'w2', '203.0.113.5/30', ns('r2'), 'wan0', '203.0.113.6/30'],
    [ns('r1'), 'lan0', '10.1.0.1/24', ns('a'), 'eth0', '10.1.0.10/24'],
    [ns('r2'), 'lan0', '10.2.0.1/24', ns('b'), 'eth0', '10.2.0.10/24'],
  ];
  for (const [na, ia, aa, nb, ib, ab] of links) {
    sh(['ip', '-n', na, 'link', 'add', ia, 'type', 'veth', 'peer', 'name', ib, 'netns', nb]);
    sh(['ip', '-n', na, 'addr', 'add', aa, 'dev', ia]);
    sh(['ip', '-n', nb, 'addr', 'add', ab, 'dev', ib]);
    sh(['ip', '-n', na, 'link', 'set', ia, 'up']);
    sh(['ip', '-n', nb, 'link', 'set', ib, 'up']);
  }
  sh(['ip', '-n', ns('r1'), 'route', 'add', 'default', 'via', '203.0.113.1']);
  sh(['ip', '-n', ns('r2'), 'route', 'add', 'default', 'via', '203.0.113.5']);
  sh(['ip', '-n', ns('a'), 'route', 'add', 'default', 'via', '10.1.0.1']);
  sh(['ip', '-n', ns('b'), 'route', 'add', 'default', 'via', '10.2.0.1']);
  for (const r of ['r1', 'r2']) {
    const x = (args: string[]) => sh(['ip', 'netns', 'exec', ns(r), ...args]);
    x(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    x(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE']);
    x(['iptables', '-A', 'FORWARD', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
    x(['iptables', '-A', 'FORWARD', '-i', 'wan0', '-j', 'DROP']);
  }
}

const children = new Set<ChildProcessWithoutNullStreams>();
function destroy(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const n of NAMESPACES) {
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

/** A process inside a namespace, speaking JSON lines. */
class NsProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stderr: string[] = [];
  private nextId = 1;
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiters = new Map<number, (r: { ok: boolean; result?: unknown; error?: { message: string } }) => void>();

  constructor(namespace: string, args: string[], log = process.env.PARLEY_LOG ?? 'warn') {
    this.proc = spawn('ip', ['netns', 'exec', namespace, process.execPath, ...args], { cwd: ROOT, env: { ...process.env, PARLEY_LOG: log } });
    children.add(this.proc);
    this.proc.once('exit', () => children.delete(this.proc));
    readline.createInterface({ input: this.proc.stderr }).on('line', (l) => this.stderr.push(l));
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => {
      if (!l.startsWith('{')) return this.lines.push({ type: 'text', text: l });
      const msg = JSON.parse(l) as Record<string, unknown>;
      if (msg.type === 'result') this.waiters.get(msg.id as number)?.(msg as never);
      else this.lines.push(msg);
    });
  }

  async ready<T = Record<string, unknown>>(type = 'ready', timeoutMs = 20_000): Promise<T> {
    return (await waitFor(`${type} line (stderr: ${this.stderr.slice(-5).join(' | ')})`, () => this.lines.find((l) => l.type === type), timeoutMs)) as T;
  }

  call(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (r) => (r.ok ? resolve(r.result) : reject(new Error(r.error?.message))));
      this.proc.stdin.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  messages(): MessageInfo[] {
    return this.lines.filter((l) => l.type === 'event' && l.event === 'message').map((l) => l.payload as MessageInfo);
  }
}

const reason = unavailable();

describe('two NATed LANs with the relay on the WAN', { skip: reason ?? false }, () => {
  let relayUrl = '';
  let relayProc: NsProcess;
  let a: NsProcess;
  let b: NsProcess;
  let aSelf: SelfInfo;
  let bSelf: SelfInfo;

  before(async () => {
    process.once('exit', destroy);
    build();
    const relay = new NsProcess(ns('wan'), [
      path.join(ROOT, 'relay/cli.ts'),
      '--listen', `${RELAY_IP}:${RELAY_PORT}`,
      '--data', tempDir('parley-relay-'),
      '--token', 'lan-party',
      '--no-status',
      '--limits', JSON.stringify(testLimits),
    ], 'info');
    relayProc = relay;
    relayUrl = ((await relay.ready('ready')) as { url: string }).url;
    const runner = path.join(ROOT, 'test/integration/relay-node-process.ts');
    a = new NsProcess(ns('a'), [runner, '--data', tempDir(), '--name', 'alice', '--relay', relayUrl, '--token', 'lan-party']);
    b = new NsProcess(ns('b'), [runner, '--data', tempDir(), '--name', 'bob', '--relay', relayUrl, '--token', 'lan-party']);
    aSelf = (await a.ready<{ self: SelfInfo }>()).self;
    bSelf = (await b.ready<{ self: SelfInfo }>()).self;
  });

  after(() => {
    destroy();
    removeTempDirs();
  });

  it('has no direct path between the LANs, yet alice and bob chat through the relay', async () => {
    assert.match(relayUrl, new RegExp(`^parley-relay://${RELAY_IP.replace(/\./g, '\\.')}:${RELAY_PORT}/\\?id=`));
    // Give alice bob's real LAN address: a direct dial can only fail behind these NATs.
    await a.call('addPeer', { address: `10.2.0.10:${bSelf.port}`, id: bSelf.id });
    await waitFor('both joined the relay and see each other', async () => {
      const [sa, sb] = (await Promise.all([a.call('relayStatus'), b.call('relayStatus')])) as Array<{ status: { state: string }; directory: Array<{ id: PeerId }> }>;
      return sa!.status.state === 'connected' && sb!.status.state === 'connected' && sa!.directory.some((m) => m.id === bSelf.id);
    }, 20_000);
    const conv = ((await a.call('openConversation', { peerId: bSelf.id })) as { id: string }).id;
    for (let i = 1; i <= 20; i++) await a.call('send', { convId: conv, text: `across the NATs ${i}` });
    await waitFor('bob has all 20', () => b.messages().filter((m) => !m.mine).length >= 20, 30_000);
    assert.deepEqual(
      b.messages().filter((m) => !m.mine).map((m) => m.text),
      Array.from({ length: 20 }, (_, i) => `across the NATs ${i + 1}`),
    );
    assert.equal(await a.call('linkKind', { peerId: bSelf.id }), 'relay');
    // The relay saw the routers' WAN addresses, never the LAN addresses behind them.
    const joins = relayProc.stderr.filter((l) => l.includes('member joined')).join('\n');
    assert.match(joins, /203\.0\.113\.2:/);
    assert.match(joins, /203\.0\.113\.6:/);
    assert.doesNotMatch(joins, /10\.[12]\.0\.10/);
    assert.equal(await b.call('linkKind', { peerId: aSelf.id }), 'relay');
    await b.call('send', { convId: conv, text: 'got them all' });
    await waitFor('alice has the reply', () => a.messages().some((m) => !m.mine && m.text === 'got them all'), 15_000);
    await waitFor('alice sees her messages delivered', async () => {
      const h = (await a.call('history', { convId: conv, limit: 100 })) as MessageInfo[];
      return h.filter((m) => m.mine).every((m) => m.state === 'delivered');
    }, 15_000);
  });
});
