// One parley-file/1 connection as frames: decoding and validation on the way in, backpressure
// on the way out, and one typed reason when it ends, whichever side or cause ended it.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import {
  encodeDataHead,
  encodeFileFrame,
  FileFrameDecoder,
  FileStreamError,
  type DataTarget,
  type EndCode,
  type FileFrame,
  type OutgoingFileFrame,
} from './stream-frames.ts';

export type ChannelEnd =
  /** The other side sent `end`. */
  | { kind: 'peer-end'; code: EndCode; resumable: boolean }
  /** This side ended it (end() or a protocol violation by the other side). */
  | { kind: 'local'; code: EndCode; resumable: boolean; detail: string }
  /** The connection closed or failed without an `end`: a link drop. */
  | { kind: 'network'; detail: string };

export interface ChannelEvents {
  frame: [frame: FileFrame];
  closed: [end: ChannelEnd];
}

/** How long a graceful end waits for the other side to close before destroying the socket. */
const END_GRACE_MS = 2000;

export class FileChannel extends EventEmitter<ChannelEvents> {
  readonly socket: Duplex;
  readonly #decoder: FileFrameDecoder;
  /** Set by the receiving side: where a data frame's bytes go (see FileFrameDecoder). */
  dataTarget: DataTarget | null = null;
  #ended: ChannelEnd | null = null;
  readonly #closed: Promise<ChannelEnd>;
  #resolveClosed!: (end: ChannelEnd) => void;
  readonly #log: Logger | undefined;

  constructor(socket: Duplex, opts: { log?: Logger; idleMs?: number } = {}) {
    super();
    this.socket = socket;
    this.#log = opts.log;
    this.#closed = new Promise((r) => (this.#resolveClosed = r));
    this.#decoder = new FileFrameDecoder({ dataTarget: (i, o, n) => this.dataTarget?.(i, o, n) ?? null });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => this.#finish({ kind: 'network', detail: err.message }));
    socket.on('close', () => this.#finish({ kind: 'network', detail: 'connection closed' }));
    // A half-close without `end` is a dropped stream too; answer it so the socket goes away.
    socket.on('end', () => {
      this.#finish({ kind: 'network', detail: 'the other side closed without end' });
      socket.end();
    });
    if (opts.idleMs !== undefined && 'setTimeout' in socket && typeof socket.setTimeout === 'function') {
      (socket as Duplex & { setTimeout(ms: number, cb: () => void): void }).setTimeout(opts.idleMs, () =>
        this.#abort({ kind: 'network', detail: `nothing moved for ${opts.idleMs} ms` }),
      );
    }
  }

  /** How the channel ended, once it has. */
  get ended(): ChannelEnd | null {
    return this.#ended;
  }

  /** Resolves when the channel ends, with the reason. */
  whenClosed(): Promise<ChannelEnd> {
    return this.#closed;
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    let frames: FileFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.violation(err instanceof FileStreamError ? `${err.code}: ${err.message}` : String(err));
      return;
    }
    for (const f of frames) {
      if (this.#ended) return;
      if (f.t === 'end') {
        this.#abort({ kind: 'peer-end', code: f.code, resumable: f.resumable }, true);
        return;
      }
      this.emit('frame', f);
    }
  }

  /** Sends a frame; false means the socket's buffer is full and the caller should await drained(). */
  send(frame: OutgoingFileFrame): boolean {
    if (this.#ended) return false;
    return this.socket.write(encodeFileFrame(frame));
  }

  /** Sends one data frame without copying `bytes` into a frame buffer. */
  sendData(index: number, offset: number, bytes: Uint8Array): boolean {
    if (this.#ended) return false;
    const head = encodeDataHead(index, offset, bytes.byteLength);
    const s = this.socket as Duplex & { cork(): void; uncork(): void };
    s.cork();
    s.write(head);
    const more = s.write(bytes);
    s.uncork();
    return more;
  }

  /** Resolves when the socket can take more, or when the channel ends (check `ended`). */
  drained(): Promise<void> {
    if (this.#ended || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.off('closed', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.on('closed', done);
    });
  }

  /** Tells the other side why, then closes. */
  end(code: EndCode, resumable: boolean, detail: string = code): void {
    if (this.#ended) return;
    this.socket.write(encodeFileFrame({ t: 'end', code, resumable }));
    this.#abort({ kind: 'local', code, resumable, detail }, true);
  }

  /** The other side broke the protocol: tell it, and close. Nothing more from it is read. */
  violation(detail: string): void {
    if (this.#ended) return;
    this.#log?.info({ detail }, 'file stream protocol violation');
    this.end('protocol', true, detail);
  }

  /** Closes gracefully after a frame was sent that ends the exchange (`done`). */
  close(): void {
    this.#abort({ kind: 'local', code: 'canceled', resumable: true, detail: 'closed' }, true);
  }

  destroy(detail = 'destroyed'): void {
    this.#abort({ kind: 'network', detail });
  }

  #abort(end: ChannelEnd, graceful = false): void {
    if (this.#ended) return;
    this.#finish(end);
    if (!graceful) {
      this.socket.destroy();
      return;
    }
    // Let what was written (an `end`, a `done`) reach the other side, then close; a side that
    // does not close in time is cut off.
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), END_GRACE_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  #finish(end: ChannelEnd): void {
    if (this.#ended) return;
    this.#ended = end;
    this.socket.on('error', () => {});
    this.#log?.debug({ end }, 'file stream closed');
    this.#resolveClosed(end);
    this.emit('closed', end);
  }
}
