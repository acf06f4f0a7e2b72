// Reliable 1:1 messaging between real nodes in one process: real TLS on loopback, real
// SQLite files. Faults are injected on the wire by a TCP proxy, never by mocking.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { encodeFrame } from '../../main/core/protocol/codec.ts';
import { ALPN, CAPABILITIES, PROTOCOL_VERSION } from '../../main/core/protocol/frames.ts';
import type { MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { connect, fastTiming, fullHistory, node, nodePool, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { TcpProxy } from '../helpers/proxy.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const { running, start, stop, stopAll } = nodePool();
after(async () => {
  await stopAll();
  removeTempDirs();
});

const sameOrder = (h: MessageInfo[]) => h.map((m) => `${m.id}:${m.text}`);

/** Per-author sequence numbers appear in increasing order in the conversation. */
function assertPerAuthorOrder(history: MessageInfo[]) {
  const last = new Map<string, number>();
  for (const m of history) {
    assert.ok((last.get(m.author) ?? 0) < m.seq, `author ${m.author.slice(0, 7)} seq ${m.seq} out of order`);
    last.set(m.author, m.seq);
  }
}

describe('1:1 messaging', () => {
  it('delivers both ways with delivery and read receipts, and both histories are identical', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    const convA = await connect(alice, bob);
    const seenByBob = recorder(bob);
    const seenByAlice = recorder(alice);

    const m1 = await alice.api.call('send', { convId: convA, text: 'hello bob' });
    assert.equal(m1.state === 'pending' || m1.state === 'sent', true);
    await waitFor('bob receives', () => seenByBob.arrivals.length === 1);
    await waitFor('alice sees delivered', () => seenByAlice.byId.get(m1.id)?.state === 'delivered');

    const convB = (await bob.api.call('listConversations', {}))[0]!;
    assert.equal(convB.id, convA, 'both sides derive the same conversation ID');
    assert.equal(convB.unread, 1);
    const m2 = await bob.api.call('send', { convId: convB.id, text: 'hi alice' });
    await waitFor('alice receives', () => seenByAlice.arrivals.some((m) => m.id === m2.id));

    await bob.api.call('markRead', { convId: convB.id, upTo: m1.id });
    await waitFor('alice sees read', () => seenByAlice.byId.get(m1.id)?.state === 'read');
    assert.equal((await bob.api.call('listConversations', {}))[0]!.unread, 0);

    const ha = await fullHistory(alice, convA);
    const hb = await fullHistory(bob, convA);
    assert.deepEqual(sameOrder(ha), sameOrder(hb));
    assert.deepEqual(ha.map((m) => m.text), ['hello bob', 'hi alice']);
  });

  it('keeps three nodes in pairwise conversations with identical histories', async () => {
    const ns = [await start('n1'), await start('n2'), await start('n3')];
    const convs: Array<[ParleyNode, ParleyNode, string]> = [];
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) convs.push([ns[i]!, ns[j]!, await connect(ns[i]!, ns[j]!)]);
    for (const [a, b, conv] of convs) {
      await b.api.call('openConversation', { peerId: a.self.id });
      for (let k = 0; k < 20; k++) {
        await a.api.call('send', { convId: conv, text: `a${k}` });
        await b.api.call('send', { convId: conv, text: `b${k}` });
      }
    }
    for (const [a, b, conv] of convs) {
      await waitFor('all 40 on both sides', async () => (await fullHistory(a, conv)).length === 40 && (await fullHistory(b, conv)).length === 40);
      const ha = await fullHistory(a, conv);
      assert.deepEqual(sameOrder(ha), sameOrder(await fullHistory(b, conv)));
      assertPerAuthorOrder(ha);
      await waitFor('all delivered', async () => (await fullHistory(a, conv)).every((m) => m.state === 'delivered'));
    }
  });

  it('delivers 1,000 messages queued while the receiver was down, across a sender restart, exactly once and in order', async () => {
    const aliceDir = tempDir();
    const bobDir = tempDir();
    let alice = await start('alice', aliceDir);
    let bob = await start('bob', bobDir);
    const bobPort = bob.self.port;
    const conv = await connect(alice, bob);
    await waitFor('link', () => alice.links.get(bob.self.id));
    await stop(bob);
    for (let i = 0; i < 1000; i++) void alice.api.call('send', { convId: conv, text: `queued ${i}` });
    await waitFor('all stored', async () => (await fullHistory(alice, conv)).length === 1000);
    assert.equal(alice.store.outboxCount(), 1000);
    await stop(alice);

    alice = await start('alice', aliceDir);
    // Bob returns on the port Alice remembers.
    bob = await (async () => {
      const { startNode } = await import('../../main/core/node.ts');
      const { testLogger } = await import('../../main/core/log.ts');
      const n = await startNode({ dataDir: bobDir, port: bobPort, host: '127.0.0.1', timing: fastTiming, log: testLogger(), discovery: false });
      running.add(n);
      return n;
    })();
    await waitFor('outbox drained', () => alice.store.outboxCount() === 0, 30_000);
    const hb = await fullHistory(bob, conv);
    assert.equal(hb.length, 1000);
    assert.deepEqual(hb.map((m) => m.text), Array.from({ length: 1000 }, (_, i) => `queued ${i}`));
    assert.equal(new Set(hb.map((m) => m.id)).size, 1000);
    assert.ok((await fullHistory(alice, conv)).every((m) => m.state === 'delivered'));
  });

  it('loses nothing and duplicates nothing when 5,000 messages cross 50+ link kills', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: bob.self.port });
    const conv = await connect(alice, bob, proxy.address);
    await waitFor('link', () => alice.links.get(bob.self.id));
    await bob.api.call('openConversation', { peerId: alice.self.id });
    const received = { alice: recorder(alice), bob: recorder(bob) };

    let kills = 0;
    let sending = true;
    const giveUp = Date.now() + 120_000;
    const killer = (async () => {
      while ((sending || kills < 50) && Date.now() < giveUp) {
        await sleep(20 + Math.random() * 80);
        if (proxy.open > 0) {
          proxy.cut();
          kills++;
        }
      }
    })();
    const sends: Promise<MessageInfo>[] = [];
    for (let i = 0; i < 2500; i++) {
      sends.push(alice.api.call('send', { convId: conv, text: `a ${i}` }));
      sends.push(bob.api.call('send', { convId: conv, text: `b ${i}` }));
      if (i % 50 === 0) await sleep(10);
    }
    await Promise.all(sends);
    sending = false;
    await killer;
    await waitFor(
      'both outboxes drained',
      () => alice.store.outboxCount() === 0 && bob.store.outboxCount() === 0,
      60_000,
    );
    assert.ok(kills >= 50, `only ${kills} kills`);
    const ha = await fullHistory(alice, conv);
    const hb = await fullHistory(bob, conv);
    assert.equal(ha.length, 5000, 'alice has every message');
    assert.equal(hb.length, 5000, 'bob has every message');
    assert.equal(new Set(ha.map((m) => m.id)).size, 5000, 'no duplicates');
    assert.deepEqual(sameOrder(ha), sameOrder(hb), 'identical order on both sides');
    assertPerAuthorOrder(ha);
    assert.ok(ha.filter((m) => m.mine).every((m) => m.state === 'delivered'), 'every message of alice acked');
    assert.ok(hb.filter((m) => m.mine).every((m) => m.state === 'delivered'), 'every message of bob acked');
    assert.equal(received.bob.arrivals.length, 2500, 'bob was told about each message once');
    assert.equal(received.alice.arrivals.length, 2500);
    await proxy.close();
  });

  it('shows an undelivered message as overdue, and lets the sender retry or cancel it', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    const conv = await connect(alice, bob);
    await waitFor('link', () => alice.links.get(bob.self.id));
    const bobDir = bob.dataDir;
    const bobPort = bob.self.port;
    await stop(bob);
    const seen = recorder(alice);
    const keep = await alice.api.call('send', { convId: conv, text: 'keep me' });
    const drop = await alice.api.call('send', { convId: conv, text: 'cancel me' });
    await waitFor('overdue shown', () => seen.byId.get(keep.id)?.overdue === true, fastTiming.deliveryDeadlineMs + 6000);
    const canceled = await alice.api.call('cancel', { messageId: drop.id });
    assert.equal(canceled.state, 'canceled');
    const { startNode } = await import('../../main/core/node.ts');
    const { testLogger } = await import('../../main/core/log.ts');
    const bob2 = await startNode({ dataDir: bobDir, port: bobPort, host: '127.0.0.1', timing: { ...fastTiming, redialMinMs: 60_000 }, log: testLogger(), discovery: false });
    running.add(bob2);
    await alice.api.call('retry', { messageId: keep.id });
    await waitFor('delivered after retry', () => seen.byId.get(keep.id)?.state === 'delivered');
    const hb = await fullHistory(bob2, conv);
    assert.deepEqual(hb.map((m) => m.text), ['keep me']);
  });

  it('shows the peer typing, and stops showing it when told or when the link drops', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    const conv = await connect(alice, bob);
    await waitFor('link', () => alice.links.get(bob.self.id) && bob.links.get(alice.self.id));
    const seen: boolean[] = [];
    bob.api.on('typing', (t) => {
      assert.equal(t.peerId, alice.self.id);
      assert.equal(t.convId, conv);
      seen.push(t.typing);
    });
    await alice.api.call('setTyping', { convId: conv, typing: true });
    await waitFor('typing shown', () => seen.at(-1) === true);
    await alice.api.call('setTyping', { convId: conv, typing: false });
    await waitFor('typing hidden', () => seen.at(-1) === false);
    await alice.api.call('setTyping', { convId: conv, typing: true });
    await waitFor('typing shown again', () => seen.length === 3);
    alice.links.get(bob.self.id)!.destroy('cable pulled');
    await waitFor('typing hidden when the link drops', () => seen.length === 4 && seen[3] === false);
  });

  it('never shows a peer offline while one link replaces another', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    await connect(bob, alice);
    await waitFor('link', () => alice.links.get(bob.self.id) && bob.links.get(alice.self.id));
    const seen: string[] = [];
    alice.api.on('peer', (p) => p.id === bob.self.id && seen.push(p.presence));
    const first = alice.links.get(bob.self.id)!;
    // A second connection from Bob's identity (same dialer): Alice keeps the newer one.
    const s = tls.connect({ host: '127.0.0.1', port: alice.self.port, key: bob.identity.keyPem, cert: bob.identity.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
    await new Promise((r) => s.once('secureConnect', r));
    s.on('error', () => undefined);
    s.resume();
    s.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, min: 1, id: bob.self.id, name: 'bob', presence: 'online', statusText: '', caps: [...CAPABILITIES], instance: 'second-connection' }));
    await waitFor('replaced', () => first.closed && alice.links.get(bob.self.id) && alice.links.get(bob.self.id) !== first);
    await sleep(200);
    s.destroy();
    assert.ok(seen.length > 0, 'the replacement was announced');
    assert.ok(!seen.includes('offline'), `peer events during replacement: ${seen.join(',')}`);
  });

  it('stops cleanly with work still queued: queued sends fail with a reason, nothing touches the closed database', async () => {
    const alice = await start('alice');
    const bob = await start('bob');
    const conv = await connect(alice, bob);
    await waitFor('link', () => alice.links.get(bob.self.id));
    const sends = Array.from({ length: 50 }, (_, i) => alice.api.call('send', { convId: conv, text: `last words ${i}` }).then(() => 'ok', (e: Error) => e.message));
    await stop(alice);
    const outcomes = await Promise.all(sends);
    assert.ok(outcomes.every((o) => o === 'ok' || /shutting down/.test(o)), JSON.stringify(outcomes.slice(0, 3)));
    await new Promise((r) => setTimeout(r, 100));
  });

  it('rejects arguments that break the contract before they reach the core', async () => {
    const alice = await start('alice');
    await assert.rejects(alice.api.call('send', { convId: '', text: 'x' }), /invalid|too_small|convId/i);
    await assert.rejects(alice.api.call('send', { convId: 'nope', text: 'x' }), /no such conversation/);
    await assert.rejects(alice.api.call('addPeer', { address: 'nowhere', id: 'A'.repeat(52) }), /host:port/);
    await assert.rejects(alice.api.call('history', { convId: 'x', limit: 100000 }), /limit/);
  });
});
