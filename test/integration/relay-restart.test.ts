// A relay that dies mid-conversation and comes back: nothing is lost and nothing is
// duplicated, because the relay holds no message state for tunnels; the messenger's outbox
// resends whatever was not acked once the nodes have a new relayed link.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fullHistory, recorder, removeTempDirs } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const nodes = new Set<RelayedNode>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

describe('relay restart mid-conversation', () => {
  it('loses nothing and duplicates nothing when the relay is killed and restarted while both sides send', async () => {
    let relay = await RelayProcess.start();
    relays.add(relay);
    const { port, dataDir, url, id } = relay;
    const alice = await relayedNode('alice', url);
    const bob = await relayedNode('bob', url);
    nodes.add(alice).add(bob);
    await waitRelayConnected(alice);
    await waitRelayConnected(bob);
    await waitFor('directory', () => alice.relay.client.member(bob.node.self.id));
    const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
    // Both have the conversation open, so both ask the relay for a tunnel (the duplicate rule picks one).
    await bob.node.api.call('openConversation', { peerId: alice.node.self.id });
    const aliceRec = recorder(alice.node);
    const bobRec = recorder(bob.node);
    const N = 150;
    const sending = (async () => {
      for (let i = 1; i <= N; i++) {
        await alice.node.api.call('send', { convId: conv, text: `a${i}` });
        if (i % 3 === 0) await bob.node.api.call('send', { convId: conv, text: `b${i / 3}` });
        await sleep(10);
      }
    })();
    await waitFor('some messages went through the relay', () => bobRec.arrivals.length >= 20);
    assert.equal(bob.node.links.get(alice.node.self.id)?.kind, 'relay');
    await relay.kill();
    relays.delete(relay);
    assert.ok(bobRec.arrivals.length < N, 'the relay died while the conversation was still going');
    await waitFor('both notice the relay is gone', () => alice.relay.status.state !== 'connected' && bob.relay.status.state !== 'connected');
    await sleep(300);
    relay = await RelayProcess.start({ port, dataDir });
    relays.add(relay);
    // Same data directory, same identity: the address the nodes pinned is still right.
    assert.equal(relay.id, id);
    assert.equal(relay.url, url);
    await sending;
    await waitFor('everything arrived after the restart', () => bobRec.arrivals.length === N && aliceRec.arrivals.length === N / 3, 30_000);
    // Each side's own messages are acknowledged by the other (received ones always show 'delivered').
    await waitFor('every message of both is delivered', async () => {
      const [h1, h2] = await Promise.all([fullHistory(alice.node, conv), fullHistory(bob.node, conv)]);
      return [h1, h2].every((h) => h.length === N + N / 3 && h.every((m) => m.state === 'delivered' || m.state === 'read'));
    }, 15_000);
    const ha = await fullHistory(alice.node, conv);
    const hb = await fullHistory(bob.node, conv);
    assert.deepEqual(ha.map((m) => m.id), hb.map((m) => m.id), 'identical histories');
    assert.deepEqual(ha.filter((m) => m.author === alice.node.self.id).map((m) => m.text), Array.from({ length: N }, (_, i) => `a${i + 1}`));
    assert.deepEqual(hb.filter((m) => m.author === bob.node.self.id).map((m) => m.text), Array.from({ length: N / 3 }, (_, i) => `b${i + 1}`));
    assert.equal(new Set(bobRec.arrivals.map((m) => m.id)).size, N, 'bob saw each message once');
    assert.equal(new Set(aliceRec.arrivals.map((m) => m.id)).size, N / 3, 'alice saw each reply once');
    assert.equal(alice.node.store.outboxCount(), 0);
    assert.equal(bob.node.store.outboxCount(), 0);
  });
});
