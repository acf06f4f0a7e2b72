// The offline mailbox with the relay as its own process: a sender deposits sealed messages
// for a recipient who is offline, goes offline itself, and the recipient still gets every
// message exactly once and in order. The sender sees them as "stored" (at the relay) meanwhile;
// its outbox stays the truth: it learns "delivered" only from the recipient, over a link, when
// both are online again.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import { connect, fullHistory, node, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const nodes = new Set<RelayedNode>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

async function start(name: string, url: string, dataDir: string): Promise<RelayedNode> {
  const n = await relayedNode(name, url, { dataDir });
  nodes.add(n);
  await waitRelayConnected(n);
  return n;
}
async function stop(n: RelayedNode): Promise<void> {
  await n.stop();
  nodes.delete(n);
}

describe('offline mailbox', () => {
  it('delivers 200 messages exactly once and in order to a recipient who comes online after the sender left', async () => {
    const relay = await RelayProcess.start();
    relays.add(relay);
    const aliceDir = tempDir();
    const bobDir = tempDir();

    // Bob has used this relay before (so it knows his certificate), and is offline now.
    let bob = await start('bob', relay.url, bobDir);
    const bobId: PeerId = bob.node.self.id;
    await stop(bob);

    let alice = await start('alice', relay.url, aliceDir);
    const conv = (await alice.node.api.call('openConversation', { peerId: bobId })).id;
    const N = 200;
    const states = new Map<string, string>();
    alice.node.api.on('message', (m) => m.mine && states.set(m.id, m.state));
    for (let i = 1; i <= N; i++) await alice.node.api.call('send', { convId: conv, text: `offline ${i}` });
    await waitFor('all deposited', () => alice.relay.mailboxStats!.deposited === N, 30_000);
    assert.equal((await relay.status()).mailbox.items, N);
    await waitFor('shown as stored at the relay, not delivered', () => [...states.values()].filter((s) => s === 'stored').length === N);
    assert.equal(alice.node.store.outboxCount(bobId), N, 'still in the outbox: the relay is not the recipient');
    // Past the delivery deadline (2 s here) a stored message is still just stored: nothing to
    // retry while the recipient is online nowhere.
    await sleep(2500);
    const stored = await fullHistory(alice.node, conv);
    assert.equal(stored.length, N);
    assert.ok(stored.every((m) => m.state === 'stored' && !m.overdue), 'every one stored, none flagged overdue');
    // The sealed copy at the relay will reach Bob whatever Alice does now: no pretending to recall it.
    await assert.rejects(alice.node.api.call('cancel', { messageId: stored[0]!.id }), /cannot be recalled/);
    assert.equal(alice.node.store.getMessage(stored[0]!.id)?.state, 'stored');
    await stop(alice);

    // Bob comes online while Alice is offline.
    bob = await relayedNode('bob', relay.url, { dataDir: bobDir });
    nodes.add(bob);
    const bobRec = recorder(bob.node);
    await waitFor('bob got the mailbox', () => bobRec.arrivals.length >= N, 30_000);
    await sleep(300);
    assert.deepEqual(bobRec.arrivals.map((m) => m.text), Array.from({ length: N }, (_, i) => `offline ${i + 1}`), 'exactly once, in order');
    const hb = await fullHistory(bob.node, conv);
    assert.equal(hb.length, N);
    assert.ok(hb.every((m) => m.author === alice.node.self.id && !m.mine));
    await waitFor('relay deleted what bob acked', async () => (await relay.status()).mailbox.items === 0);
    // The envelopes proved Alice's certificate: Bob could now seal a reply to her without the relay.
    assert.deepEqual(Buffer.from(bob.node.store.peerCertificate(alice.node.self.id)!), new X509Certificate(alice.node.identity.certPem).raw);

    // Bob again: nothing comes twice.
    await stop(bob);
    // Alice restarts while Bob is away and deposits her outbox again: the relay remembers
    // those IDs were delivered and stores nothing.
    alice = await start('alice', relay.url, aliceDir);
    await waitFor('alice re-offered her outbox', () => alice.relay.mailboxStats!.deposited === N, 30_000);
    assert.equal((await relay.status()).mailbox.items, 0);
    assert.ok((await fullHistory(alice.node, conv)).every((m) => m.state === 'stored'), 'still stored after her restart');
    await stop(alice);
    bob = await start('bob', relay.url, bobDir);
    const again = recorder(bob.node);
    await sleep(800);
    assert.equal(again.arrivals.length, 0, 'no second copy from the mailbox');

    // Both online: the outbox resends over a relayed link, Bob dedupes and acks, Alice learns "delivered".
    alice = await start('alice', relay.url, aliceDir);
    await waitFor('alice sees delivered', async () => (await fullHistory(alice.node, conv)).every((m) => m.state === 'delivered'), 30_000);
    assert.equal(alice.node.store.outboxCount(bobId), 0);
    assert.equal(again.arrivals.length, 0, 'still no duplicate');
    assert.equal((await fullHistory(bob.node, conv)).length, N);
    assert.equal(bob.relay.mailboxStats!.invalid, 0);
  });

  it('seals to the certificate the recipient proved on an earlier link, though the relay never saw the recipient', async () => {
    const aliceDir = tempDir();
    const bobDir = tempDir();
    // Alice and Bob met on the LAN: one direct link, no relay anywhere.
    let bobId: PeerId;
    {
      const a = await node('alice', aliceDir);
      const b = await node('bob', bobDir);
      bobId = b.self.id;
      try {
        await connect(a, b);
        await waitFor('alice remembers the certificate bob proved', () => a.store.peerCertificate(b.self.id));
        assert.deepEqual(Buffer.from(a.store.peerCertificate(b.self.id)!), new X509Certificate(b.identity.certPem).raw);
      } finally {
        await b.stop();
        await a.stop();
      }
    }

    // A relay that has never seen Bob: it could not hand out his certificate.
    const relay = await RelayProcess.start();
    relays.add(relay);
    let alice = await start('alice', relay.url, aliceDir);
    const conv = (await alice.node.api.call('openConversation', { peerId: bobId })).id;
    const texts = ['are you back?', 'the build is green', 'lunch at noon'];
    for (const text of texts) await alice.node.api.call('send', { convId: conv, text });
    await waitFor('deposited for bob', () => alice.relay.mailboxStats!.deposited === texts.length, 30_000);
    assert.equal((await relay.status()).mailbox.items, texts.length);
    await waitFor('alice sees them stored at the relay', async () => (await fullHistory(alice.node, conv)).every((m) => m.state === 'stored'));
    await stop(alice);

    // Bob joins the relay for the first time: the mailbox is his, and he can open it.
    const bob = await relayedNode('bob', relay.url, { dataDir: bobDir });
    nodes.add(bob);
    const bobRec = recorder(bob.node);
    await waitFor('bob got the mailbox', () => bobRec.arrivals.length >= texts.length, 30_000);
    assert.deepEqual(bobRec.arrivals.map((m) => m.text), texts);
    assert.equal(bob.relay.mailboxStats!.invalid, 0);

    // Both online: they link through the relay, Bob acks Alice's resends, and only now are they delivered.
    alice = await start('alice', relay.url, aliceDir);
    await waitFor('alice sees delivered', async () => (await fullHistory(alice.node, conv)).every((m) => m.state === 'delivered'), 30_000);
    assert.equal(alice.node.store.outboxCount(bobId), 0);
    assert.equal((await fullHistory(bob.node, conv)).length, texts.length, 'no duplicate at bob');
  });
});
