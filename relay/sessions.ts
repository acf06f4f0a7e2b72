// Tunnel sessions: an invitation gives each side its own random single-use key; each side
// opens a data connection and presents its key; when both are there the relay answers both
// with "ok" and splices them. Keys expire with the invitation, are deleted on first use, and
// are compared as hashes in a map (no timing side channel on a linear compare).
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { PeerId } from '../main/contract/contract.ts';
import type { Logger } from '../main/core/log.ts';
import { DATA_REPLY, DATA_REPLY_TAG, SESSION_KEY_BYTES, type DataReplyCode } from '../main/core/relay/frames.ts';
import type { TokenBucket } from './rate-limit.ts';
import { Splice, type Side, type TamperMode } from './splice.ts';

/** Unpaired invitations between the same two members at once. */
const MAX_PENDING_PER_PAIR = 4;

interface Session {
  id: number;
  peers: { a: PeerId; b: PeerId };
  keys: { a: string; b: string };
  waiting: Partial<Record<Side, net.Socket>>;
  splice: Splice | null;
  expiry: NodeJS.Timeout;
}

export interface BrokerOptions {
  maxSessions: number;
  maxSessionsPerPeer: number;
  inviteTtlMs: number;
  sessionIdleMs: number;
  sessionBytesPerSec: number;
  global: { a: TokenBucket; b: TokenBucket } | null;
  tamper: () => { mode: TamperMode; afterBytes: number } | null;
  capture: ((session: number, from: Side, chunk: Buffer) => void) | null;
  log: Logger;
}

function keyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex');
}

function reply(socket: net.Socket, code: DataReplyCode): void {
  if (!socket.destroyed) socket.write(Buffer.from([DATA_REPLY_TAG, code]));
}

export class SessionBroker {
  private nextId = 1;
  private readonly sessions = new Map<number, Session>();
  private readonly byKey = new Map<string, { session: Session; side: Side }>();
  private readonly perPeer = new Map<PeerId, number>();
  private readonly opts: BrokerOptions;
  stats = { total: 0, bytes: 0, tampered: 0, badKeys: 0, expired: 0 };

  constructor(opts: BrokerOptions) {
    this.opts = opts;
  }

  get active(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.splice) n++;
    return n;
  }

  get pending(): number {
    return this.sessions.size - this.active;
  }

  sessionsOf(peer: PeerId): number {
    return this.perPeer.get(peer) ?? 0;
  }

  /** New session between a (asked for it, TLS client) and b (TLS server); null when full. */
  invite(a: PeerId, b: PeerId): { id: number; keyA: Buffer; keyB: Buffer } | null {
    const o = this.opts;
    if (this.sessions.size >= o.maxSessions) return null;
    if (this.sessionsOf(a) >= o.maxSessionsPerPeer || this.sessionsOf(b) >= o.maxSessionsPerPeer) return null;
    // One member must not use up another's session allowance with invitations it never follows.
    let pendingPair = 0;
    for (const s of this.sessions.values()) {
      if (!s.splice && ((s.peers.a === a && s.peers.b === b) || (s.peers.a === b && s.peers.b === a))) pendingPair++;
    }
    if (pendingPair >= MAX_PENDING_PER_PAIR) return null;
    const keyA = randomBytes(SESSION_KEY_BYTES);
    const keyB = randomBytes(SESSION_KEY_BYTES);
    const id = this.nextId++;
    const session: Session = {
      id,
      peers: { a, b },
      keys: { a: keyId(keyA), b: keyId(keyB) },
      waiting: {},
      splice: null,
      expiry: setTimeout(() => this.expire(session), o.inviteTtlMs),
    };
    session.expiry.unref();
    this.sessions.set(id, session);
    this.byKey.set(session.keys.a, { session, side: 'a' });
    this.byKey.set(session.keys.b, { session, side: 'b' });
    for (const p of [a, b]) this.perPeer.set(p, this.sessionsOf(p) + 1);
    this.stats.total++;
    return { id, keyA, keyB };
  }

  /** A data connection presented `key`; the socket is paused and owned by the broker from now on. */
  present(key: Uint8Array, socket: net.Socket): void {
    const entry = this.byKey.get(keyId(key));
    if (!entry) {
      this.stats.badKeys++;
      reply(socket, DATA_REPLY.badKey);
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    // Single use: nobody can present this key again, whatever happens to this connection.
    this.byKey.delete(entry.session.keys[entry.side]);
    const { session, side } = entry;
    session.waiting[side] = socket;
    const other = side === 'a' ? 'b' : 'a';
    if (!session.waiting[other]) {
      // If the early side gives up, the session cannot complete any more.
      socket.once('close', () => {
        if (!session.splice) this.end(session, `${side} left before pairing`);
      });
      return;
    }
    this.pair(session);
  }

  private pair(session: Session): void {
    const a = session.waiting.a!;
    const b = session.waiting.b!;
    clearTimeout(session.expiry);
    reply(a, DATA_REPLY.ok);
    reply(b, DATA_REPLY.ok);
    const o = this.opts;
    session.splice = new Splice(a, b, {
      id: session.id,
      bytesPerSec: o.sessionBytesPerSec,
      global: o.global,
      idleMs: o.sessionIdleMs,
      tamper: o.tamper,
      capture: o.capture,
      onBytes: (n) => (this.stats.bytes += n),
      onTamper: () => this.stats.tampered++,
      onClose: (reason) => this.end(session, reason),
    });
    a.resume();
    b.resume();
    o.log.info({ session: session.id, a: session.peers.a.slice(0, 7), b: session.peers.b.slice(0, 7) }, 'session spliced');
  }

  private expire(session: Session): void {
    if (session.splice) return;
    this.stats.expired++;
    for (const s of Object.values(session.waiting)) reply(s, DATA_REPLY.timeout);
    this.end(session, 'invitation expired');
  }

  private end(session: Session, reason: string): void {
    if (!this.sessions.delete(session.id)) return;
    clearTimeout(session.expiry);
    this.byKey.delete(session.keys.a);
    this.byKey.delete(session.keys.b);
    for (const p of [session.peers.a, session.peers.b]) {
      const n = this.sessionsOf(p) - 1;
      if (n > 0) this.perPeer.set(p, n);
      else this.perPeer.delete(p);
    }
    if (session.splice) session.splice.close(reason);
    else for (const s of Object.values(session.waiting)) {
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    }
    this.opts.log.debug({ session: session.id, reason }, 'session ended');
  }

  /** A member left: every session it takes part in ends with it (as in Syncthing). */
  endPeer(peer: PeerId): void {
    for (const s of [...this.sessions.values()]) if (s.peers.a === peer || s.peers.b === peer) this.end(s, 'member left');
  }

  endAll(): void {
    for (const s of [...this.sessions.values()]) this.end(s, 'relay stopping');
  }

  list(): Array<{ id: number; a: PeerId; b: PeerId; active: boolean; bytes: number; since: number }> {
    return [...this.sessions.values()].map((s) => ({
      id: s.id,
      a: s.peers.a,
      b: s.peers.b,
      active: s.splice !== null,
      bytes: s.splice ? s.splice.bytes.a + s.splice.bytes.b : 0,
      since: s.splice?.started ?? 0,
    }));
  }
}
