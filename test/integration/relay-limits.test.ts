// The relay's limits and the mechanics of sessions, on real sockets against a relay in this
// process (so tests can read its counters and set tight limits): rate limits, caps answered
// with 'full', single-use and expiring keys, bandwidth caps, idle timeouts, sessions ending
// with their member, and the capture hook that the opacity test relies on.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { connect as netConnect } from 'node:net';
import { after, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { testLogger } from '../../main/core/log.ts';
import { RelayClient } from '../../main/core/relay/client.ts';
import { DATA_MAGIC, DATA_REPLY, DATA_REPLY_TAG, type RelayFrameOf } from '../../main/core/relay/frames.ts';
import { openDataConnection, TunnelError } from '../../main/core/relay/tunnel.ts';
import type { RelayServer } from '../../relay/server.ts';
import { removeTempDirs } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { fastClientTiming, startRelay } from './relay-harness.ts';

const servers = new Set<RelayServer>();
const clients = new Set<RelayClient>();
after(async () => {
  await Promise.all([...clients].map((c) => c.stop()));
  await Promise.all([...servers].map((s) => s.stop()));
  removeTempDirs();
});

// Key generation is the slow part of these tests: a few identities serve them all.
const ids: Identity[] = [generateIdentity(), generateIdentity(), generateIdentity()];

async function relay(overrides: Parameters<typeof startRelay>[0] = {}, capture?: Parameters<typeof startRelay>[1]) {
  const s = await startRelay(overrides, capture);
  servers.add(s);
  return s;
}

async function member(server: RelayServer, identity: Identity): Promise<RelayClient & { invites: Array<RelayFrameOf<'invite'>>; failures: string[] }> {
  const c = new RelayClient({
    address: server.url,
    identity,
    profile: () => ({ name: identity.id.slice(0, 5), presence: 'online' }),
    timing: fastClientTiming,
    log: testLogger('member'),
  }) as RelayClient & { invites: Array<RelayFrameOf<'invite'>>; failures: string[] };
  c.invites = [];
  c.failures = [];
  c.on('invite', (i) => c.invites.push(i));
  c.on('connectFailed', (_p, reason) => c.failures.push(reason));
  clients.add(c);
  c.start();
  await waitFor('joined', () => c.status.state === 'connected');
  return c;
}

/** Raw tunnel between two members: both data connections, paired, as plain sockets. */
async function rawTunnel(server: RelayServer, a: RelayClient & { invites: Array<RelayFrameOf<'invite'>> }, b: typeof a, bId: PeerId) {
  const na = a.invites.length;
  const nb = b.invites.length;
  await waitFor('b in a directory', () => a.member(bId));
  assert.ok(a.requestTunnel(bId));
  await waitFor('invites', () => a.invites.length > na && b.invites.length > nb);
  const ia = a.invites[a.invites.length - 1]!;
  const ib = b.invites[b.invites.length - 1]!;
  assert.equal(ia.server, false);
  assert.equal(ib.server, true);
  assert.notDeepEqual(Buffer.from(ia.key), Buffer.from(ib.key), 'each side gets its own key');
  const [sa, sb] = await Promise.all([
    openDataConnection({ host: '127.0.0.1', port: server.port, key: ia.key, timeoutMs: 3000 }),
    openDataConnection({ host: '127.0.0.1', port: server.port, key: ib.key, timeoutMs: 3000 }),
  ]);
  sa.resume();
  sb.resume();
  // The relay ends sessions by closing (or resetting) the data connections: that is the
  // behaviour under test, not an error of the test.
  sa.on('error', () => undefined);
  sb.on('error', () => undefined);
  return { sa, sb, ia, ib };
}

const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('relay limits and sessions', () => {
  it('refuses new connections from an IP over its rate, and counts them', async () => {
    const server = await relay({ limits: { perIpBurst: 3, perIpPerMinute: 1 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = netConnect(server.port, '127.0.0.1');
      s.on('error', () => undefined);
      // A rate-limited connection is dropped at once; an accepted one waits for its first bytes.
      const r = await Promise.race([closed(s).then(() => 'dropped'), sleep(600).then(() => 'open')]);
      outcomes.push(r);
      s.destroy();
    }
    assert.deepEqual(outcomes, ['open', 'open', 'open', 'dropped', 'dropped', 'dropped']);
    assert.equal(server.snapshot().rejected.rate, 3);
  });

  it('answers full when the session cap is reached, and when the member cap is reached', async () => {
    const server = await relay({ limits: { maxSessions: 1, maxMembers: 2 } });
    const a = await member(server, ids[0]!);
    const b = await member(server, ids[1]!);
    await rawTunnel(server, a, b, ids[1]!.id);
    assert.ok(a.requestTunnel(ids[1]!.id));
    await waitFor('second tunnel refused', () => a.failures.includes('full'));
    const c = new RelayClient({ address: server.url, identity: ids[2]!, profile: () => ({ name: 'c', presence: 'online' }), timing: fastClientTiming, log: testLogger() });
    clients.add(c);
    c.start();
    await waitFor('third member refused', () => c.status.state === 'refused');
    assert.match(c.status.detail, /full/);
  });

  it('does not let one member tie up another with invitations it never follows', async () => {
    const server = await relay();
    const a = await member(server, ids[0]!);
    await member(server, ids[1]!);
    await waitFor('directory', () => a.member(ids[1]!.id));
    for (let i = 0; i < 5; i++) a.requestTunnel(ids[1]!.id);
    await waitFor('the fifth is refused', () => a.failures.length === 1);
    assert.deepEqual(a.failures, ['full']);
    assert.equal(a.invites.length, 4);
  });

  it('answers requests for tunnels to an offline peer or to oneself', async () => {
    const server = await relay();
    const a = await member(server, ids[0]!);
    a.requestTunnel(ids[2]!.id);
    a.requestTunnel(ids[0]!.id);
    await waitFor('both answered', () => a.failures.length === 2);
    assert.deepEqual(a.failures.sort(), ['offline', 'self']);
  });

  it('pairs only the two keys of one invitation, each usable once, and only until it expires', async () => {
    const server = await relay({ limits: { inviteTtlMs: 400 } });
    const a = await member(server, ids[0]!);
    const b = await member(server, ids[1]!);
    await waitFor('directory', () => a.member(ids[1]!.id));
    a.requestTunnel(ids[1]!.id);
    await waitFor('invites', () => a.invites.length === 1 && b.invites.length === 1);
    const keyA = a.invites[0]!.key;
    const first = openDataConnection({ host: '127.0.0.1', port: server.port, key: keyA, timeoutMs: 3000 });
    // The same key again, while the first is waiting for its partner: refused.
    await sleep(50);
    await assert.rejects(openDataConnection({ host: '127.0.0.1', port: server.port, key: keyA, timeoutMs: 3000 }), (e: TunnelError) => e.code === 'bad-key');
    // A made-up key: refused.
    await assert.rejects(openDataConnection({ host: '127.0.0.1', port: server.port, key: Buffer.alloc(32, 7), timeoutMs: 3000 }), (e: TunnelError) => e.code === 'bad-key');
    // The partner never comes: the waiting side is told the invitation expired.
    await assert.rejects(first, (e: TunnelError) => e.code === 'timeout');
    // And b's key died with the invitation.
    await assert.rejects(openDataConnection({ host: '127.0.0.1', port: server.port, key: b.invites[0]!.key, timeoutMs: 3000 }), (e: TunnelError) => e.code === 'bad-key');
    assert.ok(server.snapshot().sessions.total === 1 && server.snapshot().sessions.pending === 0);
  });

  it('splices bytes both ways, and caps a session to its bandwidth', async () => {
    const rate = 32 * 1024;
    const server = await relay({ limits: { sessionBytesPerSec: rate } });
    const a = await member(server, ids[0]!);
    const b = await member(server, ids[1]!);
    const { sa, sb } = await rawTunnel(server, a, b, ids[1]!.id);
    const size = 6 * rate;
    let got = 0;
    const t0 = Date.now();
    const done = new Promise<void>((r) =>
      sb.on('data', (d: Buffer) => {
        got += d.byteLength;
        if (got >= size) r();
      }),
    );
    sa.write(Buffer.alloc(size, 1));
    await done;
    const ms = Date.now() - t0;
    // One second of burst, then 32 KiB/s; a chunk already read (up to 64 KiB) is forwarded before
    // the pause, so the floor is (192 - 32 - 64) KiB / 32 KiB/s = 3 s.
    assert.ok(ms >= 2500, `capped: ${size} bytes took ${ms} ms`);
    assert.ok(ms < 9000, `but flowed: ${ms} ms`);
    const echo = new Promise<Buffer>((r) => sa.once('data', (d: Buffer) => r(d)));
    sb.write('pong');
    assert.equal((await echo).toString(), 'pong');
    assert.ok(server.snapshot().bytes.forwarded >= size + 4);
  });

  it('closes an idle session, and ends every session of a member whose control connection drops', async () => {
    const server = await relay({ limits: { sessionIdleMs: 800 } });
    const a = await member(server, ids[0]!);
    const b = await member(server, ids[1]!);
    const idle = await rawTunnel(server, a, b, ids[1]!.id);
    const t0 = Date.now();
    await Promise.all([closed(idle.sa), closed(idle.sb)]);
    assert.ok(Date.now() - t0 >= 600, 'idle session lived until its timeout');
    const busy = await rawTunnel(server, a, b, ids[1]!.id);
    const keepBusy = setInterval(() => busy.sa.write('x'), 100);
    await sleep(1600);
    assert.equal(busy.sb.destroyed, false, 'a session with traffic is not idle');
    await a.stop();
    await Promise.all([closed(busy.sa), closed(busy.sb)]);
    clearInterval(keepBusy);
    assert.equal(server.snapshot().sessions.active, 0);
  });

  it('hands every forwarded byte to the capture hook (so the opacity test can trust it)', async () => {
    const chunks: Buffer[] = [];
    const server = await relay({}, (_s, _from, chunk) => chunks.push(Buffer.from(chunk)));
    const a = await member(server, ids[0]!);
    const b = await member(server, ids[1]!);
    const { sa, sb } = await rawTunnel(server, a, b, ids[1]!.id);
    const got = new Promise<void>((r) => sb.once('data', () => r()));
    sa.write('PLAINTEXT-CANARY');
    await got;
    assert.ok(Buffer.concat(chunks).includes('PLAINTEXT-CANARY'));
  });

  it('answers a data connection whose first bytes are the magic and a key with a two-byte reply', async () => {
    const server = await relay();
    const s = netConnect(server.port, '127.0.0.1');
    const reply = new Promise<Buffer>((r) => s.once('data', (d: Buffer) => r(d)));
    s.write(Buffer.concat([DATA_MAGIC, Buffer.alloc(32)]));
    assert.deepEqual([...(await reply)], [DATA_REPLY_TAG, DATA_REPLY.badKey]);
    s.destroy();
  });
});
