// The Parley relay: one TCP port for control connections (mutual TLS, members identified by
// their certificate) and data connections (tunnels, spliced blindly), plus the offline
// mailbox and a loopback status endpoint. Modelled on Syncthing's relay-v1 (design notes §5).
// What it can see: members' IPs and IDs, names and presence they publish, who tunnels to whom
// and how much, mailbox sender/recipient/size/time. What it cannot: anything inside a tunnel
// (the peers' own pinned TLS) or inside an envelope (sealed and signed end to end).
import { constants, createHash, timingSafeEqual } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { PeerId } from '../main/contract/contract.ts';
import { loadOrCreateIdentity, type Identity } from '../main/core/identity/identity.ts';
import { displayId, peerIdFromCertificate } from '../main/core/identity/peer-id.ts';
import { createLogger, type Logger } from '../main/core/log.ts';
import { formatRelayAddress, type RelayAddress } from '../main/core/relay/address.ts';
import { relayFrameSize } from '../main/core/relay/codec.ts';
import {
  DATA_HELLO_BYTES,
  DATA_MAGIC,
  MAX_RELAY_FRAME_BYTES,
  RELAY_ALPN,
  RELAY_PROTOCOL_VERSION,
  type Member as MemberInfo,
  type RelayFrame,
  type RelayFrameOf,
} from '../main/core/relay/frames.ts';
import { splitHostPort, type RelayConfig } from './config.ts';
import { ControlConnection } from './control.ts';
import { Mailbox } from './mailbox.ts';
import { KeyedLimiter, TokenBucket } from './rate-limit.ts';
import { SessionBroker } from './sessions.ts';
import type { Side, TamperMode } from './splice.ts';
import { startStatusServer } from './status-http.ts';

const TLS_HANDSHAKE_BYTE = 0x16;
/** A member whose socket buffer holds more than this is not reading: drop it. */
const MAX_MEMBER_BACKLOG = 8 * 1024 * 1024;
const MAIL_WINDOW = 256;
/** Room left in a mail frame for the frame's own fields. */
const MAIL_FRAME_BUDGET = MAX_RELAY_FRAME_BYTES - 8 * 1024;

interface Member {
  conn: ControlConnection;
  info: MemberInfo;
  connects: TokenBucket;
  /** Highest mailbox seq sent on this connection, and IDs sent but not acked yet. */
  mailCursor: number;
  mailInflight: Set<string>;
}

export interface RelayStatusSnapshot {
  id: PeerId;
  displayId: string;
  address: string;
  startedAt: number;
  uptimeMs: number;
  members: Array<MemberInfo & { remote: string; since: number; sessions: number }>;
  sessions: { active: number; pending: number; total: number; list: Array<{ id: number; a: PeerId; b: PeerId; active: boolean; bytes: number }> };
  bytes: { forwarded: number };
  mailbox: { items: number; bytes: number; recipients: number };
  connections: { open: number; unauthenticated: number };
  rejected: Record<'rate' | 'pending' | 'garbage' | 'timeout' | 'tls' | 'token' | 'full' | 'protocol', number>;
  tampered: number;
}

export type CaptureFn = (session: number, from: Side, chunk: Buffer) => void;

export class RelayServer {
  readonly identity: Identity;
  readonly id: PeerId;
  readonly config: RelayConfig;
  readonly log: Logger;
  readonly startedAt = Date.now();
  port = 0;
  statusPort: number | null = null;
  /** Test-only malicious mode; null in normal operation. Mutable so tests can heal the relay. */
  tamper: { mode: TamperMode; afterBytes: number } | null;

  private readonly tcp: net.Server;
  private readonly tlsServer: tls.Server;
  private statusServer: http.Server | null = null;
  private readonly mailbox: Mailbox;
  private readonly broker: SessionBroker;
  private readonly members = new Map<PeerId, Member>();
  private readonly ipLimiter: KeyedLimiter;
  /** Raw sockets not yet authenticated, by remote ip:port (a TLS socket finds its raw one here). */
  private readonly unauthenticated = new Map<string, { deadline: NodeJS.Timeout; release: () => void; rearmed: boolean }>();
  /** Every raw socket, by remote ip:port. */
  private readonly open = new Map<string, net.Socket>();
  private readonly expiryTimer: NodeJS.Timeout;
  private captureStream: WriteStream | null = null;
  private stopping = false;
  private readonly tokenDigest: Buffer | null;
  readonly rejected: RelayStatusSnapshot['rejected'] = { rate: 0, pending: 0, garbage: 0, timeout: 0, tls: 0, token: 0, full: 0, protocol: 0 };

  private constructor(config: RelayConfig, log: Logger, capture: CaptureFn | null) {
    this.config = config;
    this.log = log;
    this.identity = loadOrCreateIdentity(config.dataDir);
    this.id = this.identity.id;
    this.tokenDigest = config.token === null ? null : createHash('sha256').update(config.token).digest();
    this.tamper = config.debug.tamper ? { mode: config.debug.tamper, afterBytes: config.debug.tamperAfterBytes } : null;
    const L = config.limits;
    this.ipLimiter = new KeyedLimiter(L.perIpBurst, L.perIpPerMinute);
    this.mailbox = new Mailbox(config.dataDir, config.mailbox);
    if (!capture && config.debug.capture) {
      const stream = createWriteStream(config.debug.capture, { flags: 'a' });
      this.captureStream = stream;
      capture = (_session, _from, chunk) => stream.write(chunk);
    }
    this.broker = new SessionBroker({
      maxSessions: L.maxSessions,
      maxSessionsPerPeer: L.maxSessionsPerPeer,
      inviteTtlMs: L.inviteTtlMs,
      sessionIdleMs: L.sessionIdleMs,
      sessionBytesPerSec: L.sessionBytesPerSec,
      global: L.globalBytesPerSec > 0 ? { a: new TokenBucket(L.globalBytesPerSec, L.globalBytesPerSec), b: new TokenBucket(L.globalBytesPerSec, L.globalBytesPerSec) } : null,
      tamper: () => this.tamper,
      capture,
      log,
    });
    this.tlsServer = tls.createServer({
      key: this.identity.keyPem,
      cert: this.identity.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: [RELAY_ALPN],
      handshakeTimeout: L.handshakeTimeoutMs,
      secureOptions: constants.SSL_OP_NO_TICKET,
    });
    this.tlsServer.on('secureConnection', (s: tls.TLSSocket) => this.onSecure(s));
    this.tlsServer.on('tlsClientError', (err, s) => {
      this.rejected.tls++;
      log.info({ remote: `${s.remoteAddress}:${s.remotePort}`, reason: err.message.slice(0, 120) }, 'TLS handshake failed');
      s.destroy();
    });
    this.tcp = net.createServer((raw) => this.onRaw(raw));
    this.tcp.on('error', (err) => log.error({ err: err.message }, 'listener error'));
    this.mailbox.expire();
    this.expiryTimer = setInterval(() => this.mailbox.expire(), 10 * 60_000);
    this.expiryTimer.unref();
  }

  static async start(config: RelayConfig, opts: { log?: Logger; capture?: CaptureFn } = {}): Promise<RelayServer> {
    const log = opts.log ?? createLogger('parley-relay');
    const server = new RelayServer(config, log, opts.capture ?? null);
    try {
      const { host, port } = splitHostPort(config.listen);
      await new Promise<void>((resolve, reject) => {
        server.tcp.once('error', reject);
        server.tcp.listen(port, host, () => {
          server.tcp.off('error', reject);
          resolve();
        });
      });
      server.port = (server.tcp.address() as net.AddressInfo).port;
      if (config.statusListen) {
        const s = splitHostPort(config.statusListen);
        server.statusServer = await startStatusServer(s.host, s.port, () => server.snapshot());
        server.statusPort = (server.statusServer.address() as net.AddressInfo).port;
      }
    } catch (err) {
      await server.stop();
      throw err;
    }
    log.info({ id: server.id.slice(0, 7), listen: `${splitHostPort(config.listen).host}:${server.port}`, token: config.token !== null }, 'relay started');
    return server;
  }

  get address(): RelayAddress {
    const listenHost = splitHostPort(this.config.listen).host;
    let host = listenHost === '0.0.0.0' || listenHost === '::' ? os.hostname() : listenHost;
    let port = this.port;
    if (this.config.publicAddress) {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(this.config.publicAddress);
      if (m) {
        host = m[1]!.replace(/^\[(.*)\]$/, '$1');
        if (m[2]) port = Number(m[2]);
      }
    }
    return { host, port, id: this.id };
  }

  get url(): string {
    return formatRelayAddress(this.address);
  }

  get statusUrl(): string | null {
    if (this.statusPort === null || !this.config.statusListen) return null;
    const host = splitHostPort(this.config.statusListen).host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.statusPort}/status`;
  }

  // ---- accepting -----------------------------------------------------------------------

  private onRaw(raw: net.Socket): void {
    const L = this.config.limits;
    const ip = raw.remoteAddress ?? '?';
    raw.on('error', () => raw.destroy());
    if (this.stopping) return void raw.destroy();
    if (!this.ipLimiter.allow(ip)) {
      this.rejected.rate++;
      raw.destroy();
      return;
    }
    if (this.unauthenticated.size >= L.maxPendingConnections) {
      this.rejected.pending++;
      raw.destroy();
      return;
    }
    const key = `${ip}:${raw.remotePort}`;
    this.open.set(key, raw);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const entry = this.unauthenticated.get(key);
      if (entry) clearTimeout(entry.deadline);
      this.unauthenticated.delete(key);
    };
    const timeout = (what: string) =>
      setTimeout(() => {
        this.rejected.timeout++;
        this.log.info({ remote: key, what }, 'closing unauthenticated connection at its deadline');
        raw.destroy();
      }, L.handshakeTimeoutMs);
    this.unauthenticated.set(key, { deadline: timeout('first bytes / TLS handshake'), release, rearmed: false });
    raw.once('close', () => {
      release();
      if (this.open.get(key) === raw) this.open.delete(key);
    });
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.byteLength === 0 ? chunk : Buffer.concat([buf, chunk]);
      const first = buf[0]!;
      if (first === TLS_HANDSHAKE_BYTE) {
        raw.off('data', onData);
        raw.pause();
        raw.unshift(buf);
        this.tlsServer.emit('connection', raw);
        return;
      }
      const prefix = Math.min(buf.byteLength, DATA_MAGIC.length);
      if (!buf.subarray(0, prefix).equals(DATA_MAGIC.subarray(0, prefix))) {
        this.rejected.garbage++;
        this.log.info({ remote: key }, 'closing connection that speaks neither TLS nor the data protocol');
        raw.destroy();
        return;
      }
      if (buf.byteLength === prefix && prefix < DATA_MAGIC.length) {
        this.rearm(key, L.keyTimeoutMs, raw);
        return;
      }
      if (buf.byteLength < DATA_HELLO_BYTES) {
        this.rearm(key, L.keyTimeoutMs, raw);
        return;
      }
      raw.off('data', onData);
      raw.pause();
      const sessionKey = Buffer.from(buf.subarray(DATA_MAGIC.length, DATA_HELLO_BYTES));
      const rest = buf.subarray(DATA_HELLO_BYTES);
      if (rest.byteLength > 0) raw.unshift(rest);
      release();
      raw.setNoDelay(true);
      this.broker.present(sessionKey, raw);
    };
    raw.on('data', onData);
  }

  /** A data connection got its first bytes: the key must follow within keyTimeoutMs of now. */
  private rearm(key: string, ms: number, raw: net.Socket): void {
    const entry = this.unauthenticated.get(key);
    if (!entry || entry.rearmed) return;
    clearTimeout(entry.deadline);
    entry.rearmed = true;
    entry.deadline = setTimeout(() => {
      this.rejected.timeout++;
      this.log.info({ remote: key }, 'data connection did not present its key in time');
      raw.destroy();
    }, ms);
  }

  private onSecure(socket: tls.TLSSocket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const entry = this.unauthenticated.get(key);
    let peerId: PeerId;
    let certDer: Buffer;
    try {
      const cert = socket.getPeerCertificate(true);
      if (!cert?.raw) throw new Error('no client certificate');
      if (socket.alpnProtocol !== RELAY_ALPN) throw new Error(`ALPN is not ${RELAY_ALPN}`);
      certDer = cert.raw;
      peerId = peerIdFromCertificate(certDer);
    } catch (err) {
      this.rejected.tls++;
      this.log.info({ remote: key, reason: (err as Error).message }, 'rejected control connection');
      socket.destroy();
      return;
    }
    if (peerId === this.id) {
      this.rejected.tls++;
      socket.destroy();
      return;
    }
    const L = this.config.limits;
    const conn = new ControlConnection({
      socket,
      peerId,
      certDer,
      joinTimeoutMs: L.joinTimeoutMs,
      pingIntervalMs: L.pingIntervalMs,
      pingTimeoutMs: L.pingTimeoutMs,
      log: this.log,
    });
    // The join deadline replaces the handshake deadline; the pending slot stays taken until join.
    if (entry) clearTimeout(entry.deadline);
    conn.on('frame', (f) => {
      try {
        this.onFrame(conn, f, entry?.release ?? (() => undefined));
      } catch (err) {
        this.log.error({ peer: peerId.slice(0, 7), err: (err as Error).message }, 'failed handling a control frame');
        conn.refuse('protocol', 'internal error');
      }
    });
    conn.on('drain', () => {
      const m = this.members.get(peerId);
      if (m?.conn === conn) this.pumpMail(m);
    });
    conn.on('close', (reason) => {
      entry?.release();
      this.open.delete(key);
      this.onLeave(conn, reason);
    });
  }

  // ---- control protocol ----------------------------------------------------------------

  private onFrame(conn: ControlConnection, f: RelayFrame, release: () => void): void {
    if (f.t === 'join') return this.onJoin(conn, f, release);
    const member = this.members.get(conn.peerId);
    if (!member || member.conn !== conn) return;
    switch (f.t) {
      case 'presence':
        member.info = { id: conn.peerId, name: f.name, presence: f.presence };
        this.broadcast({ t: 'member', member: member.info }, conn.peerId);
        return;
      case 'connect':
        return this.onConnect(member, f.peer);
      case 'deposit':
        return this.onDeposit(member, f);
      case 'certReq': {
        const cert = this.members.get(f.peer)?.conn.certDer ?? this.mailbox.certificate(f.peer);
        conn.send({ t: 'cert', rid: f.rid, peer: f.peer, cert: cert ?? null });
        return;
      }
      case 'mailAck': {
        this.mailbox.ack(conn.peerId, f.ids);
        for (const id of f.ids) member.mailInflight.delete(id);
        this.pumpMail(member);
        return;
      }
      default:
        return;
    }
  }

  private tokenMatches(token: string | null): boolean {
    if (this.tokenDigest === null) return true;
    if (token === null) return false;
    return timingSafeEqual(createHash('sha256').update(token).digest(), this.tokenDigest);
  }

  private onJoin(conn: ControlConnection, f: RelayFrameOf<'join'>, release: () => void): void {
    const L = this.config.limits;
    if (f.v < RELAY_PROTOCOL_VERSION) {
      this.rejected.protocol++;
      return conn.refuse('version', `relay speaks version ${RELAY_PROTOCOL_VERSION}`);
    }
    if (!this.tokenMatches(f.token)) {
      this.rejected.token++;
      return conn.refuse('token', f.token === null ? 'this relay needs a token' : 'wrong token');
    }
    const previous = this.members.get(conn.peerId);
    if (!previous && this.members.size >= L.maxMembers) {
      this.rejected.full++;
      return conn.refuse('full', 'the relay has as many members as it accepts');
    }
    const member: Member = {
      conn,
      info: { id: conn.peerId, name: f.name, presence: f.presence },
      connects: new TokenBucket(Math.max(1, L.connectBurst), L.connectPerMinute / 60),
      mailCursor: 0,
      mailInflight: new Set(),
    };
    this.members.set(conn.peerId, member);
    // A second connection with the same ID is the same device after a network change (it proved
    // the key); the old one is likely half-dead, so the newer wins.
    if (previous) previous.conn.refuse('replaced', 'the same ID joined again');
    release();
    conn.markJoined();
    this.mailbox.rememberCertificate(conn.peerId, conn.certDer);
    conn.send({ t: 'joined', v: RELAY_PROTOCOL_VERSION, mailboxTtlMs: this.config.mailbox.ttlMs, mailboxQuotaItems: this.config.mailbox.quotaItems });
    const others = [...this.members.values()].filter((m) => m !== member).map((m) => m.info);
    for (let i = 0; i === 0 || i < others.length; i += 1024) {
      conn.send({ t: 'directory', reset: i === 0, more: i + 1024 < others.length, members: others.slice(i, i + 1024) });
    }
    this.broadcast({ t: 'member', member: member.info }, conn.peerId);
    this.log.info({ peer: conn.peerId.slice(0, 7), remote: conn.remote, members: this.members.size }, 'member joined');
    this.pumpMail(member);
  }

  private onConnect(member: Member, target: PeerId): void {
    const from = member.conn.peerId;
    if (!member.connects.tryTake()) return member.conn.send({ t: 'connectFailed', peer: target, reason: 'rate' });
    if (target === from) return member.conn.send({ t: 'connectFailed', peer: target, reason: 'self' });
    const other = this.members.get(target);
    if (!other) return member.conn.send({ t: 'connectFailed', peer: target, reason: 'offline' });
    const invite = this.broker.invite(from, target);
    if (!invite) {
      this.rejected.full++;
      return member.conn.send({ t: 'connectFailed', peer: target, reason: 'full' });
    }
    const expiresInMs = this.config.limits.inviteTtlMs;
    // The one who asked dials (TLS client, Link direction 'out'), as on a direct link.
    member.conn.send({ t: 'invite', peer: target, key: invite.keyA, server: false, expiresInMs });
    other.conn.send({ t: 'invite', peer: from, key: invite.keyB, server: true, expiresInMs });
    this.log.debug({ session: invite.id, a: from.slice(0, 7), b: target.slice(0, 7) }, 'session invited');
  }

  private onDeposit(member: Member, f: RelayFrameOf<'deposit'>): void {
    const { accepted, refused } = this.mailbox.deposit(member.conn.peerId, f.items);
    member.conn.send({ t: 'deposited', rid: f.rid, accepted, refused });
    this.log.info({ peer: member.conn.peerId.slice(0, 7), accepted: accepted.length, refused: refused.length }, 'mailbox deposit');
    for (const to of new Set(f.items.map((e) => e.to))) {
      const m = this.members.get(to);
      if (m) this.pumpMail(m);
    }
  }

  /** Sends a member its mailbox, a window at a time; what is not acked comes again on its next join. */
  private pumpMail(member: Member): void {
    while (!member.conn.closed && member.mailInflight.size < MAIL_WINDOW && member.conn.backlog < MAX_MEMBER_BACKLOG / 4) {
      const items = this.mailbox.pending(member.conn.peerId, member.mailCursor, Math.min(64, MAIL_WINDOW - member.mailInflight.size), MAIL_FRAME_BUDGET);
      if (items.length === 0) return;
      const frame: RelayFrame = { t: 'mail', items: items.map((i) => i.envelope) };
      if (relayFrameSize(frame) > MAX_RELAY_FRAME_BYTES) {
        // Cannot happen with the size caps on deposit; never let one envelope block the rest.
        member.mailCursor = items[0]!.seq;
        continue;
      }
      member.mailCursor = items[items.length - 1]!.seq;
      for (const i of items) member.mailInflight.add(i.envelope.id);
      member.conn.send(frame);
    }
  }

  private broadcast(frame: RelayFrame, except: PeerId): void {
    for (const m of this.members.values()) {
      if (m.conn.peerId === except) continue;
      if (m.conn.backlog > MAX_MEMBER_BACKLOG) {
        m.conn.destroy('not reading');
        continue;
      }
      m.conn.send(frame);
    }
  }

  private onLeave(conn: ControlConnection, reason: string): void {
    const member = this.members.get(conn.peerId);
    if (!member || member.conn !== conn) return;
    this.members.delete(conn.peerId);
    // As in Syncthing: a member's tunnels end with its control connection.
    this.broker.endPeer(conn.peerId);
    if (!this.stopping) this.broadcast({ t: 'gone', peer: conn.peerId }, conn.peerId);
    this.log.info({ peer: conn.peerId.slice(0, 7), reason, members: this.members.size }, 'member left');
  }

  // ---- status and shutdown -------------------------------------------------------------

  snapshot(): RelayStatusSnapshot {
    const sessions = this.broker.list();
    return {
      id: this.id,
      displayId: displayId(this.id),
      address: this.url,
      startedAt: this.startedAt,
      uptimeMs: Date.now() - this.startedAt,
      members: [...this.members.values()].map((m) => ({
        ...m.info,
        remote: m.conn.remote,
        since: m.conn.since,
        sessions: this.broker.sessionsOf(m.conn.peerId),
      })),
      sessions: {
        active: this.broker.active,
        pending: this.broker.pending,
        total: this.broker.stats.total,
        list: sessions.map(({ id, a, b, active, bytes }) => ({ id, a, b, active, bytes })),
      },
      bytes: { forwarded: this.broker.stats.bytes },
      mailbox: this.mailbox.stats(),
      connections: { open: this.open.size, unauthenticated: this.unauthenticated.size },
      rejected: { ...this.rejected },
      tampered: this.broker.stats.tampered,
    };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.expiryTimer);
    const closed = new Promise<void>((resolve) => (this.tcp.listening ? this.tcp.close(() => resolve()) : resolve()));
    for (const m of [...this.members.values()]) m.conn.close('relay shutting down');
    this.broker.endAll();
    for (const e of this.unauthenticated.values()) clearTimeout(e.deadline);
    if (this.statusServer) {
      const s = this.statusServer;
      const done = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await done;
    }
    // Give the goodbyes a moment to leave before everything is torn down.
    if (this.open.size > 0) await new Promise((r) => setTimeout(r, 200));
    for (const s of this.open.values()) s.destroy();
    await closed;
    this.mailbox.close();
    if (this.captureStream) {
      const c = this.captureStream;
      await new Promise<void>((resolve) => c.end(() => resolve()));
    }
    this.log.info('relay stopped');
  }
}
