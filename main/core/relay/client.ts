// A node's control connection to one relay: mutual TLS 1.3 with the relay's ID pinned from its
// address, join with the organisation's token, keep the directory of members, ask for and
// accept tunnels, deposit and collect mailbox envelopes. It reconnects by itself with backoff
// and says why it is not connected (wrong token, wrong relay ID, unreachable, ...).
// Nothing here trusts the relay beyond routing: tunnels are pinned end to end (tunnel.ts),
// envelopes are sealed and signed (seal.ts), and certificates it hands out are checked
// against the ID they claim to prove.
import { EventEmitter } from 'node:events';
import tls from 'node:tls';
import type { PeerId, Presence } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { peerIdFromCertificate } from '../identity/peer-id.ts';
import type { Logger } from '../log.ts';
import { formatRelayAddress, parseRelayAddress, type RelayAddress } from './address.ts';
import { encodeRelayFrame, RelayFrameDecoder, RelayProtocolError } from './codec.ts';
import {
  RELAY_ALPN,
  RELAY_ONLY_FRAME_TYPES,
  RELAY_PROTOCOL_VERSION,
  type ConnectFailReason,
  type Envelope,
  type Member,
  type RelayFrame,
  type RelayFrameOf,
} from './frames.ts';
import { openTunnel } from './tunnel.ts';

export type RelayState = 'idle' | 'connecting' | 'connected' | 'wrong-token' | 'wrong-relay-id' | 'unreachable' | 'refused' | 'stopped';

export interface RelayStatus {
  state: RelayState;
  /** Human-readable reason for the state (never contains the token). */
  detail: string;
  since: number;
  address: string;
  relayId: PeerId;
  /** When the next connection attempt is due, if one is scheduled. */
  retryAt: number | null;
}

export interface RelayClientTiming {
  /** TCP connect + TLS handshake with the relay. */
  connectTimeoutMs: number;
  /** The relay must answer the join within this. */
  joinTimeoutMs: number;
  /** Ping after this long without sending. */
  pingIdleMs: number;
  /** The control connection is dead after this long without receiving. */
  deadAfterMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Deposit and certificate requests. */
  requestTimeoutMs: number;
  /** Waiting for the relay to pair a tunnel's two data connections. */
  pairTimeoutMs: number;
  /** Inner TLS handshake in a tunnel. */
  handshakeTimeoutMs: number;
}

export const defaultRelayClientTiming: RelayClientTiming = {
  connectTimeoutMs: 10_000,
  joinTimeoutMs: 10_000,
  pingIdleMs: 20_000,
  deadAfterMs: 60_000,
  retryMinMs: 1_000,
  retryMaxMs: 60_000,
  requestTimeoutMs: 15_000,
  pairTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
};

export interface RelayClientEvents {
  status: [status: RelayStatus];
  /** The whole directory after any change (empty while disconnected). */
  directory: [members: Member[]];
  invite: [invite: RelayFrameOf<'invite'>];
  connectFailed: [peerId: PeerId, reason: ConnectFailReason];
  mail: [items: Envelope[]];
}

export class RelayRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayRequestError';
  }
}

interface Connection {
  socket: tls.TLSSocket;
  decoder: RelayFrameDecoder;
  joined: boolean;
  lastSent: number;
  lastReceived: number;
  pingCounter: number;
  heartbeat: NodeJS.Timeout | null;
  joinTimer: NodeJS.Timeout | null;
  /** Directory chunks being assembled (reset … more=false). */
  incoming: Map<PeerId, Member> | null;
}

export class RelayClient extends EventEmitter<RelayClientEvents> {
  readonly address: RelayAddress;
  private readonly identity: Identity;
  private readonly token: string | null;
  private readonly profile: () => { name: string; presence: Presence };
  private readonly timing: RelayClientTiming;
  private readonly log: Logger;
  private conn: Connection | null = null;
  private members = new Map<PeerId, Member>();
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private nextRid = 1;
  private readonly requests = new Map<number, { resolve: (f: RelayFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private running = false;
  private current: RelayStatus;

  constructor(opts: {
    address: string | RelayAddress;
    identity: Identity;
    token?: string | null | undefined;
    profile: () => { name: string; presence: Presence };
    timing?: Partial<RelayClientTiming> | undefined;
    log: Logger;
  }) {
    super();
    this.address = typeof opts.address === 'string' ? parseRelayAddress(opts.address) : opts.address;
    this.identity = opts.identity;
    this.token = opts.token ?? null;
    this.profile = opts.profile;
    this.timing = { ...defaultRelayClientTiming, ...opts.timing };
    this.log = opts.log.child({ relay: this.address.id.slice(0, 7) });
    this.current = { state: 'idle', detail: 'not started', since: Date.now(), address: formatRelayAddress(this.address), relayId: this.address.id, retryAt: null };
  }

  get status(): RelayStatus {
    return { ...this.current };
  }

  get connected(): boolean {
    return this.conn?.joined === true;
  }

  directory(): Member[] {
    return [...this.members.values()];
  }

  member(peerId: PeerId): Member | undefined {
    return this.members.get(peerId);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const conn = this.conn;
    if (conn) {
      this.send(conn, { t: 'bye', reason: 'client stopping' });
      conn.socket.end();
      this.drop(conn, 'stopped');
      setTimeout(() => conn.socket.destroy(), 1000).unref();
    }
    this.setStatus('stopped', 'stopped');
  }

  /** Reconnect now instead of at the end of the backoff (the user pressed "retry"). */
  retryNow(): void {
    if (!this.running || this.conn) return;
    this.attempt = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** Asks the relay for a tunnel to `peerId`. False when not connected. */
  requestTunnel(peerId: PeerId): boolean {
    const conn = this.conn;
    if (!conn?.joined) return false;
    return this.send(conn, { t: 'connect', peer: peerId });
  }

  /**
   * Follows an invitation: resolves with a TLS socket whose peer proved the invited ID.
   * `alpn`: the one protocol offered as TLS client (default parley/1; file streams
   * parley-file/1); `protocols`: those accepted as TLS server (the caller routes by the
   * socket's alpnProtocol).
   */
  openTunnel(invite: RelayFrameOf<'invite'>, alpn?: { alpn?: string; protocols?: readonly string[] }): Promise<tls.TLSSocket> {
    return openTunnel({
      ...(alpn?.alpn ? { alpn: alpn.alpn } : {}),
      ...(alpn?.protocols ? { protocols: alpn.protocols } : {}),
      relay: { host: this.address.host, port: this.address.port },
      key: invite.key,
      server: invite.server,
      peerId: invite.peer,
      identity: this.identity,
      // No point waiting for a partner after the invitation expired at the relay.
      pairTimeoutMs: Math.min(this.timing.pairTimeoutMs, invite.expiresInMs + 1000),
      handshakeTimeoutMs: this.timing.handshakeTimeoutMs,
    });
  }

  /** Tells the relay my current name and presence (shown in everyone's directory). */
  updateProfile(): void {
    const conn = this.conn;
    if (conn?.joined) this.send(conn, { t: 'presence', ...this.profile() });
  }

  deposit(items: Envelope[]): Promise<RelayFrameOf<'deposited'>> {
    return this.request((rid) => ({ t: 'deposit', rid, items })) as Promise<RelayFrameOf<'deposited'>>;
  }

  /**
   * The certificate (DER) of a peer the relay has seen, or null. Only returned when it proves
   * `peerId`: a relay cannot make me seal to a key of its choosing.
   */
  async certificate(peerId: PeerId): Promise<Uint8Array | null> {
    const reply = (await this.request((rid) => ({ t: 'certReq', rid, peer: peerId }))) as RelayFrameOf<'cert'>;
    if (!reply.cert) return null;
    try {
      if (peerIdFromCertificate(Buffer.from(reply.cert)) === peerId) return reply.cert;
    } catch {
      // not a certificate at all
    }
    this.log.warn({ peer: peerId.slice(0, 7) }, 'relay returned a certificate that does not prove the peer ID');
    return null;
  }

  /** Lets the relay delete these envelopes: they are durably stored (or rejected for good). */
  ackMail(ids: string[]): void {
    const conn = this.conn;
    if (!conn?.joined) return;
    for (let i = 0; i < ids.length; i += 1024) this.send(conn, { t: 'mailAck', ids: ids.slice(i, i + 1024) });
  }

  // ---- connection ----------------------------------------------------------------------

  private connect(): void {
    if (!this.running || this.conn) return;
    this.setStatus('connecting', `connecting to ${this.address.host}:${this.address.port}`);
    const socket = tls.connect({
      host: this.address.host,
      port: this.address.port,
      key: this.identity.keyPem,
      cert: this.identity.certPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: [RELAY_ALPN],
      rejectUnauthorized: false,
    });
    const conn: Connection = {
      socket,
      decoder: new RelayFrameDecoder(),
      joined: false,
      lastSent: Date.now(),
      lastReceived: Date.now(),
      pingCounter: 0,
      heartbeat: null,
      joinTimer: null,
      incoming: null,
    };
    this.conn = conn;
    let outcome: { state: RelayState; detail: string } = { state: 'unreachable', detail: 'connection failed' };
    const connectTimer = setTimeout(() => {
      outcome = { state: 'unreachable', detail: 'relay did not complete the TLS handshake in time' };
      socket.destroy();
    }, this.timing.connectTimeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(connectTimer);
      let id: PeerId | null = null;
      try {
        const cert = socket.getPeerCertificate(true);
        if (cert?.raw) id = peerIdFromCertificate(cert.raw);
      } catch {
        id = null;
      }
      if (id !== this.address.id) {
        // Checked before anything is sent: an impostor never sees the token.
        outcome = { state: 'wrong-relay-id', detail: 'the server at this address is not the relay whose ID is in the address' };
        this.log.warn({ remote: `${this.address.host}:${this.address.port}` }, 'relay certificate does not match the pinned relay ID');
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol !== RELAY_ALPN) {
        outcome = { state: 'refused', detail: `the server did not negotiate ${RELAY_ALPN}` };
        socket.destroy();
        return;
      }
      outcome = { state: 'unreachable', detail: 'relay closed the connection during join' };
      conn.joinTimer = setTimeout(() => {
        outcome = { state: 'unreachable', detail: 'relay did not answer the join in time' };
        socket.destroy();
      }, this.timing.joinTimeoutMs);
      this.send(conn, { t: 'join', v: RELAY_PROTOCOL_VERSION, token: this.token, ...this.profile() });
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.conn !== conn) return;
      conn.lastReceived = Date.now();
      let frames: RelayFrame[];
      try {
        frames = conn.decoder.push(chunk);
      } catch (err) {
        const reason = err instanceof RelayProtocolError ? `${err.code}: ${err.message}` : String(err);
        this.log.warn({ reason }, 'malformed frame from relay; reconnecting');
        outcome = { state: 'unreachable', detail: `relay sent a malformed frame (${reason.slice(0, 100)})` };
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (this.conn !== conn) return;
        const next = this.onFrame(conn, f);
        if (next) {
          outcome = next;
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (outcome.state === 'unreachable' && !conn.joined) outcome = { state: 'unreachable', detail: err.code ? `${err.code}: ${err.message}` : err.message };
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.conn !== conn) return;
      const wasJoined = conn.joined;
      this.drop(conn, outcome.detail);
      if (!this.running) return;
      if (wasJoined && outcome.state === 'unreachable') outcome = { state: 'unreachable', detail: 'connection to the relay lost' };
      this.scheduleRetry(outcome.state, outcome.detail, wasJoined);
    });
  }

  /** Handles one frame; returns a final outcome when the connection must end. */
  private onFrame(conn: Connection, f: RelayFrame): { state: RelayState; detail: string } | null {
    if (!RELAY_ONLY_FRAME_TYPES.has(f.t)) return { state: 'unreachable', detail: `relay sent a client-only ${f.t} frame` };
    if (!conn.joined) {
      if (f.t === 'refused') {
        this.log.warn({ reason: f.reason }, 'relay refused the join');
        if (f.reason === 'token') return { state: 'wrong-token', detail: 'the relay refused the token' };
        return { state: 'refused', detail: `relay refused: ${f.reason}${f.message ? ` (${f.message})` : ''}` };
      }
      if (f.t === 'bye') return { state: 'unreachable', detail: `relay said bye: ${f.reason}` };
      if (f.t !== 'joined') return { state: 'unreachable', detail: `relay sent ${f.t} before joined` };
      conn.joined = true;
      if (conn.joinTimer) clearTimeout(conn.joinTimer);
      this.attempt = 0;
      conn.heartbeat = setInterval(() => this.tick(conn), Math.max(50, Math.min(1000, this.timing.pingIdleMs / 2)));
      this.setStatus('connected', 'joined');
      this.log.info('joined relay');
      return null;
    }
    switch (f.t) {
      case 'ping':
        this.send(conn, { t: 'pong', n: f.n });
        return null;
      case 'pong':
        return null;
      case 'directory': {
        if (f.reset) conn.incoming = new Map();
        if (!conn.incoming) return { state: 'unreachable', detail: 'relay sent a directory continuation without a start' };
        for (const m of f.members) if (m.id !== this.identity.id) conn.incoming.set(m.id, m);
        if (!f.more) {
          this.members = conn.incoming;
          conn.incoming = null;
          this.emit('directory', this.directory());
        }
        return null;
      }
      case 'member':
        if (f.member.id === this.identity.id) return null;
        this.members.set(f.member.id, f.member);
        this.emit('directory', this.directory());
        return null;
      case 'gone':
        if (this.members.delete(f.peer)) this.emit('directory', this.directory());
        return null;
      case 'invite':
        if (f.peer === this.identity.id) return null;
        this.emit('invite', f);
        return null;
      case 'connectFailed':
        this.emit('connectFailed', f.peer, f.reason);
        return null;
      case 'mail':
        this.emit('mail', f.items);
        return null;
      case 'deposited':
      case 'cert': {
        const r = this.requests.get(f.rid);
        if (r) {
          this.requests.delete(f.rid);
          clearTimeout(r.timer);
          r.resolve(f);
        }
        return null;
      }
      case 'refused':
        return { state: 'refused', detail: `relay ended the session: ${f.reason}` };
      case 'bye':
        return { state: 'unreachable', detail: `relay said bye: ${f.reason}` };
      default:
        return { state: 'unreachable', detail: `unexpected ${f.t} frame from relay` };
    }
  }

  private tick(conn: Connection): void {
    const now = Date.now();
    if (now - conn.lastReceived > this.timing.deadAfterMs) {
      this.log.info({ silentMs: now - conn.lastReceived }, 'relay connection dead: no traffic');
      conn.socket.destroy();
      return;
    }
    if (now - conn.lastSent >= this.timing.pingIdleMs) this.send(conn, { t: 'ping', n: ++conn.pingCounter });
  }

  private send(conn: Connection, frame: RelayFrame): boolean {
    if (conn.socket.destroyed) return false;
    conn.lastSent = Date.now();
    conn.socket.write(encodeRelayFrame(frame));
    return true;
  }

  private request(build: (rid: number) => RelayFrame): Promise<RelayFrame> {
    const conn = this.conn;
    if (!conn?.joined) return Promise.reject(new RelayRequestError('not connected to the relay'));
    const rid = this.nextRid++;
    if (this.nextRid > 2 ** 31) this.nextRid = 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(rid);
        reject(new RelayRequestError('the relay did not answer in time'));
      }, this.timing.requestTimeoutMs);
      this.requests.set(rid, { resolve, reject, timer });
      try {
        this.send(conn, build(rid));
      } catch (err) {
        clearTimeout(timer);
        this.requests.delete(rid);
        reject(err as Error);
      }
    });
  }

  private drop(conn: Connection, why: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (conn.heartbeat) clearInterval(conn.heartbeat);
    if (conn.joinTimer) clearTimeout(conn.joinTimer);
    for (const [rid, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new RelayRequestError(`relay connection closed: ${why}`));
      this.requests.delete(rid);
    }
    if (this.members.size > 0) {
      this.members = new Map();
      this.emit('directory', []);
    }
  }

  private scheduleRetry(state: RelayState, detail: string, wasJoined: boolean): void {
    // A refused token or a wrong relay will not fix itself within seconds: ask rarely.
    const slow = state === 'wrong-token' || state === 'wrong-relay-id' || state === 'refused';
    const attempt = wasJoined ? 0 : this.attempt++;
    const base = slow ? this.timing.retryMaxMs : Math.min(this.timing.retryMaxMs, this.timing.retryMinMs * 2 ** Math.min(attempt, 16));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.current = { ...this.current, retryAt: Date.now() + delay };
    this.setStatus(state, detail, Date.now() + delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private setStatus(state: RelayState, detail: string, retryAt: number | null = null): void {
    const changed = state !== this.current.state || detail !== this.current.detail;
    this.current = { ...this.current, state, detail, retryAt, since: changed ? Date.now() : this.current.since };
    if (changed) this.emit('status', this.status);
  }
}
