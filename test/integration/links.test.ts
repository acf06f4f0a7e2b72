// The link layer on real loopback sockets with real TLS 1.3.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import type { Link } from '../../main/core/links/link.ts';
import { LinkManager } from '../../main/core/links/link-manager.ts';
import { defaultTiming } from '../../main/core/links/timing.ts';
import { testLogger } from '../../main/core/log.ts';
import { encodeFrame } from '../../main/core/protocol/codec.ts';
import { ALPN, CAPABILITIES, PROTOCOL_VERSION } from '../../main/core/protocol/frames.ts';
import { TcpProxy } from '../helpers/proxy.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const timing = { ...defaultTiming, redialMinMs: 50, redialMaxMs: 500, pingIdleMs: 200, deadAfterMs: 1000, helloTimeoutMs: 2000, handshakeTimeoutMs: 2000 };
const managers: LinkManager[] = [];

async function manager(identity = generateIdentity(), name = 'n') {
  const m = new LinkManager({
    identity,
    timing,
    log: testLogger(),
    hello: () => ({ id: identity.id, name, presence: 'online', statusText: '', instance: 'instance-' + name }),
  });
  await m.listen(0, '127.0.0.1');
  managers.push(m);
  const ups: Link[] = [];
  const downs: string[] = [];
  const rejects: string[] = [];
  m.on('up', (l) => ups.push(l));
  m.on('down', (_l, r) => downs.push(r));
  return { m, identity, ups, downs, rejects, address: `127.0.0.1:${m.port}` };
}

after(async () => {
  await Promise.all(managers.map((m) => m.stop()));
});

/** Opens a raw TLS connection with any identity and lets the test write arbitrary bytes. */
function rawClient(port: number, identity: Identity | null, keyOverride?: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(identity ? { key: keyOverride ?? identity.keyPem, cert: identity.certPem } : {}),
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ALPNProtocols: [ALPN],
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: tls.TLSSocket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('mutual-TLS links', () => {
  it('come up on both sides only after both Hellos, and carry frames', async () => {
    const a = await manager(undefined, 'alice');
    const b = await manager(undefined, 'bob');
    a.m.addTarget(b.identity.id, [b.address]);
    await waitFor('link up on both sides', () => a.m.get(b.identity.id) && b.m.get(a.identity.id));
    assert.equal(a.m.get(b.identity.id)!.peerHello!.name, 'bob');
    assert.equal(b.m.get(a.identity.id)!.peerHello!.name, 'alice');
    const got: string[] = [];
    b.m.on('frame', (_l, f) => f.t === 'presence' && got.push(f.statusText));
    a.m.get(b.identity.id)!.send({ t: 'presence', name: 'alice', presence: 'busy', statusText: 'hi' });
    await waitFor('presence frame', () => got.length === 1);
  });

  it('abort an outgoing dial when the listener cannot prove the expected ID', async () => {
    const a = await manager();
    const real = generateIdentity();
    const impostor = await manager();
    const reports: string[] = [];
    a.m.on('impostor', (id, address) => reports.push(`${id}@${address}`));
    a.m.addTarget(real.id, [impostor.address]);
    await waitFor('impostor reported', () => reports.length > 0);
    assert.equal(reports[0], `${real.id}@${impostor.address}`);
    await sleep(100);
    assert.equal(a.m.get(real.id), undefined, 'no link to the wrong key');
    assert.equal(impostor.ups.length, 0, 'the impostor never sees a link either');
  });

  it("dial a peer's self-announced addresses without calling another node answering there an impostor", async () => {
    const a = await manager();
    const absent = generateIdentity();
    // Another office can reuse the peer's private range: a neighbour answers at that address.
    const neighbour = await manager();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: neighbour.m.port });
    const reports: string[] = [];
    a.m.on('impostor', (id, address) => reports.push(`${id}@${address}`));
    a.m.addTarget(absent.id, [proxy.address], 'announced');
    await waitFor('several dials reached the neighbour', () => proxy.connections >= 3, 15_000);
    await sleep(200);
    assert.deepEqual(reports, [], 'a wrong ID at an announced address is no warning');
    assert.equal(a.m.get(absent.id), undefined);
    // The same address from discovery or a person is a claim about that address: loud again.
    a.m.addTarget(absent.id, [proxy.address]);
    await waitFor('impostor reported', () => reports.length > 0, 15_000);
    assert.equal(reports[0], `${absent.id}@${proxy.address}`);
    // It would dial on for the rest of the file otherwise.
    await a.m.stop();
    await proxy.close();
  });

  it('reject an incoming Hello that claims an ID other than the certificate proves', async () => {
    const b = await manager();
    const victim = generateIdentity();
    const attacker = generateIdentity();
    const s = await rawClient(b.m.port, attacker);
    s.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, min: 1, id: victim.id, name: 'victim', presence: 'online', statusText: '', caps: [...CAPABILITIES], instance: 'xxxxxxxx' }));
    s.write(encodeFrame({ t: 'presence', name: 'pwned', presence: 'online', statusText: '' }));
    s.resume();
    await closed(s);
    assert.equal(b.ups.length, 0);
    assert.equal(b.m.get(victim.id), undefined);
    assert.equal(b.m.get(attacker.id), undefined);
  });

  it('fail the handshake of someone presenting a copied certificate without its key', async () => {
    const b = await manager();
    const victim = generateIdentity();
    const attacker = generateIdentity();
    await assert.rejects(async () => {
      const s = await rawClient(b.m.port, victim, attacker.keyPem);
      s.resume();
      await closed(s);
      throw new Error('closed');
    });
    await sleep(50);
    assert.equal(b.ups.length, 0);
  });

  it('reject a client without a certificate', async () => {
    const b = await manager();
    const s = await rawClient(b.m.port, null).catch(() => null);
    if (s) {
      s.resume();
      await closed(s);
    }
    assert.equal(b.ups.length, 0);
  });

  it('refuse a link to my own ID (NAT hairpin)', async () => {
    const a = await manager();
    a.m.addTarget(a.identity.id, [a.address]);
    const s = await rawClient(a.m.port, a.identity);
    s.resume();
    await closed(s);
    assert.equal(a.ups.length, 0);
  });

  it('keep exactly one link, the same on both sides, when both dial at once', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await manager();
      const b = await manager();
      a.m.addTarget(b.identity.id, [b.address]);
      b.m.addTarget(a.identity.id, [a.address]);
      await waitFor('links', () => a.m.get(b.identity.id) && b.m.get(a.identity.id));
      await sleep(300);
      const la = a.m.get(b.identity.id)!;
      const lb = b.m.get(a.identity.id)!;
      assert.ok(!la.closed && !lb.closed);
      // The same TCP connection: A's local end is B's remote end.
      const aLocal = la.direction === 'out' ? 'dialer' : 'listener';
      const bLocal = lb.direction === 'out' ? 'dialer' : 'listener';
      assert.notEqual(aLocal, bLocal, 'one side dialed the surviving link, the other accepted it');
      const preferred = a.identity.id < b.identity.id ? a : b;
      assert.equal((preferred === a ? la : lb).direction, 'out', 'the smaller ID dialed the surviving link');
    }
  });

  it('notice a silently dead link by heartbeat and reconnect', async () => {
    const a = await manager();
    const b = await manager();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: b.m.port });
    a.m.addTarget(b.identity.id, [proxy.address]);
    const first = await waitFor('link', () => a.m.get(b.identity.id));
    proxy.blackhole(true);
    const t0 = Date.now();
    await waitFor('dead link noticed', () => first.closed, 5000);
    const detectedMs = Date.now() - t0;
    assert.ok(detectedMs <= timing.deadAfterMs + 1500, `noticed after ${detectedMs} ms`);
    proxy.blackhole(false);
    await waitFor('reconnected', () => a.m.get(b.identity.id) && a.m.get(b.identity.id) !== first, 5000);
    await proxy.close();
  });

  it('close a link that sends garbage, and keep serving other peers', async () => {
    const b = await manager();
    const good = await manager();
    good.m.addTarget(b.identity.id, [b.address]);
    await waitFor('good link', () => b.m.get(good.identity.id));
    const bad = generateIdentity();
    const s = await rawClient(b.m.port, bad);
    s.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, min: 1, id: bad.id, name: 'bad', presence: 'online', statusText: '', caps: [...CAPABILITIES], instance: 'xxxxxxxx' }));
    await waitFor('bad link up', () => b.m.get(bad.id));
    s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    s.resume();
    await closed(s);
    assert.equal(b.m.get(bad.id), undefined);
    assert.ok(b.m.get(good.identity.id) && !b.m.get(good.identity.id)!.closed, 'the good link is untouched');
  });
});
