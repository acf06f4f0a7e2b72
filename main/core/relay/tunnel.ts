// The client side of a relay session: open a data connection, present the invitation's key,
// wait for the relay to pair us with the other side, then run the ordinary peer TLS inside
// the spliced stream. The relay only copies bytes, so the inner handshake pins the peer
// exactly as a direct link does; a relay that tampers with the stream gets a failed
// handshake or a dead link, never a forged frame.
import { constants } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { dial, LinkError, verifiedPeerId } from '../links/tls.ts';
import { ALPN } from '../protocol/frames.ts';
import { DATA_MAGIC, DATA_REPLY, DATA_REPLY_TAG, SESSION_KEY_BYTES } from './frames.ts';

export class TunnelError extends Error {
  readonly code: 'bad-key' | 'timeout' | 'full' | 'unreachable' | 'protocol' | 'wrong-peer' | 'tls';
  constructor(code: TunnelError['code'], message: string) {
    super(message);
    this.name = 'TunnelError';
    this.code = code;
  }
}

/**
 * Opens a data connection and waits until the relay has paired it. Resolves with the raw
 * socket, paused, with any bytes that came after the relay's reply put back.
 */
export function openDataConnection(opts: { host: string; port: number; key: Uint8Array; timeoutMs: number }): Promise<net.Socket> {
  if (opts.key.byteLength !== SESSION_KEY_BYTES) return Promise.reject(new TunnelError('protocol', 'session key must be 32 bytes'));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    let got = Buffer.alloc(0);
    const fail = (err: TunnelError) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new TunnelError('timeout', 'relay did not pair the session in time')), opts.timeoutMs);
    socket.once('connect', () => socket.write(Buffer.concat([DATA_MAGIC, opts.key])));
    socket.on('error', (err) => fail(new TunnelError('unreachable', `relay data connection: ${err.message}`)));
    socket.on('close', () => fail(new TunnelError('unreachable', 'relay closed the data connection')));
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.byteLength < 2) return;
      socket.off('data', onData);
      socket.pause();
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      clearTimeout(timer);
      const [tag, code] = [got[0], got[1]];
      if (tag !== DATA_REPLY_TAG) return fail(new TunnelError('protocol', 'relay answered the data connection with garbage'));
      if (code !== DATA_REPLY.ok) {
        const why = code === DATA_REPLY.badKey ? 'bad-key' : code === DATA_REPLY.timeout ? 'timeout' : code === DATA_REPLY.full ? 'full' : 'protocol';
        return fail(new TunnelError(why, `relay refused the session (${why})`));
      }
      if (got.byteLength > 2) socket.unshift(got.subarray(2));
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/**
 * TLS server role inside a tunnel: the same settings as the direct listener, pinned by hand.
 * `protocols`: the ALPNs accepted (default only `parley/1`); the side that asked for the tunnel
 * is the TLS client and picks one, and the caller routes by the socket's `alpnProtocol`.
 */
export function acceptTls(opts: { raw: net.Socket; identity: Identity; expectedId: PeerId; timeoutMs: number; protocols?: readonly string[] }): Promise<tls.TLSSocket> {
  const protocols = opts.protocols ?? [ALPN];
  return new Promise((resolve, reject) => {
    const socket = new tls.TLSSocket(opts.raw, {
      isServer: true,
      requestCert: true,
      rejectUnauthorized: false,
      secureContext: tls.createSecureContext({
        key: opts.identity.keyPem,
        cert: opts.identity.certPem,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        secureOptions: constants.SSL_OP_NO_TICKET,
      }),
      ALPNProtocols: [...protocols],
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      opts.raw.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new TunnelError('timeout', 'TLS handshake in tunnel timed out')), opts.timeoutMs);
    socket.once('secure', () => {
      let id: PeerId;
      try {
        id = verifiedPeerId(socket, protocols);
      } catch (err) {
        return fail(new TunnelError('tls', (err as Error).message));
      }
      if (id !== opts.expectedId) return fail(new TunnelError('wrong-peer', 'the tunnel leads to a peer other than the invitation named'));
      if (id === opts.identity.id) return fail(new TunnelError('wrong-peer', 'the tunnel leads back to myself'));
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => fail(new TunnelError('tls', `TLS in tunnel: ${err.message}`)));
    socket.once('close', () => fail(new TunnelError('tls', 'tunnel closed during the TLS handshake')));
  });
}

/** Both roles: data connection, then TLS as client or server. Resolves with a pinned socket. */
export async function openTunnel(opts: {
  relay: { host: string; port: number };
  key: Uint8Array;
  server: boolean;
  peerId: PeerId;
  identity: Identity;
  pairTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Client role: the one ALPN offered (default `parley/1`). */
  alpn?: string;
  /** Server role: the ALPNs accepted (default only `parley/1`). */
  protocols?: readonly string[];
}): Promise<tls.TLSSocket> {
  const raw = await openDataConnection({ ...opts.relay, key: opts.key, timeoutMs: opts.pairTimeoutMs });
  if (opts.server) {
    return acceptTls({ raw, identity: opts.identity, expectedId: opts.peerId, timeoutMs: opts.handshakeTimeoutMs, ...(opts.protocols ? { protocols: opts.protocols } : {}) });
  }
  try {
    return await dial({
      identity: opts.identity,
      host: opts.relay.host,
      port: opts.relay.port,
      expectedId: opts.peerId,
      timeoutMs: opts.handshakeTimeoutMs,
      socket: raw,
      ...(opts.alpn ? { alpn: opts.alpn } : {}),
    });
  } catch (err) {
    raw.destroy();
    if (err instanceof LinkError) throw new TunnelError(err.code === 'wrong-peer' ? 'wrong-peer' : err.code === 'timeout' ? 'timeout' : 'tls', err.message);
    throw err;
  }
}
