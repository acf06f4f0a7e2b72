import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { claimedAddresses } from '../../main/core/discovery/beacon.ts';
import {
  chooseInterfaces,
  directedBroadcast,
  interfaceForAddress,
  interfacesSignature,
  normalizeAddress,
  zoneFor,
  zoneForSender,
} from '../../main/core/discovery/interfaces.ts';
import { displayNameFromInstance, hostLabel, instanceName } from '../../main/core/discovery/mdns.ts';
import { SourceRateLimiter } from '../../main/core/discovery/rate-limit.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';

function v4(address: string, netmask = '255.255.255.0', internal = false): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: null };
}

function v6(address: string, scopeid = 2): NetworkInterfaceInfo {
  return { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: null, scopeid };
}

const machine = {
  lo: [v4('127.0.0.1', '255.0.0.0', true)],
  eth0: [v4('192.168.1.20'), v6('fe80::1')],
  wlan0: [v4('10.1.0.7', '255.255.0.0')],
  docker0: [v4('172.17.0.1', '255.255.0.0')],
  veth12ab: [v6('fe80::99')],
  wg0: [v4('10.200.0.2', '255.255.255.255')],
  'vEthernet (WSL)': [v4('172.30.0.1', '255.255.240.0')],
};

describe('choosing interfaces', () => {
  it('announces on real LAN adapters only, and says why it skipped the others', () => {
    const c = chooseInterfaces('auto', machine);
    assert.deepEqual(c.chosen.map((i) => i.name), ['eth0', 'wlan0']);
    const skipped = Object.fromEntries(c.skipped.map((s) => [s.name, s.reason]));
    assert.equal(skipped.lo, 'loopback');
    for (const name of ['docker0', 'veth12ab', 'wg0', 'vEthernet (WSL)']) assert.match(skipped[name] ?? '', /virtual adapter/);
  });

  it('uses a virtual adapter when the user names it, and reports names that do not exist', () => {
    const c = chooseInterfaces(['docker0', 'eth9'], machine);
    assert.deepEqual(c.chosen.map((i) => i.name), ['docker0']);
    assert.deepEqual(c.skipped, [{ name: 'eth9', reason: 'not present' }]);
  });

  it('computes directed broadcast addresses, with none for /31 and /32', () => {
    assert.equal(directedBroadcast('192.168.1.20', 24), '192.168.1.255');
    assert.equal(directedBroadcast('10.1.0.7', 16), '10.1.255.255');
    assert.equal(directedBroadcast('10.1.0.7', 31), null);
    assert.equal(directedBroadcast('10.200.0.2', 32), null);
    const c = chooseInterfaces(['wlan0', 'wg0'], machine);
    assert.deepEqual(
      c.chosen.map((i) => [i.name, i.ipv4[0]?.broadcast]),
      [
        ['wg0', null],
        ['wlan0', '10.1.255.255'],
      ],
    );
  });

  it('finds the interface a packet arrived on from its subnet or IPv6 zone', () => {
    const { chosen } = chooseInterfaces('auto', machine);
    assert.equal(interfaceForAddress(chosen, '192.168.1.99'), 'eth0');
    assert.equal(interfaceForAddress(chosen, '10.1.200.3'), 'wlan0');
    assert.equal(interfaceForAddress(chosen, 'fe80::5%eth0'), 'eth0');
    assert.equal(interfaceForAddress(chosen, '8.8.8.8'), null);
  });

  it('names IPv6 zones by interface name, and by numeric scope ID on Windows', () => {
    const eth0 = chooseInterfaces(['eth0'], machine).chosen[0]!;
    assert.equal(zoneFor(eth0, 'linux'), 'eth0');
    assert.equal(zoneFor(eth0, 'win32'), '2');
    const { chosen } = chooseInterfaces('auto', machine);
    assert.equal(zoneForSender(chosen, '192.168.1.77'), zoneFor(eth0));
    assert.equal(zoneForSender(chosen, 'fe80::5%eth0'), 'eth0');
    assert.equal(zoneForSender(chosen, '8.8.8.8'), null);
  });

  it('changes its signature when an address changes, and only then', () => {
    const a = interfacesSignature(chooseInterfaces('auto', machine).chosen);
    assert.equal(interfacesSignature(chooseInterfaces('auto', { ...machine }).chosen), a);
    const b = interfacesSignature(chooseInterfaces('auto', { ...machine, eth0: [v4('192.168.1.21')] }).chosen);
    assert.notEqual(a, b);
  });
});

describe('addresses an announcer claims', () => {
  it('drops loopback, unspecified, multicast and duplicate addresses and scopes link-local ones', () => {
    const list = ['127.0.0.1', '0.0.0.0', '::', '::1', '239.1.1.1', 'ff02::1', '10.0.0.5', '10.0.0.9', '10.0.0.9', 'fe80::7'];
    assert.deepEqual(claimedAddresses(list, '10.0.0.5', 'eth0'), ['10.0.0.9', 'fe80::7%eth0']);
  });

  it('drops link-local addresses when it cannot tell which interface they belong to', () => {
    assert.deepEqual(claimedAddresses(['fe80::7', '192.168.5.5'], '203.0.113.1', null), ['192.168.5.5']);
  });

  it('compares addresses without zones and IPv4-mapped wrapping', () => {
    assert.equal(normalizeAddress('FE80::1%eth0'), 'fe80::1');
    assert.equal(normalizeAddress('::ffff:10.0.0.5'), '10.0.0.5');
  });
});

describe('per-source rate limit', () => {
  it('allows a burst, then the steady rate, per source', () => {
    const rl = new SourceRateLimiter({ perSecond: 10, burst: 20, maxSources: 100 });
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (rl.allow('10.0.0.66', 0)) allowed++;
    assert.equal(allowed, 20);
    assert.equal(rl.allow('10.0.0.5', 0), true, 'another source has its own bucket');
    allowed = 0;
    for (let t = 10; t <= 1000; t += 10) if (rl.allow('10.0.0.66', t)) allowed++;
    assert.ok(allowed >= 9 && allowed <= 11, `about 10 per second, got ${allowed}`);
  });

  it('remembers a bounded number of sources', () => {
    const rl = new SourceRateLimiter({ perSecond: 10, burst: 20, maxSources: 50 });
    for (let i = 0; i < 10_000; i++) rl.allow(`10.0.${i >> 8}.${i & 255}`, i);
    assert.ok(rl.size <= 50);
  });
});

describe('mDNS names', () => {
  const id = peerIdFromSpki(randomBytes(44));

  it('builds "<display name>-<short id>" that fits a DNS label and reads back', () => {
    const n = instanceName('Ada Lovelace', id);
    assert.equal(n, `Ada Lovelace-${id.slice(0, 7)}`);
    assert.equal(displayNameFromInstance(n, id), 'Ada Lovelace');
  });

  it('keeps long and non-ASCII names within 63 bytes without splitting characters', () => {
    const n = instanceName('\u00C9'.repeat(64), id);
    assert.ok(Buffer.byteLength(n) <= 63);
    assert.ok(n.endsWith(`-${id.slice(0, 7)}`));
    assert.ok(!n.includes('\uFFFD'));
  });

  it('replaces dots and control characters, which DNS-SD instance names cannot carry here', () => {
    assert.equal(instanceName('a.b\u0007c', id), `a-b-c-${id.slice(0, 7)}`);
  });

  it('derives a hostname label, inventing one for localhost', () => {
    assert.equal(hostLabel('desk-01.example.com', id), 'desk-01');
    assert.equal(hostLabel('my_box', id), 'my-box');
    assert.equal(hostLabel('localhost', id), `parley-${id.slice(0, 7).toLowerCase()}`);
  });
});
