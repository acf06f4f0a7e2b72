// Direct versus relayed links: a direct link replaces a relayed one as soon as it works, a
// relayed link never replaces a live direct one, and when the direct path breaks the relay
// takes over, with the messenger's guarantees intact through every switch.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RelayFrameOf } from '../../main/core/relay/frames.ts';
import type { RelayServer } from '../../relay/server.ts';
import { fullHistory, recorder, removeTempDirs } from '../helpers/nodes.ts';
import { TcpProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { relayedNode, startRelay, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const servers = new Set<RelayServer>();
const nodes = new Set<RelayedNode>();
const proxies = new Set<TcpProxy>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...proxies].map((p) => p.close()));
  await Promise.all([...servers].map((s) => s.stop()));
  removeTempDirs();
});

async function setup() {
  const server = await startRelay();
  servers.add(server);
  const alice = await relayedNode('alice', server.url);
  const bob = await relayedNode('bob', server.url);
  nodes.add(alice).add(bob);
  await waitRelayConnected(alice);
  await waitRelayConnected(bob);
  await waitFor('directory', () => alice.relay.client.member(bob.node.self.id));
  const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
  await bob.node.api.call('openConversation', { peerId: alice.node.self.id });
  return { server, alice, bob, conv, bobRec: recorder(bob.node) };
}

const kinds = (a: RelayedNode, b: RelayedNode) => [a.node.links.get(b.node.self.id)?.kind, b.node.links.get(a.node.self.id)?.kind];

describe('direct and relayed links', () => {
  it('upgrades to direct when a direct path appears, falls back to the relay when it breaks, and back again, losing nothing', async () => {
    const { alice, bob, conv, bobRec } = await setup();
    let sent = 0;
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) await alice.node.api.call('send', { convId: conv, text: `m${++sent}` });
    };
    await send(10);
    await waitFor('relayed', () => kinds(alice, bob).every((k) => k === 'relay') && bobRec.arrivals.length === 10);

    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: bob.node.self.port });
    proxies.add(proxy);
    await alice.node.api.call('addPeer', { address: proxy.address, id: bob.node.self.id });
    await waitFor('direct replaced the relay on both sides', () => kinds(alice, bob).every((k) => k === 'direct'));
    await send(10);
    await waitFor('20 arrived', () => bobRec.arrivals.length === 20);

    // The direct path breaks and stays broken: the relay takes over.
    proxy.blackhole(true);
    proxy.cut();
    await send(10);
    await waitFor('relay took over', () => kinds(alice, bob).every((k) => k === 'relay'), 15_000);
    await waitFor('30 arrived', () => bobRec.arrivals.length === 30, 15_000);

    // The direct path heals: direct dialing never stopped, so it wins again.
    proxy.blackhole(false);
    await waitFor('direct again', () => kinds(alice, bob).every((k) => k === 'direct'), 15_000);
    await send(10);
    await waitFor('40 arrived', () => bobRec.arrivals.length === 40, 15_000);

    assert.deepEqual(bobRec.arrivals.map((m) => m.text), Array.from({ length: 40 }, (_, i) => `m${i + 1}`), 'once each, in order');
    await waitFor('all delivered', async () => (await fullHistory(alice.node, conv)).every((m) => m.state === 'delivered'), 15_000);
  });

  it('never lets a relayed link replace a live direct one', async () => {
    const { alice, bob } = await setup();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: bob.node.self.port });
    proxies.add(proxy);
    await alice.node.api.call('addPeer', { address: proxy.address, id: bob.node.self.id });
    await waitFor('direct', () => kinds(alice, bob).every((k) => k === 'direct'));
    const direct = alice.node.links.get(bob.node.self.id)!;

    // Force a relayed link anyway, past the attachment (which would not ask for one now, and
    // with a direct link up would accept only a file stream on an invitation: it is taken out).
    for (const n of [alice, bob]) n.relay.client.removeAllListeners('invite');
    const adopted: string[] = [];
    const closedRelayed: string[] = [];
    const adopt = (who: RelayedNode, peer: RelayedNode) => (inv: RelayFrameOf<'invite'>) => {
      void who.relay.client.openTunnel(inv).then((socket) => {
        const link = who.node.links.adoptRelayed(socket, peer.node.self.id, inv.server ? 'in' : 'out');
        adopted.push(who.node.self.name);
        link?.once('close', (reason) => closedRelayed.push(`${who.node.self.name}: ${reason}`));
      });
    };
    alice.relay.client.on('invite', adopt(alice, bob));
    bob.relay.client.on('invite', adopt(bob, alice));
    assert.ok(alice.relay.client.requestTunnel(bob.node.self.id));
    await waitFor('both adopted the tunnel', () => adopted.length === 2);
    await waitFor('and closed it as a duplicate', () => closedRelayed.length === 2);
    assert.ok(closedRelayed.every((r) => /duplicate/.test(r)), closedRelayed.join('; '));
    assert.equal(alice.node.links.get(bob.node.self.id), direct, 'the direct link is untouched');
    assert.deepEqual(kinds(alice, bob), ['direct', 'direct']);
  });
});
