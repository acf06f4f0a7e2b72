// The core's settings: kept in the node's SQLite file across restarts, checked field by field
// with errors that name the field, applied at once (relays attach and detach, discovery moves
// to other interfaces, auto-away), overridden for one run by command-line options, and the
// relay token never handed back nor logged. Real nodes, a real relay, real TLS on loopback.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Presence, Settings } from '../../main/contract/contract.ts';
import { startNode, type NodeOptions, type ParleyNode } from '../../main/core/node.ts';
import type { RelayServer } from '../../relay/server.ts';
import { fastTiming, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { startRelay } from './relay-harness.ts';

const TOKEN = 'correct-horse-battery-staple';
const running = new Set<ParleyNode>();
const servers = new Set<RelayServer>();
/** Everything every node in this file logged, at debug level. */
const logLines: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

async function start(dataDir: string, opts: Partial<NodeOptions> = {}): Promise<ParleyNode> {
  const n = await startNode({ dataDir, name: 'Settler', port: 0, host: '127.0.0.1', timing: fastTiming, log, discovery: false, ...opts });
  running.add(n);
  return n;
}
async function stop(n: ParleyNode): Promise<void> {
  running.delete(n);
  await n.stop();
}
async function relay(token: string | null = TOKEN): Promise<RelayServer> {
  const s = await startRelay({ token });
  servers.add(s);
  return s;
}

after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
  await Promise.all([...servers].map((s) => s.stop()));
  removeTempDirs();
  assert.ok(logLines.length > 0, 'the capture logger saw the nodes');
  for (const line of logLines) assert.ok(!line.includes(TOKEN), `a log line carries the relay token: ${line.slice(0, 200)}`);
});

const DEFAULTS: Settings = {
  autoAwayMs: 600_000,
  notifications: { enabled: true, showPreview: true, mutedConversations: [] },
  relays: [],
  interfaces: [],
  downloadFolder: null,
  startAtLogin: false,
  autoAccept: { defaultMaxBytes: 0, peers: {} },
  overridden: [],
};

describe('settings', () => {
  it('start with defaults, and every field survives a restart', async () => {
    const dir = tempDir('parley-settings-');
    const downloads = path.join(dir, 'Downloads');
    const server = await relay();
    let n = await start(dir);
    assert.deepEqual(await n.api.call('getSettings', {}), DEFAULTS);

    const events: Settings[] = [];
    n.api.on('settings', (s) => events.push(s));
    const updated = await n.api.call('updateSettings', {
      autoAwayMs: 5 * 60_000,
      notifications: { enabled: false, showPreview: false, mutedConversations: ['d:one', 'd:two', 'd:one'] },
      relays: [{ address: server.url, token: TOKEN }],
      interfaces: ['eth0', ' wlan0 ', 'eth0'],
      downloadFolder: `${downloads}/`,
      startAtLogin: true,
    });
    const expected: Settings = {
      autoAwayMs: 300_000,
      notifications: { enabled: false, showPreview: false, mutedConversations: ['d:one', 'd:two'] },
      relays: [{ address: server.url, hasToken: true }],
      interfaces: ['eth0', 'wlan0'],
      downloadFolder: downloads,
      startAtLogin: true,
      autoAccept: { defaultMaxBytes: 0, peers: {} },
      overridden: [],
    };
    assert.deepEqual(updated, expected);
    assert.deepEqual(events, [expected], 'one settings event, with the whole settings');
    await waitFor('connected to the relay', async () => (await n.api.call('listRelays', {}))[0]?.state === 'connected');

    await stop(n);
    n = await start(dir);
    assert.deepEqual(await n.api.call('getSettings', {}), expected);
    // The stored token is used again: the relay lets us in.
    await waitFor('connected again after the restart', async () => (await n.api.call('listRelays', {}))[0]?.state === 'connected');
  });

  it('take partial updates: notification fields left out keep their value', async () => {
    const n = await start(tempDir('parley-settings-'));
    await n.api.call('updateSettings', { notifications: { mutedConversations: ['d:a'] } });
    const s = await n.api.call('updateSettings', { notifications: { showPreview: false } });
    assert.deepEqual(s.notifications, { enabled: true, showPreview: false, mutedConversations: ['d:a'] });
    const again = await n.api.call('updateSettings', { startAtLogin: false });
    assert.deepEqual(again.notifications, s.notifications);
  });

  it('refuse bad values with an error naming the field, and store nothing of a refused update', async () => {
    const dir = tempDir('parley-settings-');
    const aFile = path.join(dir, 'not-a-folder.txt');
    writeFileSync(aFile, 'x');
    const n = await start(dir);
    const goodId = n.self.id;
    const bad: Array<[unknown, RegExp]> = [
      [{ autoAwayMs: -1 }, /autoAwayMs/],
      [{ autoAwayMs: 1.5 }, /autoAwayMs/],
      [{ autoAwayMs: 25 * 3600_000 }, /autoAwayMs.*24 hours/],
      [{ notifications: { enabled: 'yes' } }, /notifications\.enabled/],
      [{ notifications: { sound: true } }, /notifications/],
      [{ notifications: { mutedConversations: [''] } }, /notifications\.mutedConversations\.0/],
      [{ relays: [{ address: 'http://relay.example:47480/' }] }, /relays\.0\.address expected parley-relay:/],
      [{ relays: [{ address: 'parley-relay://relay.example:47480/' }] }, /relays\.0\.address .*lacks \?id=/],
      [{ relays: [{ address: `parley-relay://relay.example/?id=${goodId}` }, { address: `parley-relay://relay.example:47480/?id=${goodId}` }] }, /relays\.1\.address this relay is listed twice/],
      [{ relays: [{ address: `parley-relay://r.example/?id=${goodId}`, token: 't'.repeat(201) }] }, /relays\.0\.token/],
      [{ relays: Array.from({ length: 17 }, (_, i) => ({ address: `parley-relay://r${i}.example/?id=${goodId}` })) }, /relays.*at most 16/],
      [{ interfaces: [''] }, /interfaces\.0/],
      [{ interfaces: ['eth\n0'] }, /interfaces\.0 not an interface name/],
      [{ downloadFolder: 'Downloads' }, /downloadFolder must be an absolute path/],
      [{ downloadFolder: aFile }, /downloadFolder exists but is not a folder/],
      [{ downloadFolder: '' }, /downloadFolder/],
      [{ startAtLogin: 'true' }, /startAtLogin/],
      [{ theme: 'dark' }, /theme|unrecognized/i],
      // One bad field sinks the whole update: startAtLogin is not stored either.
      [{ startAtLogin: true, downloadFolder: 'relative' }, /downloadFolder/],
    ];
    for (const [update, message] of bad) {
      await assert.rejects(n.api.call('updateSettings', update as never), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid-args', JSON.stringify(update).slice(0, 80));
        assert.match(err.message, message);
        return true;
      }, `accepted ${JSON.stringify(update).slice(0, 80)}`);
    }
    assert.deepEqual(await n.api.call('getSettings', {}), DEFAULTS);
  });

  it('normalise a download folder and accept one that does not exist yet', async () => {
    const dir = tempDir('parley-settings-');
    mkdirSync(path.join(dir, 'b'));
    const n = await start(dir);
    assert.equal((await n.api.call('updateSettings', { downloadFolder: `${dir}/a/../b//` })).downloadFolder, path.join(dir, 'b'));
    assert.equal((await n.api.call('updateSettings', { downloadFolder: `${dir}/later` })).downloadFolder, path.join(dir, 'later'));
    assert.equal((await n.api.call('updateSettings', { downloadFolder: null })).downloadFolder, null);
  });

  it('keep the rest when one stored field is damaged, and read the auto-away of older versions', async () => {
    const dir = tempDir('parley-settings-');
    let n = await start(dir);
    await n.api.call('updateSettings', { startAtLogin: true, interfaces: ['eth0'] });
    n.store.setMeta('settings.interfaces', '{not json');
    n.store.setMeta('profile.autoAwayMs', '120000');
    await stop(n);
    n = await start(dir);
    const s = await n.api.call('getSettings', {});
    assert.equal(s.startAtLogin, true);
    assert.deepEqual(s.interfaces, []);
    assert.equal(s.autoAwayMs, 120_000);
    assert.equal((await n.api.call('setAutoAway', { afterMs: 60_000 })).afterMs, 60_000);
    assert.equal((await n.api.call('getSettings', {})).autoAwayMs, 60_000);
  });
});

describe('relay settings', () => {
  it('attach and detach at once, say when the token is wrong, and never hand the token back', async () => {
    const server = await relay();
    const n = await start(tempDir('parley-settings-'));
    const events: unknown[] = [];
    n.api.on('settings', (s) => events.push(s));
    n.api.on('relay', (r) => events.push(r));

    await n.api.call('updateSettings', { relays: [{ address: server.url, token: 'wrong' }] });
    await waitFor('wrong token', async () => (await n.api.call('listRelays', {}))[0]?.state === 'wrong-token');

    const fixed = await n.api.call('updateSettings', { relays: [{ address: server.url, token: TOKEN }] });
    assert.deepEqual(fixed.relays, [{ address: server.url, hasToken: true }]);
    await waitFor('connected', async () => {
      const r = await n.api.call('listRelays', {});
      return r.length === 1 && r[0]!.state === 'connected';
    });

    // The UI sends the list back without tokens (it has none): the token stays.
    const again = await n.api.call('updateSettings', { relays: [{ address: server.url }] });
    assert.deepEqual(again.relays, [{ address: server.url, hasToken: true }]);
    assert.equal((await n.api.call('listRelays', {}))[0]?.state, 'connected', 'the same relay and token: not reconnected');

    const removed = await n.api.call('updateSettings', { relays: [] });
    assert.deepEqual(removed.relays, []);
    assert.deepEqual(await n.api.call('listRelays', {}), []);

    for (const e of events) assert.ok(!JSON.stringify(e).includes(TOKEN), 'an event carries the token');
    assert.ok(!JSON.stringify(await n.api.call('getSettings', {})).includes(TOKEN));
  });

  it('shows a relay that cannot be reached as unreachable', async () => {
    const n = await start(tempDir('parley-settings-'));
    // A valid address where nothing listens (port 9 on loopback: discard, closed here).
    await n.api.call('updateSettings', { relays: [{ address: `parley-relay://127.0.0.1:9/?id=${n.self.id}` }] });
    await waitFor('unreachable', async () => (await n.api.call('listRelays', {}))[0]?.state === 'unreachable', 15_000);
  });

  it('addRelay keeps the relay in the settings; a token null or empty removes it', async () => {
    const server = await relay(null);
    const dir = tempDir('parley-settings-');
    let n = await start(dir);
    await n.api.call('addRelay', { address: server.url, token: 'spare' });
    assert.deepEqual((await n.api.call('getSettings', {})).relays, [{ address: server.url, hasToken: true }]);
    await n.api.call('updateSettings', { relays: [{ address: server.url, token: '' }] });
    await stop(n);
    n = await start(dir);
    assert.deepEqual((await n.api.call('getSettings', {})).relays, [{ address: server.url, hasToken: false }]);
    await waitFor('connected without a token', async () => (await n.api.call('listRelays', {}))[0]?.state === 'connected');
    await assert.rejects(n.api.call('addRelay', { address: 'parley-relay://nowhere.example:1/' }), /lacks \?id=/);
  });
});

describe('command-line overrides', () => {
  it('win for one run without being stored, until the setting is changed', async () => {
    const server = await relay();
    const dir = tempDir('parley-settings-');
    let n = await start(dir);
    await n.api.call('updateSettings', { autoAwayMs: 60_000, interfaces: ['eth0'] });
    await stop(n);

    n = await start(dir, { autoAwayMs: 5000, relays: [{ address: server.url, token: TOKEN }], discovery: { mdns: false, beacon: false, interfaces: ['parley-test0'] } });
    let s = await n.api.call('getSettings', {});
    assert.equal(s.autoAwayMs, 5000);
    assert.deepEqual(s.relays, [{ address: server.url, hasToken: true }]);
    assert.deepEqual(s.interfaces, ['parley-test0']);
    assert.deepEqual(s.overridden.sort(), ['autoAwayMs', 'interfaces', 'relays']);
    await waitFor('connected via the --relay override', async () => (await n.api.call('listRelays', {}))[0]?.state === 'connected');
    // Changing one field takes it over from the flag; the others stay overridden and unstored.
    s = await n.api.call('updateSettings', { autoAwayMs: 90_000 });
    assert.deepEqual(s.overridden.sort(), ['interfaces', 'relays']);
    // Saving the flag's own value stores it too, and the UI hears that it is no longer a flag's.
    const events: Settings[] = [];
    n.api.on('settings', (e) => events.push(e));
    await n.api.call('updateSettings', { interfaces: ['parley-test0'] });
    assert.deepEqual(events.map((e) => e.overridden), [['relays']]);
    await stop(n);

    n = await start(dir);
    s = await n.api.call('getSettings', {});
    assert.equal(s.autoAwayMs, 90_000);
    assert.deepEqual(s.relays, []);
    assert.deepEqual(s.interfaces, ['parley-test0']);
    assert.deepEqual(s.overridden, []);
  });

  it('refuse to start with a bad --relay', async () => {
    await assert.rejects(start(tempDir('parley-settings-'), { relays: [{ address: 'parley-relay://h:1/' }] }), /relays\.0\.address/);
  });
});

describe('interface settings', () => {
  it('move discovery to the chosen interfaces at once, and back to all suitable ones', async () => {
    // Discovery on, but with neither beacons nor mDNS: nothing goes on the wire.
    const n = await start(tempDir('parley-settings-'), { discovery: { mdns: false, beacon: false } });
    const auto = (await n.api.call('diagnostics', {})).discovery.interfaces.map((i) => i.name);
    await n.api.call('updateSettings', { interfaces: ['parley-test0'] });
    let d = (await n.api.call('diagnostics', {})).discovery;
    assert.deepEqual(d.interfaces, []);
    assert.ok(d.skippedInterfaces.some((x) => x.name === 'parley-test0' && x.reason === 'not present'));
    await n.api.call('updateSettings', { interfaces: [] });
    d = (await n.api.call('diagnostics', {})).discovery;
    assert.deepEqual(
      d.interfaces.map((i) => i.name),
      auto,
    );
    assert.ok(!d.skippedInterfaces.some((x) => x.name === 'parley-test0'));
  });

  it('are listed by diagnostics even with discovery off, so that they can be chosen', async () => {
    const n = await start(tempDir('parley-settings-'));
    const d = (await n.api.call('diagnostics', {})).discovery;
    assert.equal(d.enabled, false);
    assert.ok(d.skippedInterfaces.length > 0);
    assert.ok(d.skippedInterfaces.some((x) => x.reason === 'loopback'));
  });
});

describe('auto-away', () => {
  async function presenceIs(n: ParleyNode, p: Presence): Promise<void> {
    await waitFor(`presence ${p}`, () => n.self.presence === p);
  }

  it('goes away after the idle time the host reports, and comes back on activity', async () => {
    const dir = tempDir('parley-settings-');
    let n = await start(dir);
    await n.api.call('updateSettings', { autoAwayMs: 300 });
    // No host has reported activity yet: a headless node never goes away by itself.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(n.self.presence, 'online');

    await n.api.call('reportActivity', { idleMs: 0 });
    await presenceIs(n, 'away');
    await n.api.call('reportActivity', { idleMs: 0 });
    assert.equal(n.self.presence, 'online');
    await presenceIs(n, 'away');

    // The automatic "away" is not what the person chose: after a restart it is "online".
    await stop(n);
    n = await start(dir);
    assert.equal(n.self.presence, 'online');
  });

  it('turned off, ends an automatic away at once; busy and a chosen away stay', async () => {
    const n = await start(tempDir('parley-settings-'));
    await n.api.call('updateSettings', { autoAwayMs: 200 });
    await n.api.call('reportActivity', { idleMs: 1000 });
    assert.equal(n.self.presence, 'away');
    await n.api.call('updateSettings', { autoAwayMs: 0 });
    assert.equal(n.self.presence, 'online');

    await n.api.call('setProfile', { presence: 'busy' });
    await n.api.call('updateSettings', { autoAwayMs: 200 });
    await n.api.call('reportActivity', { idleMs: 1000 });
    assert.equal(n.self.presence, 'busy');

    await n.api.call('setProfile', { presence: 'away' });
    await n.api.call('reportActivity', { idleMs: 0 });
    assert.equal(n.self.presence, 'away', 'activity does not undo an away the person chose');
  });
});
