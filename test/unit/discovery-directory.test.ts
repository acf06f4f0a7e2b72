import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import { PeerDirectory, type CandidateEvent, type DiscoveryWarning, type GoneEvent } from '../../main/core/discovery/directory.ts';
import type { Sighting } from '../../main/core/discovery/types.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';

const newId = (): PeerId => peerIdFromSpki(randomBytes(44));

let now = 1_000_000;
let selfId: PeerId;
let dir: PeerDirectory;
let candidates: CandidateEvent[];
let gone: GoneEvent[];
let warnings: DiscoveryWarning[];

function setup(opts: Partial<ConstructorParameters<typeof PeerDirectory>[0]> = {}): void {
  now = 1_000_000;
  selfId = newId();
  dir = new PeerDirectory({ selfId, now: () => now, warnAfterMs: 0, ...opts });
  candidates = [];
  gone = [];
  warnings = [];
  dir.on('candidate', (c) => candidates.push(c));
  dir.on('gone', (g) => gone.push(g));
  dir.on('warning', (w) => warnings.push(w));
}

function beacon(id: PeerId, from: string, over: Partial<Sighting> = {}): Sighting {
  return {
    source: 'beacon',
    id,
    from,
    port: 47900,
    claimed: [],
    hints: { name: 'Ada', presence: 'online', statusText: '' },
    instance: 'instanceA1',
    ...over,
  };
}

function mdns(id: PeerId, from: string, over: Partial<Sighting> = {}): Sighting {
  return { source: 'mdns', id, from, port: 47900, claimed: [], hints: { name: 'Ada' }, ...over };
}

describe('peer directory: discovering peers', () => {
  beforeEach(() => setup());

  it('reports a new peer once, with its name, presence and the packet source address first', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5', { claimed: ['10.9.9.9'] }));
    dir.sight(beacon(a, '10.0.0.5', { claimed: ['10.9.9.9'] }));
    assert.equal(candidates.length, 1);
    const c = candidates[0]!;
    assert.equal(c.change, 'new');
    assert.equal(c.id, a);
    assert.equal(c.name, 'Ada');
    assert.equal(c.presence, 'online');
    assert.deepEqual(
      c.addresses.map((x) => [x.address, x.observed, x.trusted]),
      [
        ['10.0.0.5', true, true],
        ['10.9.9.9', false, true],
      ],
    );
    assert.equal(c.warning, null);
  });

  it('reports changed hints and changed ports as candidate events', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(beacon(a, '10.0.0.5', { hints: { name: 'Ada', presence: 'away', statusText: 'brb' } }));
    assert.equal(candidates.at(-1)?.change, 'hints');
    assert.equal(candidates.at(-1)?.presence, 'away');
    dir.sight(beacon(a, '10.0.0.5', { port: 48000, hints: { name: 'Ada', presence: 'away', statusText: 'brb' } }));
    assert.equal(candidates.at(-1)?.change, 'addresses');
    assert.equal(candidates.at(-1)?.addresses[0]?.port, 48000);
  });

  it('merges beacon and mDNS sightings of one address into one candidate', () => {
    const a = newId();
    dir.sight(mdns(a, '10.0.0.5', { hints: { name: 'Ada Lovela' } }));
    dir.sight(beacon(a, '10.0.0.5', { hints: { name: 'Ada Lovelace', presence: 'busy', statusText: '' } }));
    const p = dir.get(a)!;
    assert.equal(p.addresses.length, 1);
    assert.deepEqual(p.addresses[0]!.sources, ['beacon', 'mdns']);
    assert.deepEqual(p.sources, ['beacon', 'mdns']);
    assert.equal(p.name, 'Ada Lovelace', 'the beacon carries the full name; mDNS instance names may be truncated');
  });

  it('treats a beacon from an address the owner listed for itself as the same peer (multi-homed hosts)', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5', { claimed: ['fe80::1'] }));
    dir.sight(beacon(a, 'fe80::1%eth0', { claimed: ['10.0.0.5'] }));
    assert.equal(warnings.length, 0);
    assert.equal(dir.get(a)!.addresses.every((x) => x.trusted), true);
  });
});

describe('peer directory: discovery is a hint, not proof', () => {
  beforeEach(() => setup());

  it('keeps the first announcer when another address claims the same ID, and warns', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5', { hints: { name: 'Ada', presence: 'online', statusText: '' } }));
    dir.sight(beacon(a, '10.0.0.66', { hints: { name: 'Mallory', presence: 'busy', statusText: 'pwned' }, instance: 'instanceM1' }));
    const p = dir.get(a)!;
    assert.equal(p.name, 'Ada');
    assert.equal(p.presence, 'online');
    assert.deepEqual(
      p.addresses.map((x) => [x.address, x.trusted]),
      [
        ['10.0.0.5', true],
        ['10.0.0.66', false],
      ],
    );
    assert.match(p.warning ?? '', /10\.0\.0\.66/);
    assert.equal(warnings.length, 1);
    assert.deepEqual({ id: warnings[0]!.id, address: warnings[0]!.address, reason: warnings[0]!.reason }, {
      id: a,
      address: '10.0.0.66',
      reason: 'conflicting-announcer',
    });
    assert.deepEqual(dir.warnings().map((w) => w.address), ['10.0.0.66']);
    assert.equal(gone.length, 0);
  });

  it('does not warn about an address the owner vouches for soon after (dual-stack address change)', () => {
    setup({ warnAfterMs: 1500 });
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5', { claimed: ['fe80::1'] }));
    now += 1000;
    dir.sight(beacon(a, '10.0.0.77', { claimed: ['fe80::1'] }));
    now += 200;
    dir.sight(beacon(a, 'fe80::1%eth0', { claimed: ['10.0.0.77'] }));
    now += 5000;
    dir.sweep();
    assert.equal(warnings.length, 0);
    assert.equal(dir.get(a)!.addresses.find((x) => x.address === '10.0.0.77')?.trusted, true);
  });

  it('reports a conflicting announcer once it persists past the grace period', () => {
    setup({ warnAfterMs: 1500 });
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(beacon(a, '10.0.0.66'));
    assert.equal(warnings.length, 0);
    now += 1000;
    dir.sweep();
    assert.equal(warnings.length, 0);
    now += 1000;
    dir.sweep();
    assert.deepEqual(warnings.map((w) => w.address), ['10.0.0.66']);
  });

  it('warns once per impostor address, not once per packet', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    for (let i = 0; i < 50; i++) dir.sight(beacon(a, '10.0.0.66'));
    assert.equal(warnings.length, 1);
  });

  it('ignores an impostor\u2019s goodbye for the real peer but drops the impostor\u2019s own claim', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(beacon(a, '10.0.0.66'));
    dir.goodbye({ source: 'beacon', id: a, from: '10.0.0.66', instance: 'instanceA1' });
    assert.equal(gone.length, 0);
    assert.deepEqual(dir.get(a)!.addresses.map((x) => x.address), ['10.0.0.5']);
    assert.equal(dir.get(a)!.warning, null);
  });

  it('keeps the real peer alive while an impostor keeps announcing after it', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    for (let t = 0; t < 60; t += 5) {
      now += 5000;
      dir.sight(beacon(a, '10.0.0.5'));
      dir.sight(beacon(a, '10.0.0.66', { hints: { name: 'Mallory' } }));
      dir.sweep();
    }
    assert.equal(dir.get(a)!.name, 'Ada');
    assert.equal(gone.length, 0);
  });

  it('warns when another device announces our own ID, and ignores our own echo', () => {
    dir.setLocalAddresses(['10.0.0.1']);
    dir.sight(mdns(selfId, '10.0.0.1'));
    assert.equal(warnings.length, 0);
    dir.sight(beacon(selfId, '10.0.0.77'));
    assert.equal(warnings[0]?.reason, 'own-id');
    assert.equal(dir.list().length, 0);
  });
});

describe('peer directory: leaving', () => {
  beforeEach(() => setup());

  it('reports gone at once on the owner\u2019s goodbye and ignores its stragglers', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(mdns(a, '10.0.0.5'));
    dir.goodbye({ source: 'beacon', id: a, from: '10.0.0.5', instance: 'instanceA1' });
    assert.deepEqual(gone.map((g) => [g.id, g.reason]), [[a, 'goodbye']]);
    dir.sight(mdns(a, '10.0.0.5'));
    dir.sight(beacon(a, '10.0.0.5'));
    assert.equal(dir.get(a), null, 'late packets of the stopped instance must not resurrect it');
    dir.sight(beacon(a, '10.0.0.5', { instance: 'instanceA2' }));
    assert.notEqual(dir.get(a), null, 'a restarted instance is welcome at once');
  });

  it('treats an mDNS goodbye as gone only when no other source still vouches for the peer', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(mdns(a, '10.0.0.5'));
    dir.goodbye({ source: 'mdns', id: a, from: '10.0.0.5' });
    assert.equal(gone.length, 0);
    assert.deepEqual(dir.get(a)!.sources, ['beacon']);
    const b = newId();
    dir.sight(mdns(b, '10.0.0.6'));
    dir.goodbye({ source: 'mdns', id: b, from: '10.0.0.6' });
    assert.deepEqual(gone.map((g) => g.id), [b]);
    dir.sight(mdns(b, '10.0.0.6', { hints: { name: 'Renamed' } }));
    assert.equal(dir.get(b)?.name, 'Renamed', 'a rename (goodbye, then the new name) is seen at once');
  });

  it('expires a peer about 16 s after its last beacon, and not before', () => {
    const a = newId();
    const b = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    dir.sight(beacon(b, '10.0.0.6'));
    for (let t = 0; t < 15; t++) {
      now += 1000;
      dir.sight(beacon(b, '10.0.0.6'));
      dir.sweep();
    }
    assert.equal(gone.length, 0);
    now += 2000;
    dir.sweep();
    assert.deepEqual(gone.map((g) => [g.id, g.reason]), [[a, 'expired']]);
    assert.notEqual(dir.get(b), null);
  });

  it('lets a remaining announcer take over once the first one has been silent long enough', () => {
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    for (let t = 0; t < 20; t++) {
      now += 1000;
      dir.sight(beacon(a, '10.0.0.99', { hints: { name: 'Ada (new address)' } }));
      dir.sweep();
    }
    const p = dir.get(a)!;
    assert.equal(gone.length, 0);
    assert.equal(p.name, 'Ada (new address)');
    assert.deepEqual(p.addresses.map((x) => [x.address, x.trusted]), [['10.0.0.99', true]]);
  });
});

describe('peer directory: bounded memory under a flood', () => {
  it('caps the table and never evicts known peers to make room', () => {
    setup({ maxPeers: 10, maxIdsPerSource: 1000 });
    const known = newId();
    dir.sight(beacon(known, '10.0.0.5'));
    for (let i = 0; i < 100; i++) dir.sight(beacon(newId(), `10.0.1.${i}`));
    assert.equal(dir.list().length, 10);
    assert.notEqual(dir.get(known), null);
    assert.equal(dir.stats().dropped.tableFull, 91);
  });

  it('limits how many IDs one address may announce, with one warning', () => {
    setup({ maxIdsPerSource: 4 });
    for (let i = 0; i < 100; i++) dir.sight(beacon(newId(), '10.0.0.66'));
    assert.equal(dir.list().length, 4);
    assert.equal(dir.stats().dropped.sourceLimit, 96);
    assert.deepEqual(warnings.map((w) => w.reason), ['source-id-limit']);
    const other = newId();
    dir.sight(beacon(other, '10.0.0.7'));
    assert.notEqual(dir.get(other), null, 'other addresses are not affected');
  });

  it('frees an address\u2019s ID quota when its claims expire', () => {
    setup({ maxIdsPerSource: 2 });
    dir.sight(beacon(newId(), '10.0.0.66'));
    dir.sight(beacon(newId(), '10.0.0.66'));
    now += 20_000;
    dir.sweep();
    const later = newId();
    dir.sight(beacon(later, '10.0.0.66'));
    assert.notEqual(dir.get(later), null);
  });

  it('caps the addresses per peer, preferring the owner\u2019s over impostors\u2019', () => {
    setup({ maxAddressesPerPeer: 3, maxIdsPerSource: 1000 });
    const a = newId();
    dir.sight(beacon(a, '10.0.0.5'));
    for (let i = 0; i < 10; i++) dir.sight(beacon(a, `10.0.2.${i}`));
    assert.equal(dir.get(a)!.addresses.length, 3);
    dir.sight(beacon(a, '10.0.0.5', { claimed: ['10.0.3.1'] }));
    const addrs = dir.get(a)!.addresses;
    assert.equal(addrs.length, 3);
    assert.deepEqual(addrs.filter((x) => x.trusted).map((x) => x.address), ['10.0.0.5', '10.0.3.1']);
  });

  it('keeps at most maxWarnings warnings', () => {
    setup({ maxWarnings: 5, maxIdsPerSource: 1000 });
    for (let i = 0; i < 20; i++) {
      const id = newId();
      dir.sight(beacon(id, '10.0.0.5'));
      dir.sight(beacon(id, '10.0.0.66'));
    }
    assert.equal(dir.warnings().length, 5);
    assert.equal(warnings.length, 20);
  });
});
