// Whole nodes (the headless CLI, separate processes) on throwaway LANs built from network
// namespaces: discovery, links, chat and presence across real interfaces. Root only.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import type { MessageInfo, PeerInfo } from '../../main/contract/contract.ts';
import { removeTempDirs } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { JsonLineProcess } from './json-lines.ts';
import { startLabNode, type LabNode } from './lab-node.ts';
import { Netlab } from './netlab.ts';

const FORGER = path.resolve(import.meta.dirname, 'beacon-forger.ts');
const reason = Netlab.unavailableReason();
// Offline after a crash must show within 15 s: the heartbeat declares a link dead after 12 s.
const timing = { redialMinMs: 200, redialMaxMs: 2000 };


let lab: Netlab | null = null;
const nodes: LabNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) n.p.child.kill('SIGKILL');
  await lab?.destroy();
  lab = null;
});
after(() => removeTempDirs());

async function startOn(host: string, name: string, extra: string[] = []): Promise<LabNode> {
  const n = await startLabNode(lab!, host, name, extra, timing);
  nodes.push(n);
  return n;
}

const peers = (n: LabNode) => n.p.request<PeerInfo[]>('listPeers', {}, 10_000);
async function linkedTo(n: LabNode, others: LabNode[]): Promise<boolean> {
  const ps = await peers(n);
  return others.every((o) => ps.some((p) => p.id === o.self.id && p.link === 'direct'));
}
async function allSeeAll(ns: LabNode[], timeoutMs: number) {
  await waitFor('everyone linked to everyone', async () => (await Promise.all(ns.map((n) => linkedTo(n, ns.filter((o) => o !== n))))).every(Boolean), timeoutMs, 100);
}

/** Resolves with the time at which `watcher` saw `subject` go offline. */
function offlineSeen(watcher: LabNode, subject: LabNode, timeoutMs: number): Promise<number> {
  return watcher.p
    .waitForNext((m) => m.type === 'event' && m.event === 'peer' && (m.payload as PeerInfo).id === subject.self.id && (m.payload as PeerInfo).presence === 'offline', timeoutMs, 'offline')
    .then(() => Date.now());
}

describe('nodes on a LAN', { skip: reason ?? false }, () => {
  it('three hosts find each other, chat, see presence changes, and see exits within 1 s (clean) and 15 s (crash, lost network)', async () => {
    lab = await Netlab.create({ hosts: 3 });
    const [a, b, c] = [await startOn('h1', 'Ann'), await startOn('h2', 'Ben'), await startOn('h3', 'Cat')];
    await allSeeAll([a, b, c], 15_000);

    const conv = await a.p.request<{ id: string }>('openConversation', { peerId: b.self.id });
    const sent = await a.p.request<MessageInfo>('send', { convId: conv.id, text: 'hello over the LAN' });
    await b.p.waitFor((m) => m.type === 'event' && m.event === 'message' && (m.payload as MessageInfo).id === sent.id, 10_000, 'message at Ben');
    await a.p.waitFor((m) => m.type === 'event' && m.event === 'message' && (m.payload as MessageInfo).id === sent.id && (m.payload as MessageInfo).state === 'delivered', 10_000, 'delivered');

    await b.p.request('setProfile', { presence: 'busy', statusText: 'in a meeting' });
    for (const w of [a, c]) {
      await w.p.waitFor(
        (m) => m.type === 'event' && m.event === 'peer' && (m.payload as PeerInfo).id === b.self.id && (m.payload as PeerInfo).presence === 'busy' && (m.payload as PeerInfo).statusText === 'in a meeting',
        5000,
        'Ben busy',
      );
    }

    const cleanSeen = offlineSeen(a, c, 5000);
    const t0 = Date.now();
    c.p.child.kill('SIGTERM');
    const cleanMs = (await cleanSeen) - t0;
    assert.ok(cleanMs <= 1000, `clean exit seen after ${cleanMs} ms`);

    // A pulled cable: no FIN, no RST, only silence. The heartbeat has to notice.
    const lostSeen = offlineSeen(a, b, 20_000);
    const t1 = Date.now();
    await lab!.isolate(true);
    const lostMs = (await lostSeen) - t1;
    assert.ok(lostMs <= 15_000, `lost network seen after ${lostMs} ms`);
    await lab!.isolate(false);
    await allSeeAll([a, b], 15_000);

    const crashSeen = offlineSeen(a, b, 20_000);
    const t2 = Date.now();
    b.p.child.kill('SIGKILL');
    const crashMs = (await crashSeen) - t2;
    assert.ok(crashMs <= 15_000, `crash seen after ${crashMs} ms`);
    console.log(`# offline after clean exit: ${cleanMs} ms; after network loss: ${lostMs} ms; after SIGKILL: ${crashMs} ms`);
  });

  it('finds peers by beacons alone when multicast is blocked on the bridge', async () => {
    lab = await Netlab.create({ hosts: 3 });
    await lab.blockMulticast();
    const ns = [await startOn('h1', 'A'), await startOn('h2', 'B'), await startOn('h3', 'C')];
    await allSeeAll(ns, 15_000);
  });

  it('finds peers by mDNS alone when beacons are off', async () => {
    lab = await Netlab.create({ hosts: 3 });
    const ns = [await startOn('h1', 'A', ['--no-beacon']), await startOn('h2', 'B', ['--no-beacon']), await startOn('h3', 'C', ['--no-beacon'])];
    await allSeeAll(ns, 20_000);
  });

  it('keeps a real peer when another host forges its beacon, makes no link to the forger, and warns', async () => {
    lab = await Netlab.create({ hosts: 3 });
    const [a, b, m] = [await startOn('h1', 'Ann'), await startOn('h2', 'Ben'), await startOn('h3', 'Mallory')];
    await allSeeAll([a, b], 15_000);
    // Mallory's host announces Ann's ID with its own (real, TLS-speaking) Parley port.
    const forger = lab.spawn('h3', process.execPath, [FORGER, '--to', lab.broadcast, '--claim', a.self.id, '--name', 'Evil Ann', '--rate', '5', '--seconds', '4', '--service-port', String(m.self.port)]);
    const forgerDone = new JsonLineProcess(forger, 'forger').waitFor((x) => x.type === 'done', 15_000, 'forger done');
    await waitFor('warning about Ann at Ben', async () => (await peers(b)).find((p) => p.id === a.self.id)?.warning, 10_000, 100);
    await forgerDone;
    const ann = (await peers(b)).find((p) => p.id === a.self.id)!;
    assert.equal(ann.name, 'Ann', 'the real peer keeps its name');
    assert.equal(ann.link, 'direct', 'and its link');
    const diag = await b.p.request<{ links: Array<{ peerId: string; remote: string }> }>('diagnostics');
    const annLink = diag.links.find((l) => l.peerId === a.self.id);
    assert.ok(annLink, 'Ben still has a link to Ann');
    const mallory = lab.hosts.find((h) => h.name === 'h3')!;
    assert.ok(!annLink.remote.includes(mallory.ipv4), `the link under Ann's ID does not go to the forger (${annLink.remote})`);
    await sleep(200);
  });

  // Functional here; the time it takes is a figure for bench/discovery.bench.ts, not an assertion
  // that a loaded 2-core CI machine could fail.
  it('30 nodes on one segment all see and link to each other', async () => {
    lab = await Netlab.create({ hosts: 15 });
    const starts = lab.hosts.flatMap((h) => [0, 1].map((k) => () => startOn(h.name, `${h.name}-${k}`, ['--port', String(47474 + k)])));
    const ns: LabNode[] = [];
    // Two at a time: this machine has two cores, and the test measures discovery, not start-up.
    for (let i = 0; i < starts.length; i += 2) ns.push(...(await Promise.all(starts.slice(i, i + 2).map((s) => s()))));
    const lastStart = Date.now();
    await allSeeAll(ns, 60_000);
    console.log(`# 30 nodes: all linked ${Date.now() - lastStart} ms after the last start (load ${os.loadavg()[0]!.toFixed(1)})`);
  });
});
