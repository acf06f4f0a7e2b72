// The client side against a hostile relay (a scripted TLS server holding the pinned relay
// key): malformed frames, impossible lengths, frames only clients send, lies about
// certificates. The client must never crash, must drop the connection and try again later.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity } from '../../main/core/identity/identity.ts';
import { testLogger } from '../../main/core/log.ts';
import { formatRelayAddress } from '../../main/core/relay/address.ts';
import { RelayClient } from '../../main/core/relay/client.ts';
import { openTunnel, TunnelError } from '../../main/core/relay/tunnel.ts';
import { encodeRelayFrame, RelayFrameDecoder } from '../../main/core/relay/codec.ts';
import { RELAY_ALPN, type RelayFrame } from '../../main/core/relay/frames.ts';
import { waitFor } from '../helpers/wait.ts';
import { fastClientTiming } from './relay-harness.ts';

const relayIdentity = generateIdentity();
const memberIdentity = generateIdentity();
const otherIdentity = generateIdentity();
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

/** A fake relay: answers join with joined, then runs `script` on each connection. */
async function fakeRelay(script: (socket: tls.TLSSocket, frames: RelayFrame[]) => void) {
  let connections = 0;
  const server = tls.createServer(
    { key: relayIdentity.keyPem, cert: relayIdentity.certPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: [RELAY_ALPN], minVersion: 'TLSv1.3' },
    (s) => {
      connections++;
      const decoder = new RelayFrameDecoder();
      const frames: RelayFrame[] = [];
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        for (const f of decoder.push(d)) {
          frames.push(f);
          if (f.t === 'join') {
            s.write(encodeRelayFrame({ t: 'joined', v: 1, mailboxTtlMs: 1000, mailboxQuotaItems: 10 }));
            script(s, frames);
          }
        }
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  const url = formatRelayAddress({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, id: relayIdentity.id });
  return { url, connections: () => connections };
}

function client(url: string): RelayClient {
  const c = new RelayClient({ address: url, identity: memberIdentity, profile: () => ({ name: 'm', presence: 'online' }), timing: { ...fastClientTiming, retryMinMs: 50, retryMaxMs: 200 }, log: testLogger('client') });
  cleanups.push(() => void c.stop());
  c.start();
  return c;
}

const hostile: Array<[string, () => Buffer]> = [
  ['a length of 0xFFFFFFFF', () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0])],
  ['a negative length (0x80000000)', () => Buffer.from([0x80, 0, 0, 0])],
  ['a zero length', () => Buffer.from([0, 0, 0, 0])],
  ['random payload', () => Buffer.concat([Buffer.from([0, 0, 0, 40]), randomBytes(40)])],
  ['a client-only frame', () => encodeRelayFrame({ t: 'connect', peer: otherIdentity.id })],
  ['a directory continuation without its start', () => encodeRelayFrame({ t: 'directory', reset: false, more: false, members: [] })],
];

describe('relay client against a hostile relay', () => {
  for (const [name, bytes] of hostile) {
    it(`drops the connection and retries when the relay sends ${name}`, async () => {
      const relay = await fakeRelay((s) => s.write(bytes()));
      const c = client(relay.url);
      const states: string[] = [];
      c.on('status', (st) => states.push(st.state));
      await waitFor('reconnected at least twice', () => relay.connections() >= 3);
      assert.ok(states.includes('connected'), 'it had joined');
      assert.ok(states.filter((s) => s === 'unreachable').length >= 1, 'then dropped the connection');
    });
  }

  it('does not accept a certificate that does not prove the requested ID', async () => {
    const relay = await fakeRelay((s, frames) => {
      s.on('data', () => {
        const req = frames.find((f) => f.t === 'certReq');
        // Answer with the relay's own certificate, as if it were the peer's.
        if (req?.t === 'certReq') s.write(encodeRelayFrame({ t: 'cert', rid: req.rid, peer: req.peer, cert: new X509Certificate(relayIdentity.certPem).raw }));
      });
    });
    const c = client(relay.url);
    await waitFor('joined', () => c.connected);
    assert.equal(await c.certificate(otherIdentity.id), null);
  });

  it('assembles a directory sent in chunks and applies later changes', async () => {
    const relay = await fakeRelay((s) => {
      s.write(encodeRelayFrame({ t: 'directory', reset: true, more: true, members: [{ id: otherIdentity.id, name: 'o', presence: 'online' }] }));
      s.write(encodeRelayFrame({ t: 'directory', reset: false, more: false, members: [{ id: relayIdentity.id, name: 'r', presence: 'away' }] }));
      s.write(encodeRelayFrame({ t: 'gone', peer: relayIdentity.id }));
    });
    const c = client(relay.url);
    await waitFor('directory assembled and updated', () => c.directory().length === 1 && c.member(otherIdentity.id)?.name === 'o');
    assert.equal(relay.connections(), 1);
  });
});

describe('a tunnel through a relay that plays the peer itself', () => {
  /** A "relay" whose data port pairs you with itself, running TLS with a key of its own. */
  async function mitm(role: 'server' | 'client') {
    const server = net.createServer((raw) => {
      raw.once('data', () => {
        raw.write(Buffer.from([0x50, 0]));
        const opts = { key: otherIdentity.keyPem, cert: otherIdentity.certPem, ALPNProtocols: ['parley/1'], minVersion: 'TLSv1.3' as const, rejectUnauthorized: false };
        const s = role === 'server' ? new tls.TLSSocket(raw, { ...opts, isServer: true, requestCert: true }) : tls.connect({ ...opts, socket: raw });
        s.on('error', () => undefined);
      });
      raw.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    return (server.address() as net.AddressInfo).port;
  }

  for (const side of ['TLS client', 'TLS server'] as const) {
    it(`is refused by the pinned inner handshake when I am the ${side}`, async () => {
      const port = await mitm(side === 'TLS client' ? 'server' : 'client');
      await assert.rejects(
        openTunnel({
          relay: { host: '127.0.0.1', port },
          key: randomBytes(32),
          server: side === 'TLS server',
          peerId: relayIdentity.id,
          identity: memberIdentity,
          pairTimeoutMs: 3000,
          handshakeTimeoutMs: 3000,
        }),
        (e: TunnelError) => e instanceof TunnelError && (e.code === 'wrong-peer' || e.code === 'tls'),
      );
    });
  }
});
