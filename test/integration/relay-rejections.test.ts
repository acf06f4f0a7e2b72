// What a relay (running as its own process) refuses, and what a client refuses from a relay:
// wrong tokens, impostors, garbage, oversize and malformed frames, and connections that
// never authenticate. After every rejection the relay still serves its members.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { testLogger } from '../../main/core/log.ts';
import { formatRelayAddress, parseRelayAddress } from '../../main/core/relay/address.ts';
import { RelayClient } from '../../main/core/relay/client.ts';
import { encodeRelayFrame, RelayFrameDecoder } from '../../main/core/relay/codec.ts';
import { DATA_MAGIC, RELAY_ALPN, RELAY_PROTOCOL_VERSION, type RelayFrame } from '../../main/core/relay/frames.ts';
import { removeTempDirs } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { fastClientTiming, RelayProcess } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const clients = new Set<RelayClient>();
after(async () => {
  await Promise.all([...clients].map((c) => c.stop()));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

const TOKEN = 'correct horse battery staple';
let shared: RelayProcess | null = null;
/** One relay process for the tests that only need "a relay with a token and short deadlines". */
async function sharedRelay(): Promise<RelayProcess> {
  if (!shared) {
    shared = await RelayProcess.start({ token: TOKEN, limits: { handshakeTimeoutMs: 600, joinTimeoutMs: 600, keyTimeoutMs: 600 } });
    relays.add(shared);
  }
  return shared;
}

function client(url: string, token: string | null, identity: Identity = generateIdentity()): RelayClient {
  const c = new RelayClient({
    address: url,
    identity,
    token,
    profile: () => ({ name: 'tester', presence: 'online' }),
    timing: { ...fastClientTiming, retryMaxMs: 60_000 },
    log: testLogger('client'),
  });
  clients.add(c);
  c.start();
  return c;
}

let rawIdentity: Identity | null = null;
/** Control connection by hand: a real TLS client certificate, then whatever bytes the test wants. */
function rawControl(port: number, identity = (rawIdentity ??= generateIdentity())): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      key: identity.keyPem,
      cert: identity.certPem,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ALPNProtocols: [RELAY_ALPN],
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the time until the relay closed the socket, and every frame it sent first. */
function closedBy(socket: net.Socket): Promise<{ ms: number; frames: RelayFrame[] }> {
  const t0 = Date.now();
  const decoder = new RelayFrameDecoder();
  const frames: RelayFrame[] = [];
  socket.on('data', (d: Buffer) => {
    try {
      frames.push(...decoder.push(d));
    } catch {
      // raw sockets get no frames
    }
  });
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve({ ms: Date.now() - t0, frames })));
}

async function stillServes(relay: RelayProcess): Promise<void> {
  const c = client(relay.url, TOKEN);
  await waitFor('a well-behaved member can still join', () => c.status.state === 'connected');
  await c.stop();
}

describe('relay rejections', () => {
  it('refuses a wrong or missing token, and the client reports wrong-token without hammering', async () => {
    const relay = await sharedRelay();
    const wrong = client(relay.url, 'guess');
    const none = client(relay.url, null);
    await waitFor('wrong token reported', () => wrong.status.state === 'wrong-token');
    await waitFor('missing token reported', () => none.status.state === 'wrong-token');
    // Slow retry for a configuration error: the next attempt is tens of seconds away.
    assert.ok(wrong.status.retryAt! - Date.now() > 20_000, 'retry is far away');
    const status = await relay.status();
    assert.ok(status.rejected.token >= 2);
    assert.equal(status.members.length, 0);
    await stillServes(relay);
  });

  it('detects a relay impersonator by its ID and never sends it the token', async () => {
    const relay = await sharedRelay();
    // The impostor: a TLS server at another address with its own key, recording what it receives.
    const impostorId = generateIdentity();
    const received: Buffer[] = [];
    const impostor = tls.createServer(
      { key: impostorId.keyPem, cert: impostorId.certPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: [RELAY_ALPN], minVersion: 'TLSv1.3' },
      (s) => s.on('data', (d: Buffer) => received.push(d)).on('error', () => undefined),
    );
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    const realAddress = parseRelayAddress(relay.url);
    const spoofed = formatRelayAddress({ ...realAddress, port: (impostor.address() as net.AddressInfo).port });
    const c = client(spoofed, TOKEN);
    await waitFor('wrong relay reported', () => c.status.state === 'wrong-relay-id');
    assert.match(c.status.detail, /not the relay/);
    assert.equal(Buffer.concat(received).indexOf(Buffer.from(TOKEN)), -1, 'the token never reached the impostor');
    assert.equal(Buffer.concat(received).byteLength, 0, 'nothing at all was sent after the handshake');
    // The real relay at the real address, but pinned to another ID: same verdict.
    const c2 = client(formatRelayAddress({ ...realAddress, id: impostorId.id }), TOKEN);
    await waitFor('wrong relay ID reported', () => c2.status.state === 'wrong-relay-id');
    impostor.close();
  });

  it('closes connections that send garbage, and keeps serving', async () => {
    const relay = await sharedRelay();
    for (const bytes of [randomBytes(64), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0x00]), Buffer.from('PRLYDATX')]) {
      const s = net.connect(relay.port, '127.0.0.1');
      const closed = closedBy(s);
      s.write(bytes);
      const { ms } = await closed;
      assert.ok(ms < 1500, `garbage connection closed promptly (${ms} ms)`);
    }
    // Counted as garbage, not as a timeout: they were recognised, not left to the deadline.
    const status = await relay.status();
    assert.ok(status.rejected.garbage >= 4);
    await stillServes(relay);
  });

  it('closes control connections with oversize, negative-length or malformed frames, before and after join', async () => {
    const relay = await sharedRelay();
    const cases: Array<{ name: string; bytes: (joined: boolean) => Buffer; join: boolean }> = [
      { name: 'declared length 0xFFFFFFFF', join: false, bytes: () => Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]) },
      { name: 'declared length 0x80000000 (negative as int32)', join: false, bytes: () => Buffer.from([0x80, 0, 0, 0]) },
      { name: 'join larger than the pre-join budget', join: false, bytes: () => { const b = Buffer.alloc(4 + 8000); b.writeUInt32BE(8000, 0); return b; } },
      { name: 'zero length', join: false, bytes: () => Buffer.from([0, 0, 0, 0]) },
      { name: 'random payload', join: false, bytes: () => Buffer.concat([Buffer.from([0, 0, 0, 32]), randomBytes(32)]) },
      { name: 'a relay-only frame from a client', join: true, bytes: () => encodeRelayFrame({ t: 'gone', peer: 'A'.repeat(52) }) },
      { name: 'declared 300 KiB after join', join: true, bytes: () => Buffer.from([0x00, 0x04, 0xb0, 0x00]) },
      { name: 'frame before join', join: false, bytes: () => encodeRelayFrame({ t: 'connect', peer: 'A'.repeat(52) }) },
    ];
    for (const c of cases) {
      const s = await rawControl(relay.port);
      const closed = closedBy(s);
      if (c.join) s.write(encodeRelayFrame({ t: 'join', v: RELAY_PROTOCOL_VERSION, token: TOKEN, name: 'x', presence: 'online' }));
      s.write(c.bytes(c.join));
      const { ms, frames } = await closed;
      assert.ok(ms < 2000, `${c.name}: closed promptly (${ms} ms)`);
      const refused = frames.find((f) => f.t === 'refused');
      assert.equal(refused?.t === 'refused' && refused.reason, 'protocol', `${c.name}: told why`);
    }
    assert.ok((await relay.status()).members.length === 0);
    await stillServes(relay);
  });

  it('closes TLS connections without a client certificate or with another ALPN', async () => {
    const relay = await sharedRelay();
    const id = (rawIdentity ??= generateIdentity());
    const attempts = [
      tls.connect({ host: '127.0.0.1', port: relay.port, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [RELAY_ALPN] }),
      tls.connect({ host: '127.0.0.1', port: relay.port, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: ['parley/1'] }),
    ];
    const outcomes = attempts.map((s) => closedBy(s));
    for (const o of outcomes) {
      const { ms, frames } = await o;
      assert.ok(ms < 2000, `closed promptly (${ms} ms)`);
      assert.equal(frames.length, 0, 'not a single frame for an unidentified client');
    }
    assert.ok((await relay.status()).rejected.tls >= 2);
  });

  it('closes connections that never authenticate, each at its deadline', async () => {
    const relay = await sharedRelay();
    // Silent TCP: the first-bytes/handshake deadline (600 ms here). Each clock starts when its
    // connection is made.
    const silent = net.connect(relay.port, '127.0.0.1');
    const silentClosed = closedBy(silent);
    // A data connection that starts its magic and stops: the key deadline.
    const halfKey = net.connect(relay.port, '127.0.0.1');
    const halfKeyClosed = closedBy(halfKey);
    halfKey.write(DATA_MAGIC.subarray(0, 5));
    // TLS handshake started but never finished (just a few bytes of a ClientHello).
    const halfTls = net.connect(relay.port, '127.0.0.1');
    const halfTlsClosed = closedBy(halfTls);
    halfTls.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    // TLS done, but no join: the join deadline.
    const noJoin = await rawControl(relay.port);
    const noJoinClosed = closedBy(noJoin);
    const results = await Promise.all([silentClosed, noJoinClosed, halfKeyClosed, halfTlsClosed]);
    for (const [i, r] of results.entries()) {
      assert.ok(r.ms >= 300 && r.ms < 3000, `connection ${i} closed at its deadline (${r.ms} ms)`);
    }
    const refused = results[1]!.frames.find((f) => f.t === 'refused');
    assert.ok(refused?.t === 'refused' && /no join/.test(refused.message));
    const status = await relay.status();
    assert.ok(status.rejected.timeout >= 3);
    assert.equal(status.connections.unauthenticated, 0);
    await stillServes(relay);
  });

  it('shuts down gracefully on SIGTERM: members hear goodbye and the process exits 0', async () => {
    const relay = await RelayProcess.start();
    relays.add(relay);
    const c = client(relay.url, null);
    await waitFor('joined', () => c.status.state === 'connected');
    const code = await relay.stop();
    assert.equal(code, 0);
    await waitFor('client noticed', () => c.status.state !== 'connected');
    assert.match(c.status.detail, /bye|lost|closed|ECONNREFUSED/);
  });
});
