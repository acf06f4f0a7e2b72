// Nodes as separate OS processes (the headless CLI), talking over loopback TLS.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MessageInfo } from '../../main/contract/contract.ts';
import { CliNode } from '../helpers/cli-node.ts';
import { fastTiming, node, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const procs = new Set<CliNode>();
async function spawnNode(opts: Parameters<typeof CliNode.start>[0]) {
  const n = await CliNode.start({ timing: fastTiming, ...opts });
  procs.add(n);
  return n;
}
after(async () => {
  await Promise.all([...procs].map((p) => p.kill().catch(() => undefined)));
  removeTempDirs();
});

async function history(n: CliNode, convId: string): Promise<MessageInfo[]> {
  return n.call('history', { convId, limit: 500 });
}

describe('separate processes', () => {
  it('three processes chat pairwise with receipts and identical histories', async () => {
    const ps = [await spawnNode({ dataDir: tempDir(), name: 'p1' }), await spawnNode({ dataDir: tempDir(), name: 'p2' }), await spawnNode({ dataDir: tempDir(), name: 'p3' })];
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        const a = ps[i]!;
        const b = ps[j]!;
        await a.call('addPeer', { address: `127.0.0.1:${b.self.port}`, id: b.self.displayId });
        const conv = (await a.call('openConversation', { peerId: b.self.id })).id;
        const states = new Map<string, string>();
        a.on('message', (m) => m.mine && states.set(m.id, m.state));
        const sent = await a.call('send', { convId: conv, text: `from ${a.self.name}` });
        await waitFor('b has it', async () => (await b.call('listConversations', {})).some((c) => c.id === conv));
        const reply = await b.call('send', { convId: conv, text: `from ${b.self.name}` });
        await waitFor('a has reply', async () => (await history(a, conv)).some((m) => m.id === reply.id));
        await waitFor('delivered', () => states.get(sent.id) === 'delivered' || states.get(sent.id) === 'read');
        await b.call('markRead', { convId: conv, upTo: sent.id });
        await waitFor('read receipt', () => states.get(sent.id) === 'read');
        assert.deepEqual(
          (await history(a, conv)).map((m) => m.id),
          (await history(b, conv)).map((m) => m.id),
        );
      }
    }
  });

  it('keeps what it acked when killed with SIGKILL right after acking (20 rounds)', async () => {
    const alice = await node('alice');
    const bobDir = tempDir();
    let bob = await spawnNode({ dataDir: bobDir, name: 'bob' });
    const port = bob.self.port;
    const bobId = bob.self.id;
    await alice.api.call('addPeer', { address: `127.0.0.1:${port}`, id: bobId });
    const conv = (await alice.api.call('openConversation', { peerId: bobId })).id;
    const acked: string[] = [];
    let onAck: ((id: string) => void) | null = null;
    alice.api.on('message', (m) => {
      if (m.mine && m.state === 'delivered' && !acked.includes(m.id)) {
        acked.push(m.id);
        onAck?.(m.id);
      }
    });
    try {
      for (let round = 0; round < 20; round++) {
        const killed = new Promise<void>((resolve) => {
          onAck = () => {
            onAck = null;
            // The ack has reached the sender: kill the receiver before it can do anything else.
            void bob.kill().then(resolve);
          };
        });
        await alice.api.call('send', { convId: conv, text: `round ${round}` });
        await killed;
        procs.delete(bob);
        bob = await spawnNode({ dataDir: bobDir, name: 'bob', port });
        const h = await history(bob, conv);
        const ids = new Set(h.map((m) => m.id));
        for (const id of acked) assert.ok(ids.has(id), `acked message ${id} missing after SIGKILL (round ${round})`);
      }
      assert.equal(acked.length, 20);
    } finally {
      await alice.stop();
    }
  });

  it('delivers 1,000 messages queued by a sender process to a receiver process that comes back later', async () => {
    const aliceDir = tempDir();
    const bobDir = tempDir();
    let bob = await spawnNode({ dataDir: bobDir, name: 'bob' });
    const bobPort = bob.self.port;
    const bobId = bob.self.id;
    let alice = await spawnNode({ dataDir: aliceDir, name: 'alice' });
    await alice.call('addPeer', { address: `127.0.0.1:${bobPort}`, id: bobId });
    const conv = (await alice.call('openConversation', { peerId: bobId })).id;
    await bob.stop();
    procs.delete(bob);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => alice.call('send', { convId: conv, text: `m${i}` })));
    await alice.stop();
    procs.delete(alice);
    alice = await spawnNode({ dataDir: aliceDir, name: 'alice' });
    bob = await spawnNode({ dataDir: bobDir, name: 'bob', port: bobPort });
    await waitFor(
      'all 1,000 at bob',
      async () => {
        const page = await bob.call('history', { convId: conv, limit: 500 });
        return page.length === 500 && page.at(-1)?.text === 'm999';
      },
      60_000,
      200,
    );
    const all: MessageInfo[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await bob.call('history', before ? { convId: conv, before, limit: 500 } : { convId: conv, limit: 500 });
      all.unshift(...page);
      if (page.length < 500) break;
      before = page[0]!.id;
    }
    assert.deepEqual(all.map((m) => m.text), Array.from({ length: 1000 }, (_, i) => `m${i}`));
    await waitFor('alice sees all delivered', async () => (await alice.call('history', { convId: conv, limit: 500 })).every((m) => m.state === 'delivered'), 20_000, 200);
  });
});
