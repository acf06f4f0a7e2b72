// LAN discovery between real processes on a real (namespaced) Ethernet bridge: beacons and
// mDNS alone and together, against filtered networks, forged beacons and a flood.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PeerId } from '../../main/contract/contract.ts';
import type { CandidateEvent, GoneEvent, PeerCandidate, DiscoveryWarning } from '../../main/core/discovery/index.ts';
import type { DiscoveryDiagnostics } from '../../main/core/discovery/index.ts';
import { avahiUnavailableReason, startAvahi } from '../netlab/avahi.ts';
import { JsonLineProcess } from '../netlab/json-lines.ts';
import { Netlab, type NetlabHost } from '../netlab/netlab.ts';

const labReason = Netlab.unavailableReason();
const driver = fileURLToPath(new URL('../netlab/discovery-driver.ts', import.meta.url));
const forger = fileURLToPath(new URL('../netlab/beacon-forger.ts', import.meta.url));
const BEACON_PORT = 47800;

interface Node {
  host: NetlabHost;
  id: PeerId;
  name: string;
  proc: JsonLineProcess;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LAN discovery between three hosts on one bridge', { skip: labReason ?? false }, () => {
  let lab: Netlab;
  let nodes: Node[] = [];

  before(async () => {
    lab = await Netlab.create({ hosts: 4 });
  });
  after(async () => {
    await lab?.destroy();
  });
  afterEach(async () => {
    await Promise.all(nodes.map((n) => stopNode(n)));
    nodes = [];
    await lab.unblockAll();
  });

  async function startNodes(flags: string[] = [], hosts = lab.hosts.slice(0, 3)): Promise<Node[]> {
    nodes = hosts.map((host) => {
      const name = `Node ${host.name}`;
      const proc = new JsonLineProcess(lab.spawn(host, process.execPath, [driver, '--name', name, ...flags], { PARLEY_LOG: 'warn' }), host.name);
      return { host, name, proc, id: '' as PeerId };
    });
    for (const n of nodes) {
      const ready = await n.proc.waitFor((m) => m.type === 'ready', 10_000, 'ready');
      n.id = (ready.self as { id: PeerId }).id;
    }
    return nodes;
  }

  async function stopNode(n: Node): Promise<void> {
    if (n.proc.child.exitCode !== null || n.proc.child.signalCode !== null) return;
    n.proc.child.kill('SIGTERM');
    await n.proc.exited;
  }

  function candidateOf(observer: Node, target: Node, pred: (c: CandidateEvent) => boolean = () => true, timeoutMs = 8000) {
    return observer.proc.waitFor(
      (m) => m.type === 'event' && m.event === 'candidate' && (m.payload as CandidateEvent).id === target.id && pred(m.payload as CandidateEvent),
      timeoutMs,
      `${observer.host.name} to discover ${target.host.name}`,
    ) as Promise<{ payload: CandidateEvent }>;
  }

  async function everyoneSeesEveryone(pred: (c: CandidateEvent, target: Node) => boolean): Promise<void> {
    await Promise.all(nodes.flatMap((o) => nodes.filter((t) => t !== o).map((t) => candidateOf(o, t, (c) => pred(c, t)))));
  }

  const peers = (n: Node) => n.proc.request<PeerCandidate[]>('peers');
  const diagnostics = (n: Node) => n.proc.request<DiscoveryDiagnostics>('diagnostics');

  it('every host sees the other two through UDP beacons alone (mDNS off and its port blocked)', async () => {
    await lab.blockUdpPort(5353);
    await startNodes(['--mdns', 'off']);
    await everyoneSeesEveryone((c, t) => c.sources.includes('beacon') && c.addresses[0]?.address === t.host.ipv4 && c.name === t.name);
    const [a, b] = nodes;
    const seen = await peers(a!);
    assert.deepEqual(seen.map((p) => p.id).sort(), nodes.slice(1).map((n) => n.id).sort());
    assert.equal(seen.find((p) => p.id === b!.id)?.addresses[0]?.port, 47900);
    assert.deepEqual(seen.flatMap((p) => p.sources), ['beacon', 'beacon']);

    const updated = candidateOf(b!, a!, (c) => c.change === 'hints' && c.presence === 'away' && c.statusText === 'lunch' && c.name === 'Ada', 3000);
    await a!.proc.request('updateSelf', { name: 'Ada', presence: 'away', statusText: 'lunch' });
    await updated;
  });

  it('in steady state sends at most one beacon per 5 s per interface', async () => {
    const [a] = await startNodes(['--mdns', 'off'], lab.hosts.slice(0, 2));
    await everyoneSeesEveryone(() => true);
    await sleep(3000); // past the start-up burst and the replies to newcomers
    const before = (await diagnostics(a!)).beacon!.perInterface.eth0!.sent;
    await sleep(10_500);
    const sent = (await diagnostics(a!)).beacon!.perInterface.eth0!.sent - before;
    assert.ok(sent >= 1 && sent <= 3, `${sent} beacons in 10.5 s`);
  });

  it('beacons still arrive by directed broadcast when the network drops multicast', async () => {
    await lab.blockMulticast();
    await startNodes(['--mdns', 'off']);
    await everyoneSeesEveryone((c, t) => c.addresses.some((a) => a.observed && a.address === t.host.ipv4));
  });

  it('beacons still arrive by IPv4 multicast when the network drops broadcast and IPv6', async () => {
    await lab.blockBroadcast();
    await lab.addBridgeRules(['ether type ip6 meta l4proto udp drop']);
    await startNodes(['--mdns', 'off']);
    await everyoneSeesEveryone((c, t) => c.addresses.some((a) => a.observed && a.address === t.host.ipv4));
  });

  it('beacons still arrive over IPv6 link-local multicast when all IPv4 UDP is dropped', async () => {
    await lab.blockIpv4Udp();
    await startNodes(['--mdns', 'off']);
    await everyoneSeesEveryone((c, t) => c.addresses.some((a) => a.observed && a.address === t.host.ipv6LinkLocal));
    const seen = await peers(nodes[0]!);
    for (const p of seen) {
      assert.ok(!p.addresses.some((a) => a.observed && !a.address.startsWith('fe80:')), 'nothing arrived over IPv4');
      assert.ok(p.addresses.some((a) => !a.observed && /^10\.231\./.test(a.address) && a.trusted), 'the IPv4 address is still listed as claimed');
    }
  });

  it('every host sees the other two through mDNS alone (beacons off and their port blocked)', async () => {
    await lab.blockUdpPort(BEACON_PORT);
    await startNodes(['--beacon', 'off']);
    await everyoneSeesEveryone((c, t) => c.sources.includes('mdns') && c.addresses[0]?.address === t.host.ipv4 && c.name === t.name);

    const [a, b] = nodes;
    const renamed = candidateOf(b!, a!, (c) => c.name === 'Renamed A', 8000);
    await a!.proc.request('updateSelf', { name: 'Renamed A' });
    await renamed;
  });

  it('avahi-browse on a fourth host resolves every node\u2019s _parley._tcp service', { skip: avahiUnavailableReason() ?? false }, async () => {
    await startNodes(['--beacon', 'off']);
    const avahi = await startAvahi(lab, 'h4');
    try {
      let found: Awaited<ReturnType<typeof avahi.browse>> = [];
      for (let attempt = 0; attempt < 5 && found.length < 3; attempt++) {
        found = (await avahi.browse('_parley._tcp')).filter((r) => r.protocol === 'IPv4');
        if (found.length < 3) await sleep(500);
      }
      for (const n of nodes) {
        const r = found.find((x) => x.txt.id === n.id);
        assert.ok(r, `avahi resolved ${n.host.name}: ${JSON.stringify(found)}`);
        assert.equal(r.name, `${n.name}-${n.id.slice(0, 7)}`);
        assert.equal(r.host, `${n.host.hostname}.local`);
        assert.equal(r.address, n.host.ipv4);
        assert.equal(r.port, 47900);
        assert.equal(r.txt.v, '1');
      }
    } finally {
      await avahi.stop();
    }
  });

  it('a forged beacon claiming A\u2019s ID from C neither renames nor evicts A, and raises a warning', async () => {
    const [a, b, c] = await startNodes();
    await everyoneSeesEveryone(() => true);
    const warned = b!.proc.waitFor(
      (m) => m.event === 'warning' && (m.payload as DiscoveryWarning).id === a!.id,
      8000,
      'warning about A at B',
    );
    const forge = await lab.run(c!.host, process.execPath, [
      forger, '--to', lab.broadcast, '--port', String(BEACON_PORT), '--claim', a!.id, '--name', 'Mallory', '--rate', '5', '--seconds', '3',
    ]);
    assert.equal(forge.code, 0, forge.stderr);
    const w = (await warned).payload as DiscoveryWarning;
    assert.deepEqual({ id: w.id, address: w.address, reason: w.reason }, { id: a!.id, address: c!.host.ipv4, reason: 'conflicting-announcer' });

    const entry = (await peers(b!)).find((p) => p.id === a!.id);
    assert.ok(entry, 'A is still known to B');
    assert.equal(entry.name, a!.name);
    assert.equal(entry.addresses[0]?.address, a!.host.ipv4);
    assert.equal(entry.addresses[0]?.trusted, true);
    assert.ok(entry.addresses.some((x) => x.address === c!.host.ipv4 && !x.trusted), 'C is only an unverified extra candidate');
    assert.match(entry.warning ?? '', new RegExp(c!.host.ipv4.replace(/\./g, '\\.')));
    assert.ok(b!.proc.events<CandidateEvent>('candidate').every((e) => e.id !== a!.id || e.name === a!.name), 'A was never renamed');
    assert.deepEqual(b!.proc.events<GoneEvent>('gone'), []);
    assert.ok((await diagnostics(b!)).warnings.some((x) => x.id === a!.id && x.address === c!.host.ipv4));
  });

  it('a flood of 1,000 forged beacons per second neither evicts known peers nor grows the table unbounded', async () => {
    const [a, b, c] = await startNodes();
    await everyoneSeesEveryone(() => true);
    const forge = await lab.run(
      c!.host,
      process.execPath,
      [forger, '--to', lab.broadcast, '--port', String(BEACON_PORT), '--rate', '1000', '--seconds', '4'],
      { timeoutMs: 20_000 },
    );
    assert.equal(forge.code, 0, forge.stderr);
    assert.ok(Number(JSON.parse(forge.stdout.trim()).sent) >= 3500, forge.stdout);
    for (const observer of [a!, b!]) {
      const d = await diagnostics(observer);
      const others = nodes.filter((n) => n !== observer).map((n) => n.id);
      for (const id of others) assert.ok(d.peers.some((p) => p.id === id), `${observer.host.name} still knows ${id.slice(0, 7)}`);
      assert.deepEqual(observer.proc.events<GoneEvent>('gone'), [], `${observer.host.name} evicted nobody`);
      assert.ok(d.peers.length <= 2 + 32, `table bounded: ${d.peers.length} entries`);
      assert.ok((d.beacon?.dropped.rate ?? 0) > 1000, `rate limit dropped ${d.beacon?.dropped.rate}`);
    }
    // The legitimate peers keep announcing, so they are still there well after the flood.
    await sleep(2000);
    const d = await diagnostics(a!);
    assert.ok(d.peers.some((p) => p.id === b!.id));
  });

  it('a cleanly stopped node is gone on the others within one second', async () => {
    const [a, b, c] = await startNodes();
    await everyoneSeesEveryone(() => true);
    const gone = [b!, c!].map((o) =>
      o.proc.waitForNext((m) => m.event === 'gone' && (m.payload as GoneEvent).id === a!.id, 3000, `${o.host.name} to see A gone`),
    );
    const t0 = Date.now();
    a!.proc.child.stdin!.write(`${JSON.stringify({ id: 99, cmd: 'stop' })}\n`);
    const results = await Promise.all(gone.map((p) => p.then((m) => ({ ms: Date.now() - t0, reason: (m.payload as GoneEvent).reason }))));
    for (const r of results) {
      assert.equal(r.reason, 'goodbye');
      assert.ok(r.ms < 1000, `gone after ${r.ms} ms`);
    }
  });

  it('tells the user why nobody is visible behind Wi-Fi style client isolation', async () => {
    await lab.isolate();
    const [a] = await startNodes(['--quiet-after-ms', '2000'], lab.hosts.slice(0, 2));
    await sleep(2500);
    const d = await diagnostics(a!);
    assert.deepEqual(d.peers, []);
    assert.ok(
      d.hints.some((h) => /no beacons received on eth0/.test(h) && /AP isolation/.test(h)),
      `hints: ${JSON.stringify(d.hints)}`,
    );
    assert.ok((d.beacon?.perInterface.eth0?.sent ?? 0) >= 3, 'it did announce itself');
  });

  it('re-announces when a host\u2019s address changes', async () => {
    const [a, b] = await startNodes(['--mdns', 'off'], lab.hosts.slice(0, 2));
    await everyoneSeesEveryone(() => true);
    const newAddress = a!.host.ipv4.replace(/\.\d+$/, '.111');
    const moved = candidateOf(b!, a!, (c) => c.addresses.some((x) => x.address === newAddress && x.observed && x.trusted), 10_000);
    const r = await lab.run(a!.host, 'sh', ['-c', `ip addr del ${a!.host.ipv4}/24 dev eth0 && ip addr add ${newAddress}/24 brd + dev eth0`]);
    assert.equal(r.code, 0, r.stderr);
    try {
      await moved;
      assert.deepEqual(b!.proc.events<GoneEvent>('gone'), []);
      assert.deepEqual(b!.proc.events<DiscoveryWarning>('warning'), [], 'the peer vouched for its new address over IPv6');
    } finally {
      await lab.run(a!.host, 'sh', ['-c', `ip addr del ${newAddress}/24 dev eth0; ip addr add ${a!.host.ipv4}/24 brd + dev eth0`]);
    }
  });
});
