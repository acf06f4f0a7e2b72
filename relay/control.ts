// One member's control connection as the relay sees it: framing, the pre-join budget and
// deadline, heartbeats. What the frames mean is the server's business (server.ts).
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { PeerId } from '../main/contract/contract.ts';
import type { Logger } from '../main/core/log.ts';
import { encodeRelayFrame, RelayFrameDecoder, RelayProtocolError } from '../main/core/relay/codec.ts';
import {
  CLIENT_FRAME_TYPES,
  MAX_PREJOIN_FRAME_BYTES,
  MAX_RELAY_FRAME_BYTES,
  type RefuseReason,
  type RelayFrame,
} from '../main/core/relay/frames.ts';

export interface ControlEvents {
  frame: [frame: RelayFrame];
  /** The member took what was queued for it (the mailbox may send more). */
  drain: [];
  close: [reason: string];
}

export class ControlConnection extends EventEmitter<ControlEvents> {
  readonly peerId: PeerId;
  readonly remote: string;
  readonly remoteIp: string;
  readonly certDer: Buffer;
  readonly since = Date.now();
  joined = false;
  closed = false;
  private readonly socket: tls.TLSSocket;
  private readonly decoder = new RelayFrameDecoder(MAX_PREJOIN_FRAME_BYTES);
  private readonly log: Logger;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private pings = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private joinTimer: NodeJS.Timeout | null;
  private readonly timing: { pingIntervalMs: number; pingTimeoutMs: number };

  constructor(opts: {
    socket: tls.TLSSocket;
    peerId: PeerId;
    certDer: Buffer;
    joinTimeoutMs: number;
    pingIntervalMs: number;
    pingTimeoutMs: number;
    log: Logger;
  }) {
    super();
    this.socket = opts.socket;
    this.peerId = opts.peerId;
    this.certDer = opts.certDer;
    this.remoteIp = opts.socket.remoteAddress ?? '?';
    this.remote = `${this.remoteIp}:${opts.socket.remotePort}`;
    this.timing = opts;
    this.log = opts.log.child({ peer: opts.peerId.slice(0, 7), remote: this.remote });
    this.socket.setNoDelay(true);
    this.joinTimer = setTimeout(() => this.refuse('protocol', 'no join in time'), opts.joinTimeoutMs);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.emit('drain'));
    this.socket.on('error', (err) => this.finish(`socket error: ${err.message}`));
    this.socket.on('close', () => this.finish('closed by peer'));
  }

  /** Called by the server once it accepted the join. */
  markJoined(): void {
    this.joined = true;
    this.decoder.maxFrameBytes = MAX_RELAY_FRAME_BYTES;
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
    const every = Math.max(50, Math.min(5000, Math.floor(this.timing.pingIntervalMs / 2)));
    this.heartbeat = setInterval(() => this.tick(), every);
    this.heartbeat.unref();
  }

  send(frame: RelayFrame): void {
    if (this.closed) return;
    this.lastSent = Date.now();
    this.socket.write(encodeRelayFrame(frame));
  }

  /** Bytes queued for this member and not yet taken by the kernel (a slow reader). */
  get backlog(): number {
    return this.socket.writableLength;
  }

  /** Tells the member why, then closes. */
  refuse(reason: RefuseReason, message: string): void {
    if (this.closed) return;
    this.log.info({ reason, message }, 'closing control connection');
    this.send({ t: 'refused', reason, message: message.slice(0, 200) });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.finish(`refused: ${reason}`);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.send({ t: 'bye', reason: reason.slice(0, 200) });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.finish(reason);
  }

  destroy(reason: string): void {
    this.socket.destroy();
    this.finish(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    let frames: RelayFrame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const reason = err instanceof RelayProtocolError ? `${err.code}: ${err.message}` : String(err);
      this.log.warn({ reason: reason.slice(0, 200) }, 'malformed control frame');
      this.refuse('protocol', reason);
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      if (!CLIENT_FRAME_TYPES.has(f.t)) {
        this.refuse('protocol', `${f.t} is not a client frame`);
        return;
      }
      if (!this.joined && f.t !== 'join') {
        this.refuse('protocol', `${f.t} before join`);
        return;
      }
      if (this.joined && f.t === 'join') {
        this.refuse('protocol', 'second join');
        return;
      }
      if (f.t === 'ping') {
        this.send({ t: 'pong', n: f.n });
        continue;
      }
      if (f.t === 'pong') continue;
      if (f.t === 'bye') {
        this.socket.end();
        this.finish(`member said bye: ${f.reason}`);
        return;
      }
      this.emit('frame', f);
    }
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastReceived > this.timing.pingTimeoutMs) {
      this.log.info({ silentMs: now - this.lastReceived }, 'member silent too long');
      this.destroy('ping timeout');
      return;
    }
    if (now - this.lastReceived >= this.timing.pingIntervalMs && now - this.lastSent >= this.timing.pingIntervalMs / 2) {
      this.send({ t: 'ping', n: ++this.pings });
    }
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.emit('close', reason);
  }
}
