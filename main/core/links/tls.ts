// Mutual TLS 1.3 with self-signed certificates and no CA. Pinning is done by hand after the
// handshake on both sides: checkServerIdentity is never called when rejectUnauthorized is
// false, and a resumed session may carry no certificate, so we never resume (design notes §2).
import { constants } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { peerIdFromCertificate } from '../identity/peer-id.ts';
import { ALPN } from '../protocol/frames.ts';

export class LinkError extends Error {
  readonly code: 'wrong-peer' | 'no-certificate' | 'self' | 'timeout' | 'refused' | 'tls' | 'protocol' | 'closed';
  constructor(code: LinkError['code'], message: string) {
    super(message);
    this.name = 'LinkError';
    this.code = code;
  }
}

function baseOptions(identity: Identity, protocols: readonly string[] = [ALPN]) {
  return {
    key: identity.keyPem,
    cert: identity.certPem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    ALPNProtocols: [...protocols],
  };
}

/**
 * The ID the peer proved in the handshake, or a LinkError. `alpn`: the protocol(s) this
 * connection may carry; anything else negotiated (or nothing) is refused.
 */
export function verifiedPeerId(socket: tls.TLSSocket, alpn: string | readonly string[] = ALPN): PeerId {
  const cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) throw new LinkError('no-certificate', 'peer presented no certificate');
  const allowed = typeof alpn === 'string' ? [alpn] : alpn;
  const got = socket.alpnProtocol;
  if (typeof got !== 'string' || !allowed.includes(got)) throw new LinkError('protocol', `peer did not negotiate ${allowed.join(' or ')}`);
  return peerIdFromCertificate(cert.raw);
}

export interface ListenerOptions {
  identity: Identity;
  handshakeTimeoutMs: number;
  /** Connections still in the TLS handshake; more are refused (slowloris). */
  maxPending?: number;
  onPeer: (socket: tls.TLSSocket, peerId: PeerId) => void;
  onReject: (reason: string, remote: string) => void;
  /**
   * Further ALPN protocols this listener accepts, each with its own handler (e.g. file
   * streams, `parley-file/1`), so they share the port and the pinning. A dialer offers exactly
   * one protocol and the listener selects it; `parley/1` connections still go to onPeer.
   */
  protocols?: Readonly<Record<string, (socket: tls.TLSSocket, peerId: PeerId) => void>>;
}

export function createListener(opts: ListenerOptions): tls.Server {
  const maxPending = opts.maxPending ?? 64;
  // Keyed by remote address:port so the TLS socket can release the raw socket's slot.
  const pending = new Map<string, () => void>();
  const extra = Object.entries(opts.protocols ?? {}).filter(([alpn]) => alpn !== ALPN);
  const alpns = [ALPN, ...extra.map(([alpn]) => alpn)];
  const server = tls.createServer({
    ...baseOptions(opts.identity, alpns),
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: opts.handshakeTimeoutMs,
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
  server.on('connection', (raw: net.Socket) => {
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    if (pending.size >= maxPending) {
      opts.onReject('too many pending handshakes', key);
      raw.destroy();
      return;
    }
    const release = () => pending.delete(key);
    pending.set(key, release);
    raw.once('close', release);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    pending.get(remote)?.();
    let peerId: PeerId;
    try {
      peerId = verifiedPeerId(socket, alpns);
    } catch (err) {
      opts.onReject((err as Error).message, remote);
      socket.destroy();
      return;
    }
    if (peerId === opts.identity.id) {
      opts.onReject('connection from my own ID (NAT hairpin?)', remote);
      socket.destroy();
      return;
    }
    const route = extra.find(([alpn]) => alpn === socket.alpnProtocol);
    if (route) route[1](socket, peerId);
    else opts.onPeer(socket, peerId);
  });
  server.on('tlsClientError', (err, socket) => {
    opts.onReject(`handshake failed: ${err.message}`, `${socket.remoteAddress}:${socket.remotePort}`);
    socket.destroy();
  });
  return server;
}

export interface DialOptions {
  identity: Identity;
  host: string;
  port: number;
  expectedId: PeerId;
  timeoutMs: number;
  /** An already-connected stream (e.g. a relay tunnel) to run TLS over instead of TCP. */
  socket?: net.Socket;
  /** The one protocol offered; default `parley/1` (file streams: `parley-file/1`). */
  alpn?: string;
}

/** Resolves with a socket whose peer proved `expectedId`; anything else is destroyed. */
export function dial(opts: DialOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    if (opts.expectedId === opts.identity.id) {
      reject(new LinkError('self', 'refusing to dial my own ID'));
      return;
    }
    const alpn = opts.alpn ?? ALPN;
    const socket = tls.connect({
      ...baseOptions(opts.identity, [alpn]),
      host: opts.host,
      port: opts.port,
      ...(opts.socket ? { socket: opts.socket } : {}),
      rejectUnauthorized: false,
    });
    const fail = (err: LinkError) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new LinkError('timeout', 'TLS handshake timed out')), opts.timeoutMs);
    socket.once('secureConnect', () => {
      let id: PeerId;
      try {
        id = verifiedPeerId(socket, alpn);
      } catch (err) {
        fail(err as LinkError);
        return;
      }
      if (id !== opts.expectedId) {
        fail(new LinkError('wrong-peer', `${opts.host}:${opts.port} is not the expected peer`));
        return;
      }
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      fail(new LinkError(err.code === 'ECONNREFUSED' ? 'refused' : 'tls', err.message));
    });
  });
}
