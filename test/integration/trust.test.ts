// Verified IDs and the key-change warning between real nodes: real TLS on loopback, real
// SQLite files, a real relay. A "reinstalled" colleague is a second node with a fresh data
// directory (so a new key, so a new ID) and the same display name.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import os from 'node:os';
import { after, describe, it } from 'node:test';
import type { PeerId, PeerInfo } from '../../main/contract/contract.ts';
import { encodeBeacon } from '../../main/core/discovery/beacon-packet.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';
import type { RelayServer } from '../../relay/server.ts';
import { connect, fastTiming, node, nodePool, recorder, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { startRelay } from './relay-harness.ts';

const { running, start, stop, stopAll } = nodePool();
const servers = new Set<RelayServer>();
after(async () => {
  await stopAll();
  await Promise.all([...servers].map((s) => s.stop()));
  removeTempDirs();
});

async function peerOf(n: ParleyNode, id: PeerId): Promise<PeerInfo | undefined> {
  return (await n.api.call('listPeers', {})).find((p) => p.id === id);
}

/** `a` and `b` linked, and one message from `a` delivered: `b` is now someone `a` talked to. */
async function talk(a: ParleyNode, b: ParleyNode): Promise<void> {
  const conv = await connect(a, b);
  const rec = recorder(a);
  const m = await a.api.call('send', { convId: conv, text: 'hi' });
  await waitFor('delivered', () => rec.byId.get(m.id)?.state === 'delivered');
}

/** `newcomer` dials `a`, so `a` learns its ID and name from its Hello. */
async function appear(a: ParleyNode, newcomer: ParleyNode): Promise<PeerInfo> {
  await newcomer.api.call('addPeer', { address: `127.0.0.1:${a.self.port}`, id: a.self.id });
  return waitFor('the newcomer is linked, on both sides', async () => {
    const p = await peerOf(a, newcomer.self.id);
    // Both: a profile change made before the dialer has the link would not reach `a` until the next one.
    return p?.link && newcomer.links.get(a.self.id) ? p : undefined;
  });
}

describe('the key-change warning', () => {
  it('flags a new ID that carries the name of a contact we talked to, and names that contact', async () => {
    const alice = await start('Alice');
    const bob = await start('Bob');
    await talk(alice, bob);
    const events: PeerInfo[] = [];
    alice.api.on('peer', (p) => events.push(p));

    // Bob "reinstalled": fresh data directory, new key, same name (spelled a little differently).
    const bob2 = await start('  BOB ');
    const seen = await appear(alice, bob2);
    assert.deepEqual(seen.keyChange, { previousId: bob.self.id, previousName: 'Bob', verifiedBefore: false });
    assert.equal(seen.verified, false);
    assert.ok(events.some((e) => e.id === bob2.self.id && e.keyChange?.previousId === bob.self.id), 'the UI is told at once');
    // The contact itself is untouched, and reconnecting under its own name never flags it.
    assert.equal((await peerOf(alice, bob.self.id))?.keyChange, null);
    await stop(bob);
    const bobAgain = await start('Bob', bob.dataDir);
    await waitFor('bob is back', async () => (await peerOf(alice, bob.self.id))?.link);
    assert.equal((await peerOf(alice, bobAgain.self.id))?.keyChange, null);
  });

  it('leaves a same-named stranger alone; a verified contact counts even without messages', async () => {
    const alice = await start('Alice');
    const carol = await start('Carol');
    await connect(alice, carol);
    await waitFor('carol linked', async () => (await peerOf(alice, carol.self.id))?.link);

    // Never talked to, never verified: a second "Carol" is just another Carol.
    const carol2 = await start('Carol');
    assert.equal((await appear(alice, carol2)).keyChange, null);

    const verified = await alice.api.call('setVerified', { peerId: carol.self.id, verified: true });
    assert.equal(verified.verified, true);
    const carol3 = await start('carol');
    assert.deepEqual((await appear(alice, carol3)).keyChange, { previousId: carol.self.id, previousName: 'Carol', verifiedBefore: true });
    // Flags are raised when a name is learned, not retroactively.
    assert.equal((await peerOf(alice, carol2.self.id))?.keyChange, null);
  });

  it('flags a known peer that renames itself to a contact’s name', async () => {
    const alice = await start('Alice');
    const bob = await start('Bob');
    await talk(alice, bob);
    const dave = await start('Dave');
    assert.equal((await appear(alice, dave)).keyChange, null);

    await dave.api.call('setProfile', { name: 'Bob' });
    const flagged = await waitFor('dave flagged', async () => (await peerOf(alice, dave.self.id))?.keyChange);
    assert.deepEqual(flagged, { previousId: bob.self.id, previousName: 'Bob', verifiedBefore: false });
  });

  it('is cleared by verifying the new ID or by dismissing it, and what was decided survives a restart', async () => {
    const aliceDir = tempDir();
    let alice = await start('Alice', aliceDir);
    const bob = await start('Bob');
    await talk(alice, bob);
    const bob2 = await start('Bob');
    const bob3 = await start('Bob');
    const bob4 = await start('Bob');
    for (const b of [bob2, bob3, bob4]) assert.ok((await appear(alice, b)).keyChange);

    const v = await alice.api.call('setVerified', { peerId: bob2.self.id, verified: true });
    assert.equal(v.verified, true);
    assert.equal(v.keyChange, null, 'verifying is the answer the warning asks for');
    const d = await alice.api.call('dismissKeyChange', { peerId: bob3.self.id });
    assert.equal(d.keyChange, null);
    assert.equal(d.verified, false);

    await stop(alice);
    alice = await start('Alice', aliceDir);
    // They all reconnect (alice redials known peers) under the same name: nothing is re-raised.
    for (const b of [bob2, bob3, bob4]) await waitFor('reconnected', async () => (await peerOf(alice, b.self.id))?.link);
    assert.equal((await peerOf(alice, bob2.self.id))?.verified, true);
    assert.equal((await peerOf(alice, bob2.self.id))?.keyChange, null);
    assert.equal((await peerOf(alice, bob3.self.id))?.keyChange, null);
    assert.equal((await peerOf(alice, bob4.self.id))?.keyChange?.previousId, bob.self.id, 'an unanswered warning stays');

    // Taking verification back does not bring the warning back.
    const u = await alice.api.call('setVerified', { peerId: bob2.self.id, verified: false });
    assert.equal(u.verified, false);
    assert.equal(u.keyChange, null);
    await stop(alice);
    alice = await start('Alice', aliceDir);
    assert.equal((await peerOf(alice, bob2.self.id))?.verified, false);
  });

  it('refuses to verify myself, an unknown peer or a malformed ID', async () => {
    const alice = await start('Alice');
    await assert.rejects(alice.api.call('setVerified', { peerId: alice.self.id, verified: true }), /own ID/);
    await assert.rejects(alice.api.call('setVerified', { peerId: 'Z'.repeat(52), verified: true }), /no such peer/);
    await assert.rejects(alice.api.call('setVerified', { peerId: 'not-an-id', verified: true } as never), /peerId/);
    await assert.rejects(alice.api.call('dismissKeyChange', { peerId: 'Z'.repeat(52) }), /no such peer/);
  });
});

describe('peers known through a relay', () => {
  it('are seen via the relay, and a newcomer in its directory with a contact’s name is flagged', async () => {
    const server = await startRelay();
    servers.add(server);
    const alice = await start('Alice');
    const bob = await start('Bob');
    alice.addRelay(server.url);
    bob.addRelay(server.url);
    const viaRelay = await waitFor('bob in the directory', async () => {
      const p = await peerOf(alice, bob.self.id);
      return p?.seenVia === 'relay' ? p : undefined;
    });
    assert.equal(viaRelay.link, null);
    assert.equal(viaRelay.presence, 'online', 'the relay vouches for presence');

    const conv = (await alice.api.call('openConversation', { peerId: bob.self.id })).id;
    const rec = recorder(alice);
    const m = await alice.api.call('send', { convId: conv, text: 'through the relay' });
    await waitFor('delivered', () => rec.byId.get(m.id)?.state === 'delivered', 20_000);
    assert.equal((await peerOf(alice, bob.self.id))?.link, 'relay');

    const bob2 = await start('Bob');
    bob2.addRelay(server.url);
    const flagged = await waitFor('the newcomer is flagged', async () => (await peerOf(alice, bob2.self.id))?.keyChange);
    assert.deepEqual(flagged, { previousId: bob.self.id, previousName: 'Bob', verifiedBefore: false });

    // Gone from the relay: no longer seen anywhere, and the UI is told.
    const events: PeerInfo[] = [];
    alice.api.on('peer', (p) => events.push(p));
    await stop(bob2);
    await waitFor('bob2 left', () => events.some((e) => e.id === bob2.self.id && e.seenVia === null && e.presence === 'offline'));
  });
});

/** A non-loopback IPv4 interface that LAN discovery may announce on, if this machine has one. */
function lanInterface(): { name: string; address: string } | null {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    const a = addrs?.find((x) => x.family === 'IPv4' && !x.internal);
    if (a && !/^(docker|veth|virbr|vmnet|tun|wg|br-)/.test(name)) return { name, address: a.address };
  }
  return null;
}

async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  await new Promise<void>((r) => sock.close(() => r()));
  return port;
}

const lan = lanInterface();

describe('peers only discovered on the LAN', { skip: lan ? false : 'no non-loopback IPv4 interface to run beacons on' }, () => {
  it('flags an unproven candidate carrying a contact’s name; it can be dismissed, or verified and kept', async () => {
    const beaconPort = await freeUdpPort();
    const alice = await startNode({
      dataDir: tempDir(),
      name: 'Alice',
      port: 0,
      timing: fastTiming,
      log: testLogger('alice'),
      discovery: { mdns: false, beacon: true, beaconPort, interfaces: [lan!.name] },
    });
    running.add(alice);
    const bob = await start('Bob');
    await talk(alice, bob);

    // Beacons claiming fresh IDs named "bob", pointing at a port where nothing answers: the
    // IDs are never proven, so they stay discovery candidates.
    const forger = createSocket('udp4');
    await new Promise<void>((r) => forger.bind(0, r));
    const forged = [peerIdFromSpki(randomBytes(44)), peerIdFromSpki(randomBytes(44))];
    const announce = (id: PeerId) =>
      forger.send(encodeBeacon({ t: 'hello', id, instance: randomBytes(9).toString('base64url'), port: 9, name: 'bob', presence: 'online', statusText: '' }), beaconPort, lan!.address);
    try {
      for (const id of forged) announce(id);
      const [first, second] = await waitFor('both candidates flagged', async () => {
        const peers = await alice.api.call('listPeers', {});
        const found = forged.map((id) => peers.find((p) => p.id === id));
        return found.every((p) => p?.keyChange) ? found : undefined;
      });
      assert.deepEqual(first!.keyChange, { previousId: bob.self.id, previousName: 'Bob', verifiedBefore: false });
      assert.deepEqual([first!.seenVia, first!.link, first!.verified], ['lan', null, false]);
      assert.equal(alice.store.getPeer(forged[0]!), undefined, 'an unproven candidate is not stored');

      const dismissed = await alice.api.call('dismissKeyChange', { peerId: forged[0]! });
      assert.equal(dismissed.keyChange, null);
      announce(forged[0]!);
      const verified = await alice.api.call('setVerified', { peerId: second!.id, verified: true });
      assert.deepEqual([verified.verified, verified.keyChange], [true, null]);
      assert.equal(alice.store.getPeer(second!.id)?.name, 'bob', 'vouched for by the person: now remembered');
      const after = await alice.api.call('listPeers', {});
      assert.equal(after.find((p) => p.id === forged[0])?.keyChange, null, 'a dismissed warning does not come back with the next beacon');
    } finally {
      forger.close();
    }
  });
});
