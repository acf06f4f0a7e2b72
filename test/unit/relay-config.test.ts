// Relay configuration and relay addresses: defaults, precedence, and clear errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { formatRelayAddress, parseRelayAddress, RelayAddressError } from '../../main/core/relay/address.ts';
import { displayId } from '../../main/core/identity/peer-id.ts';
import { ConfigError, loadConfig, parseConfig } from '../../relay/config.ts';
import { KeyedLimiter, TokenBucket } from '../../relay/rate-limit.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';

after(removeTempDirs);
const ID = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST';

describe('relay configuration', () => {
  it('has safe defaults: all interfaces on 47480, no token, loopback status, finite limits', () => {
    const c = parseConfig({ dataDir: '/tmp/x' });
    assert.equal(c.listen, '0.0.0.0:47480');
    assert.equal(c.token, null);
    assert.equal(c.statusListen, '127.0.0.1:0');
    assert.equal(c.limits.inviteTtlMs, 60_000);
    assert.ok(c.limits.maxSessions > 0 && c.limits.maxMembers > 0 && c.mailbox.quotaItems > 0);
    assert.equal(c.debug.tamper, null);
  });

  it('takes the file, then the environment token, then flags, merging limits key by key', () => {
    const dir = tempDir();
    const file = `${dir}/relay.json`;
    writeFileSync(file, JSON.stringify({ listen: '10.0.0.1:5000', limits: { maxMembers: 10, joinTimeoutMs: 1234 } }));
    const c = loadConfig({ file, flags: { listen: '127.0.0.1:6000', limits: { maxMembers: 20 } }, env: { PARLEY_RELAY_TOKEN: 'from-env' } });
    assert.equal(c.listen, '127.0.0.1:6000');
    assert.equal(c.token, 'from-env');
    assert.equal(c.limits.maxMembers, 20);
    assert.equal(c.limits.joinTimeoutMs, 1234);
    assert.equal(loadConfig({ flags: { token: 'flag' }, env: { PARLEY_RELAY_TOKEN: 'env' } }).token, 'flag');
  });

  it('rejects bad values with a message naming the key', () => {
    assert.throws(() => parseConfig({ listen: 'nowhere' }), (e: ConfigError) => /listen/.test(e.message));
    assert.throws(() => parseConfig({ listen: '1.2.3.4:70000' }), (e: ConfigError) => /port/.test(e.message));
    assert.throws(() => parseConfig({ limits: { maxMembers: -1 } }), (e: ConfigError) => /limits\.maxMembers/.test(e.message));
    assert.throws(() => parseConfig({ limits: { nonsense: 1 } }), ConfigError);
    assert.throws(() => parseConfig({ token: '' }), (e: ConfigError) => /token/.test(e.message));
    assert.throws(() => loadConfig({ file: '/nonexistent/relay.json', flags: {} }), (e: ConfigError) => /cannot read/.test(e.message));
    const dir = tempDir();
    writeFileSync(`${dir}/bad.json`, '{ not json');
    assert.throws(() => loadConfig({ file: `${dir}/bad.json`, flags: {} }), (e: ConfigError) => /not valid JSON/.test(e.message));
  });
});

describe('relay addresses', () => {
  it('round-trip, accept the display form of the ID, IPv6 hosts and a default port', () => {
    const a = parseRelayAddress(`parley-relay://relay.example.org:1234/?id=${ID}`);
    assert.deepEqual(a, { host: 'relay.example.org', port: 1234, id: ID });
    assert.deepEqual(parseRelayAddress(formatRelayAddress(a)), a);
    assert.equal(parseRelayAddress(`parley-relay://[fd00::1]:9/?id=${displayId(ID).toLowerCase()}`).host, 'fd00::1');
    assert.equal(parseRelayAddress(`parley-relay://h/?id=${ID}`).port, 47480);
    assert.equal(formatRelayAddress({ host: 'fd00::1', port: 9, id: ID }), `parley-relay://[fd00::1]:9/?id=${ID}`);
  });

  it('refuse addresses without the relay ID, with a bad ID, or of another scheme', () => {
    for (const bad of ['parley-relay://h:1/', `http://h:1/?id=${ID}`, 'parley-relay://h:1/?id=XYZ', 'not a url', `parley-relay://u:p@h:1/?id=${ID}`]) {
      assert.throws(() => parseRelayAddress(bad), RelayAddressError, bad);
    }
  });
});

describe('relay rate limits', () => {
  it('allow a burst, then the sustained rate', () => {
    const b = new TokenBucket(3, 1, 0);
    assert.deepEqual([b.tryTake(1, 0), b.tryTake(1, 0), b.tryTake(1, 0), b.tryTake(1, 0)], [true, true, true, false]);
    assert.equal(b.tryTake(1, 999), false);
    assert.equal(b.tryTake(1, 1000), true);
  });

  it('turn byte debt into a wait proportional to the overdraft', () => {
    const b = new TokenBucket(1000, 1000, 0);
    assert.equal(b.takeWithDebt(1000, 0), 0);
    assert.equal(b.takeWithDebt(500, 0), 500);
  });

  it('keep one bucket per key and forget full ones', () => {
    const l = new KeyedLimiter(1, 60);
    assert.equal(l.allow('a', 0), true);
    assert.equal(l.allow('a', 0), false);
    assert.equal(l.allow('b', 0), true);
    assert.equal(l.allow('a', 70_000), true);
    assert.ok(l.size <= 2);
    assert.equal(new KeyedLimiter(0, 0).allow('x'), true, 'zero means unlimited');
  });
});
