// A group whose members do not all share a network: Carol reaches the others only through a
// relay (a separate process), Bob only over the LAN. Group events still reach everyone, over
// whichever link each pair has, and a member back from offline catches up through the relay.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { connect, fullHistory, node, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const relayed = new Set<RelayedNode>();
const plain = new Set<ParleyNode>();
after(async () => {
  await Promise.all([...relayed].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...plain].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

async function onRelay(name: string, url: string, dataDir = tempDir()) {
  const n = await relayedNode(name, url, { dataDir });
  relayed.add(n);
  await waitRelayConnected(n);
  return n;
}

const texts = (h: MessageInfo[]) => h.filter((m) => !m.change).map((m) => m.text);
const ids = (h: MessageInfo[]) => h.map((m) => m.id);

async function groupHistory(n: ParleyNode, convId: string) {
  return fullHistory(n, convId);
}

describe('groups across a relay', () => {
  it('reaches a relay-only member through another member, and catches it up after it was offline', async () => {
    const relay = await RelayProcess.start();
    relays.add(relay);
    const carolDir = tempDir();
    const alice = await onRelay('alice', relay.url);
    let carol = await onRelay('carol', relay.url, carolDir);
    const bob = await node('bob');
    plain.add(bob);
    // Bob knows Alice's LAN address; nobody gives Carol's to anyone.
    await connect(bob, alice.node);
    await waitFor('alice holds bob’s certificate', () => alice.node.store.peerCertificate(bob.self.id));
    // Alice and Carol met in an earlier session (Alice keeps Carol's certificate) and have no
    // direct conversation: only the group they are about to share makes a tunnel worth having.
    await waitFor('alice sees carol in the relay’s directory', () => alice.relay.client.member(carol.node.self.id));
    assert.ok(alice.node.store.setPeerCertificate(carol.node.self.id, new X509Certificate(carol.node.identity.certPem).raw));
    assert.equal(alice.node.links.get(carol.node.self.id), undefined, 'no tunnel without a reason');

    const group = await alice.node.api.call('createGroup', { name: 'Two offices', members: [bob.self.id, carol.node.self.id] });
    for (const n of [bob, carol.node]) {
      await waitFor(`${n.self.name} has the group`, async () => (await n.api.call('listConversations', {})).some((c) => c.id === group.id));
    }
    assert.equal(alice.node.links.get(carol.node.self.id)?.kind, 'relay');
    assert.equal(alice.node.links.get(bob.self.id)?.kind, 'direct');

    // Bob and Carol have no link: whatever each gets from the other came through Alice.
    for (let i = 1; i <= 20; i++) await bob.api.call('send', { convId: group.id, text: `bob ${i}` });
    await carol.node.api.call('send', { convId: group.id, text: 'carol from the other office' });
    await waitFor('carol has bob’s 20', async () => texts(await groupHistory(carol.node, group.id)).filter((t) => t.startsWith('bob ')).length === 20, 30_000);
    await waitFor('bob has carol’s', async () => texts(await groupHistory(bob, group.id)).includes('carol from the other office'), 30_000);
    assert.equal(bob.links.get(carol.node.self.id), undefined, 'bob and carol never linked');

    // Carol goes offline; Bob keeps writing; Carol comes back on the relay only.
    await carol.stop();
    relayed.delete(carol);
    for (let i = 21; i <= 50; i++) await bob.api.call('send', { convId: group.id, text: `bob ${i}` });
    await waitFor('alice has all 50', async () => texts(await groupHistory(alice.node, group.id)).filter((t) => t.startsWith('bob ')).length === 50, 30_000);
    carol = await onRelay('carol', relay.url, carolDir);
    await waitFor('carol caught up through the relay', async () => texts(await groupHistory(carol.node, group.id)).filter((t) => t.startsWith('bob ')).length === 50, 30_000);

    // Exactly once each, and the same order everywhere.
    const [ha, hb, hc] = [await groupHistory(alice.node, group.id), await groupHistory(bob, group.id), await groupHistory(carol.node, group.id)];
    assert.equal(new Set(ids(hc)).size, hc.length, 'no duplicates');
    assert.deepEqual(ids(hc), ids(ha));
    assert.deepEqual(ids(hb), ids(ha));
    assert.deepEqual(
      texts(hc).filter((t) => t.startsWith('bob ')),
      Array.from({ length: 50 }, (_, i) => `bob ${i + 1}`),
    );
  });
});
