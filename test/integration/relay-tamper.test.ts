// A malicious relay that flips, injects or replays bytes inside tunnels. The peers' TLS must
// turn every such trick into a failed link and a retry: no forged, altered, repeated or lost
// message, ever.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import type { RelayServer } from '../../relay/server.ts';
import type { TamperMode } from '../../relay/splice.ts';
import { fullHistory, recorder, removeTempDirs } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { relayedNode, startRelay, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const servers = new Set<RelayServer>();
const nodes = new Set<RelayedNode>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...servers].map((s) => s.stop()));
  removeTempDirs();
});

async function pair(tamper: { mode: TamperMode; afterBytes: number }) {
  const server = await startRelay({ debug: { tamper: tamper.mode, tamperAfterBytes: tamper.afterBytes, capture: null } });
  servers.add(server);
  const alice = await relayedNode('alice', server.url);
  const bob = await relayedNode('bob', server.url);
  nodes.add(alice).add(bob);
  await waitRelayConnected(alice);
  await waitRelayConnected(bob);
  await waitFor('directory', () => alice.relay.client.member(bob.node.self.id));
  const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
  const downs: string[] = [];
  alice.node.links.on('down', (link, reason) => link.kind === 'relay' && downs.push(reason));
  return { server, alice, bob, conv, downs, bobRec: recorder(bob.node) };
}

function expectExactly(texts: string[], n: number, prefix: string): void {
  assert.deepEqual(texts, Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`));
}

describe('a malicious relay', () => {
  it('that damages the TLS handshake gets no link at all, only retries; healed, everything arrives once', async () => {
    const { server, alice, bob, conv, bobRec } = await pair({ mode: 'flip', afterBytes: 0 });
    for (let i = 1; i <= 5; i++) await alice.node.api.call('send', { convId: conv, text: `early ${i}` });
    await waitFor('several tunnels damaged', () => server.snapshot().tampered >= 4, 15_000);
    assert.equal(bobRec.arrivals.length, 0, 'nothing got through a damaged handshake');
    assert.equal(bob.node.links.get(alice.node.self.id), undefined, 'no link came up');
    assert.ok(alice.relay.tunnelStats.failed >= 2, 'tunnels failed and were retried');
    server.tamper = null;
    await waitFor('all arrive once healed', () => bobRec.arrivals.length === 5, 15_000);
    await sleep(200);
    expectExactly(bobRec.arrivals.map((m) => m.text), 5, 'early');
  });

  for (const mode of ['flip', 'inject', 'replay'] as const) {
    it(`that ${mode === 'flip' ? 'flips a bit in' : mode === 'inject' ? 'injects bytes into' : 'replays records of'} an established tunnel only breaks the link; all messages arrive intact, once, in order`, async () => {
      const { server, alice, bob, conv, downs, bobRec } = await pair({ mode, afterBytes: 5000 });
      const N = 60;
      for (let i = 1; i <= N; i++) await alice.node.api.call('send', { convId: conv, text: `msg ${i}` });
      // Node drops the plaintext that arrived in the same read as a damaged record, so a relay
      // that damages every session can stall delivery (as one that drops everything can):
      // let it damage several sessions, then behave, and check that nothing went wrong.
      await waitFor('several sessions damaged', () => server.snapshot().tampered >= 3, 20_000);
      assert.ok(downs.length >= 1, 'damage cost links');
      server.tamper = null;
      await waitFor(`all ${N} arrived`, () => bobRec.arrivals.length >= N, 30_000);
      await sleep(200);
      expectExactly(bobRec.arrivals.map((m) => m.text), N, 'msg');
      const hb = await fullHistory(bob.node, conv);
      expectExactly(hb.map((m) => m.text), N, 'msg');
      assert.ok(hb.every((m) => m.author === (alice.node.self.id as PeerId)));
    });
  }
});
