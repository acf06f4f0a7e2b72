// Two nodes that cannot reach each other directly (neither knows the other's address) chat
// through a relay running as its own process, with the same delivery guarantees as a direct
// link, and the relay never sees what they say.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fullHistory, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const nodes = new Set<RelayedNode>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

async function relayProcess(opts: Parameters<typeof RelayProcess.start>[0] = {}) {
  const r = await RelayProcess.start(opts);
  relays.add(r);
  return r;
}
async function peer(name: string, url: string, opts: { token?: string; dataDir?: string } = {}) {
  const n = await relayedNode(name, url, opts);
  nodes.add(n);
  return n;
}

describe('chatting through a relay', () => {
  it('gives two nodes with no direct path a relayed link that carries messages both ways', async () => {
    const relay = await relayProcess({ token: 'office-token' });
    const alice = await peer('alice', relay.url, { token: 'office-token' });
    const bob = await peer('bob', relay.url, { token: 'office-token' });
    await waitRelayConnected(alice);
    await waitRelayConnected(bob);
    await waitFor('each sees the other in the directory', () => alice.relay.client.member(bob.node.self.id) && bob.relay.client.member(alice.node.self.id));
    // The directory made them known peers, with names, but without any address.
    const bobAsSeenByAlice = (await alice.node.api.call('listPeers', {})).find((p) => p.id === bob.node.self.id);
    assert.equal(bobAsSeenByAlice?.name, 'bob');
    assert.deepEqual(bobAsSeenByAlice?.addresses, []);

    const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
    const bobRec = recorder(bob.node);
    const aliceRec = recorder(alice.node);
    await alice.node.api.call('send', { convId: conv, text: 'hello through the relay' });
    await waitFor('bob got it', () => bobRec.arrivals.length === 1);
    assert.equal(alice.node.links.get(bob.node.self.id)?.kind, 'relay');
    assert.equal(bob.node.links.get(alice.node.self.id)?.kind, 'relay');
    const peers = await bob.node.api.call('listPeers', {});
    assert.equal(peers.find((p) => p.id === alice.node.self.id)?.link, 'relay');

    await bob.node.api.call('send', { convId: conv, text: 'and back' });
    await waitFor('alice got the reply', () => aliceRec.arrivals.length === 1);
    const status = await relay.status();
    assert.equal(status.members.length, 2);
    assert.ok(status.sessions.active >= 1, 'the relay reports the tunnel');
    assert.ok(status.bytes.forwarded > 0);
    // The relay's address is not remembered as either peer's address.
    assert.deepEqual(alice.node.store.getPeer(bob.node.self.id)?.addresses, []);
  });

  it('forwards 1,000 messages exactly once and in order while every byte it forwards stays opaque', async () => {
    const capture = path.join(tempDir('parley-capture-'), 'relay-forwarded.bin');
    const relay = await relayProcess({ args: ['--debug-capture', capture] });
    const alice = await peer('alice', relay.url);
    const bob = await peer('bob', relay.url);
    await waitRelayConnected(alice);
    await waitRelayConnected(bob);
    await waitFor('directory', () => alice.relay.client.member(bob.node.self.id));
    const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
    const marker = `MARKER-${randomBytes(12).toString('hex')}`;
    const bobRec = recorder(bob.node);
    const N = 1000;
    const sends = [];
    for (let i = 1; i <= N; i++) sends.push(alice.node.api.call('send', { convId: conv, text: `${marker} #${i}` }));
    await Promise.all(sends);
    await waitFor('all 1000 arrived', () => bobRec.arrivals.length >= N, 60_000);
    const texts = bobRec.arrivals.map((m) => m.text);
    assert.equal(new Set(bobRec.arrivals.map((m) => m.id)).size, N, 'no duplicates');
    assert.deepEqual(texts, Array.from({ length: N }, (_, i) => `${marker} #${i + 1}`), 'in order');
    assert.equal(alice.node.links.get(bob.node.self.id)?.kind, 'relay');

    await relay.stop();
    relays.delete(relay);
    const forwarded = readFileSync(capture);
    // The capture really holds the conversation's traffic (1000 messages of ~60 bytes of text).
    assert.ok(forwarded.byteLength > N * 60, `capture holds ${forwarded.byteLength} bytes`);
    assert.equal(statSync(capture).size, forwarded.byteLength);
    // ... and it is TLS: application-data records (0x17 0x03 0x03) of the peers' own session.
    assert.ok(forwarded.indexOf(Buffer.from([0x17, 0x03, 0x03])) >= 0, 'capture holds TLS records');
    assert.equal(forwarded.indexOf(Buffer.from(marker)), -1, 'the marker never appears in what the relay forwarded');
    assert.equal(forwarded.indexOf(Buffer.from('MARKER-')), -1);
  });
});
