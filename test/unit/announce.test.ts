// Which listening addresses a node announces in its Hello, and which announced addresses a
// receiver is willing to dial (main/core/links/announce.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChosenInterface } from '../../main/core/discovery/interfaces.ts';
import { isAnnouncedAddress } from '../../main/core/links/address.ts';
import { addressesToAnnounce, dialableAnnounced } from '../../main/core/links/announce.ts';
import { HelloFrame, MAX_HELLO_ADDRS } from '../../main/core/protocol/frames.ts';

const iface = (name: string, v4: string[], v6: Array<[string, boolean]> = []): ChosenInterface => ({
  name,
  ipv4: v4.map((address) => ({ address, netmask: '255.255.255.0', prefix: 24, broadcast: null })),
  ipv6: v6.map(([address, linkLocal]) => ({ address, scopeid: linkLocal ? 2 : 0, linkLocal })),
});

describe('announced address syntax', () => {
  it('is an IP literal and a port, exactly as formatAddress writes it', () => {
    for (const ok of ['10.1.0.10:47474', '[2001:db8::a]:1', '192.168.1.5:65535']) assert.ok(isAnnouncedAddress(ok), ok);
    for (const bad of [
      'alice.example:47474', // a DNS name: the receiver would resolve what a peer chose
      'localhost:47474',
      '2001:db8::a:47474', // IPv6 without brackets is ambiguous
      '[fe80::1%eth0]:47474', // a zone means nothing on another host
      '[::ffff:10.1.0.10]:47474',
      '[10.1.0.10]:47474',
      '10.1.0.10:0',
      '10.1.0.10:047474',
      '10.1.0.10:65536',
      ' 10.1.0.10:47474',
      '10.1.0.10',
      '999.1.0.10:47474',
    ]) {
      assert.ok(!isAnnouncedAddress(bad), bad);
    }
  });

  it('is enforced by the Hello schema, with at most 16 entries', () => {
    const hello = { t: 'hello', v: 1, min: 1, id: 'A'.repeat(52), name: 'a', presence: 'online', statusText: '', caps: [], instance: '12345678' };
    assert.ok(HelloFrame.safeParse({ ...hello, addrs: ['10.1.0.10:1', '[2001:db8::a]:2'] }).success);
    assert.ok(HelloFrame.safeParse(hello).success, 'addrs is optional');
    assert.ok(!HelloFrame.safeParse({ ...hello, addrs: ['alice.example:1'] }).success);
    const many = Array.from({ length: MAX_HELLO_ADDRS + 1 }, (_, i) => `10.1.0.${i + 1}:1`);
    assert.ok(HelloFrame.safeParse({ ...hello, addrs: many.slice(0, MAX_HELLO_ADDRS) }).success);
    assert.ok(!HelloFrame.safeParse({ ...hello, addrs: many }).success);
  });
});

describe('addresses a node announces', () => {
  const available = [
    iface('eth0', ['10.1.0.10'], [['fe80::1', true], ['2001:DB8::10', false]]),
    iface('wlan0', ['192.168.7.3', '127.0.0.2']),
  ];

  it('are the chosen interfaces\' addresses with the listening port, minus link-local IPv6 and loopback', () => {
    assert.deepEqual(addressesToAnnounce({ port: 47474, interfaces: [], available }), [
      '10.1.0.10:47474',
      '[2001:db8::10]:47474',
      '192.168.7.3:47474',
    ]);
  });

  it('are only the listening address when the listener is bound to one', () => {
    assert.deepEqual(addressesToAnnounce({ port: 5000, host: '10.1.0.10', interfaces: [], available }), ['10.1.0.10:5000']);
    assert.deepEqual(addressesToAnnounce({ port: 5000, host: '0.0.0.0', interfaces: [], available }).length, 3, 'unspecified means all');
    assert.deepEqual(addressesToAnnounce({ port: 5000, host: '127.0.0.1', interfaces: [], available }), [], 'loopback reaches no peer');
    assert.deepEqual(addressesToAnnounce({ port: 5000, host: 'localhost', interfaces: [], available }), [], 'never a name');
  });

  it('are none without a listening port, and never more than a Hello carries', () => {
    assert.deepEqual(addressesToAnnounce({ port: 0, interfaces: [], available }), []);
    const crowded = [iface('eth0', Array.from({ length: 40 }, (_, i) => `10.9.0.${i + 1}`))];
    assert.equal(addressesToAnnounce({ port: 1, interfaces: [], available: crowded }).length, MAX_HELLO_ADDRS);
  });
});

describe("a peer's announced addresses worth dialing", () => {
  it('drop what reaches nobody else and my own listener, and normalise the rest', () => {
    const announced = [
      '10.2.0.10:47474',
      '127.0.0.1:47474',
      '[::1]:47474',
      '0.0.0.0:47474',
      '[::]:47474',
      '224.0.0.251:47474',
      '255.255.255.255:47474',
      '[ff02::1]:47474',
      '[fe80::1]:47474',
      '[2001:DB8::20]:47474',
      '10.1.0.10:47474', // my own listener: dialing it would be dialing myself
      '10.1.0.10:47475', // another node on my host is fine
      '10.2.0.10:47474',
    ];
    assert.deepEqual(dialableAnnounced(announced, ['10.1.0.10:47474']), ['10.2.0.10:47474', '[2001:db8::20]:47474', '10.1.0.10:47475']);
  });

  it('ignore malformed entries and look at no more than a Hello may carry', () => {
    assert.deepEqual(dialableAnnounced(['alice.example:1', '10.2.0.10:1'], []), ['10.2.0.10:1']);
    const many = Array.from({ length: 40 }, (_, i) => `10.2.0.${i + 1}:1`);
    assert.equal(dialableAnnounced(many, []).length, MAX_HELLO_ADDRS);
  });
});
