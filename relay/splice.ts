// Copies bytes between the two data connections of a session, blindly: the relay neither
// parses nor buffers more than one chunk per direction. Flow control follows the slower
// side (pause on a full socket buffer), a token bucket caps bandwidth, and a session with no
// traffic either way is closed. The `tamper` hook exists only so tests can play a malicious
// relay; the peers' TLS must turn any damage into a failed link.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { TokenBucket } from './rate-limit.ts';

export type TamperMode = 'flip' | 'inject' | 'replay';
export type Side = 'a' | 'b';

export interface SpliceOptions {
  id: number;
  /** Per direction; 0 = unlimited. */
  bytesPerSec: number;
  /** Shared by all sessions, per direction; null = unlimited. */
  global: { a: TokenBucket; b: TokenBucket } | null;
  idleMs: number;
  tamper: () => { mode: TamperMode; afterBytes: number } | null;
  /** Called with every chunk forwarded, after any tampering (tests capture the relay's view). */
  capture: ((session: number, from: Side, chunk: Buffer) => void) | null;
  onBytes: (n: number) => void;
  onTamper: () => void;
  onClose: (reason: string) => void;
}

export class Splice {
  readonly id: number;
  readonly started = Date.now();
  bytes = { a: 0, b: 0 };
  private closed = false;
  private lastActivity = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private readonly sockets: { a: net.Socket; b: net.Socket };
  private readonly opts: SpliceOptions;

  constructor(a: net.Socket, b: net.Socket, opts: SpliceOptions) {
    this.id = opts.id;
    this.opts = opts;
    this.sockets = { a, b };
    this.pipe('a', a, b);
    this.pipe('b', b, a);
    const every = Math.max(20, Math.min(10_000, Math.floor(opts.idleMs / 4)));
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastActivity > opts.idleMs) this.close('idle');
    }, every);
    this.idleTimer.unref();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    this.sockets.a.destroy();
    this.sockets.b.destroy();
    this.opts.onClose(reason);
  }

  private pipe(from: Side, src: net.Socket, dst: net.Socket): void {
    const bucket = this.opts.bytesPerSec > 0 ? new TokenBucket(this.opts.bytesPerSec, this.opts.bytesPerSec) : null;
    const global = this.opts.global?.[from] ?? null;
    // Several reasons may hold a direction at once (full buffer, rate limit); resume when none do.
    let holds = 0;
    const hold = () => {
      if (holds++ === 0) src.pause();
    };
    const release = () => {
      if (--holds === 0 && !this.closed) src.resume();
    };
    let forwarded = 0;
    let tampered = false;
    let previous: Buffer | null = null;
    src.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.lastActivity = Date.now();
      let out = chunk;
      const t = tampered ? null : this.opts.tamper();
      if (t && forwarded + chunk.byteLength > t.afterBytes) {
        out = damage(chunk, Math.max(0, t.afterBytes - forwarded), t.mode, previous);
        tampered = true;
        this.opts.onTamper();
      }
      previous = chunk;
      forwarded += chunk.byteLength;
      this.bytes[from] += out.byteLength;
      this.opts.onBytes(out.byteLength);
      this.opts.capture?.(this.id, from, out);
      if (!dst.write(out)) {
        hold();
        dst.once('drain', release);
      }
      const wait = Math.max(bucket?.takeWithDebt(out.byteLength) ?? 0, global?.takeWithDebt(out.byteLength) ?? 0);
      if (wait > 0) {
        hold();
        setTimeout(release, wait).unref();
      }
    });
    src.on('end', () => dst.end());
    src.on('close', () => this.close(`${from} side closed`));
    src.on('error', () => this.close(`${from} side error`));
  }
}

function damage(chunk: Buffer, at: number, mode: TamperMode, previous: Buffer | null): Buffer {
  const i = Math.min(at, chunk.byteLength - 1);
  switch (mode) {
    case 'flip': {
      const out = Buffer.from(chunk);
      out[i] = out[i]! ^ 0x01;
      return out;
    }
    case 'inject':
      return Buffer.concat([chunk.subarray(0, i), randomBytes(16), chunk.subarray(i)]);
    case 'replay':
      // Whole records the receiver has already seen, sent again (TLS writes arrive as whole
      // records, so this replays records rather than cutting one in half).
      return Buffer.concat([previous ?? chunk, chunk]);
  }
}
