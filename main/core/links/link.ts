// One verified, framed connection to one peer. It is "up" only after both Hellos: with
// TLS 1.3 a client whose certificate the server rejected still sees secureConnect and
// could write, so nothing counts before the peer's own Hello arrives (design notes §2.3).
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import type { Logger } from '../log.ts';
import { FrameDecoder, ProtocolError, encodeFrame } from '../protocol/codec.ts';
import { CAPABILITIES, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Frame, type FrameOf } from '../protocol/frames.ts';
import { formatAddress } from './address.ts';
import type { Timing } from './timing.ts';

export type Direction = 'in' | 'out';
export type HelloFields = Omit<FrameOf<'hello'>, 't' | 'v' | 'min' | 'caps'>;

/** Frame types each capability covers; hello/ping/pong/bye are always allowed. */
const CAPABILITY_OF: Partial<Record<Frame['t'], string>> = {
  msg: 'msg/1',
  ack: 'msg/1',
  nack: 'msg/1',
  read: 'receipts/1',
  presence: 'presence/1',
  typing: 'typing/1',
  gsync: 'groups/1',
  gev: 'groups/1',
  xfer: 'files/1',
};

let nextLinkNumber = 1;

export interface LinkEvents {
  up: [hello: FrameOf<'hello'>];
  frame: [frame: Frame];
  drain: [];
  close: [reason: string];
}

export class Link extends EventEmitter<LinkEvents> {
  readonly number = nextLinkNumber++;
  readonly peerId: PeerId;
  readonly direction: Direction;
  readonly kind: 'direct' | 'relay';
  readonly remoteHost: string;
  readonly remoteAddress: string;
  version = 0;
  caps = new Set<string>();
  peerHello: FrameOf<'hello'> | null = null;
  /** What our Hello told the peer about us; the profile may change before the link is up. */
  readonly sentHello: HelloFields;
  isUp = false;
  closed = false;

  private readonly socket: tls.TLSSocket;
  private readonly decoder = new FrameDecoder();
  private readonly timing: Timing;
  private readonly log: Logger;
  private lastSent = Date.now();
  private lastReceived = Date.now();
  private pingCounter = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;

  constructor(opts: {
    socket: tls.TLSSocket;
    peerId: PeerId;
    direction: Direction;
    kind?: 'direct' | 'relay';
    hello: HelloFields;
    timing: Timing;
    log: Logger;
  }) {
    super();
    this.socket = opts.socket;
    this.peerId = opts.peerId;
    this.direction = opts.direction;
    this.kind = opts.kind ?? 'direct';
    this.timing = opts.timing;
    this.remoteHost = opts.socket.remoteAddress ?? '';
    this.remoteAddress = formatAddress(this.remoteHost, opts.socket.remotePort ?? 0);
    this.log = opts.log.child({ link: this.number, peer: opts.peerId.slice(0, 7), dir: opts.direction });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.emit('drain'));
    this.socket.on('error', (err) => this.finish(`socket error: ${err.message}`));
    this.socket.on('close', () => this.finish(this.decoder.pendingBytes > 0 ? 'closed mid-frame' : 'closed by peer'));
    this.helloTimer = setTimeout(() => this.close('no hello in time'), opts.timing.helloTimeoutMs);
    this.sentHello = opts.hello;
    this.write({ t: 'hello', v: PROTOCOL_VERSION, min: MIN_PROTOCOL_VERSION, caps: [...CAPABILITIES], ...opts.hello });
  }

  /** False when the socket buffer is full: wait for 'drain'. Frames the peer did not negotiate are dropped. */
  send(frame: Frame): boolean {
    if (this.closed) return false;
    const cap = CAPABILITY_OF[frame.t];
    if (cap && !this.caps.has(cap)) return true;
    return this.write(frame);
  }

  /**
   * The certificate (DER) the peer presented in this link's handshake. The handshake was pinned
   * to it (its key hashes to peerId: tls.ts, or tunnel.ts for relayed links) before this Link existed.
   */
  peerCertificate(): Buffer | null {
    const raw = this.socket.getPeerCertificate(true)?.raw;
    return raw && raw.byteLength > 0 ? raw : null;
  }

  get writable(): boolean {
    return !this.closed && this.socket.writableLength < 1024 * 1024;
  }

  /** Ends the link with a goodbye; the peer logs `reason`. */
  close(reason: string): void {
    if (this.closed) return;
    this.write({ t: 'bye', reason: reason.slice(0, 200) });
    this.socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.finish(reason);
  }

  /** Drops the connection without a goodbye (tests use this to simulate a cut cable). */
  destroy(reason = 'destroyed'): void {
    this.socket.destroy();
    this.finish(reason);
  }

  private write(frame: Frame): boolean {
    this.lastSent = Date.now();
    return this.socket.write(encodeFrame(frame));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const reason = err instanceof ProtocolError ? `protocol error (${err.code}): ${err.message}` : `decoder failure: ${(err as Error).message}`;
      this.log.warn({ reason }, 'closing link on malformed input');
      this.close(reason);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Frame): void {
    if (!this.isUp) {
      if (frame.t === 'hello') return this.onHello(frame);
      if (frame.t === 'bye') return this.finish(`peer said bye: ${frame.reason}`);
      return this.protocolError(`${frame.t} frame before hello`);
    }
    switch (frame.t) {
      case 'hello':
        return this.protocolError('second hello');
      case 'ping':
        this.write({ t: 'pong', n: frame.n });
        return;
      case 'pong':
        return;
      case 'bye':
        this.log.info({ reason: frame.reason }, 'peer closed link');
        this.socket.end();
        return this.finish(`peer said bye: ${frame.reason}`);
      default: {
        const cap = CAPABILITY_OF[frame.t];
        if (cap && !this.caps.has(cap)) return this.protocolError(`${frame.t} frame without capability ${cap}`);
        this.emit('frame', frame);
      }
    }
  }

  private onHello(hello: FrameOf<'hello'>): void {
    if (hello.id !== this.peerId) return this.protocolError('hello names an ID other than the certificate proves');
    const version = Math.min(hello.v, PROTOCOL_VERSION);
    if (version < hello.min || version < MIN_PROTOCOL_VERSION) {
      return this.close(`no common protocol version (mine ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}, theirs ${hello.min}..${hello.v})`);
    }
    this.version = version;
    this.caps = new Set(hello.caps.filter((c) => (CAPABILITIES as readonly string[]).includes(c)));
    this.peerHello = hello;
    this.isUp = true;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.heartbeat = setInterval(() => this.tick(), Math.min(1000, this.timing.pingIdleMs / 2));
    this.emit('up', hello);
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastReceived > this.timing.deadAfterMs) {
      this.log.info({ silentMs: now - this.lastReceived }, 'link dead: no traffic');
      this.destroy('heartbeat timeout');
      return;
    }
    if (now - this.lastSent >= this.timing.pingIdleMs) this.write({ t: 'ping', n: ++this.pingCounter });
  }

  private protocolError(reason: string): void {
    this.log.warn({ reason }, 'closing link on protocol violation');
    this.close(`protocol error: ${reason}`);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.isUp = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.socket.destroySoon?.();
    this.emit('close', reason);
  }
}
