// The receiving side of one parley-file/1 stream: name the transfer and what is already here,
// then keep a bounded window of chunks asked for, verify each through the DownloadSink and
// tell the sender which are durable. One PullStream is one connection; the TransferManager
// opens another after a drop, and the sink's journal says where to go on.
import type { Logger } from '../log.ts';
import type { DownloadSink } from './download-sink.ts';
import { TransferError } from './errors.ts';
import type { ChannelEnd, FileChannel } from './file-channel.ts';
import { chunkLength } from './manifest.ts';
import { FILE_STREAM_VERSION, haveBitmap, MAX_WINDOW_CHUNKS, type EndCode, type FileFrame } from './stream-frames.ts';

export type PullFailureKind =
  /** The connection dropped or went silent: try again with backoff. */
  | 'network'
  /** The sender ended the stream (`code` says why; `resumable` whether to try again). */
  | 'peer-end'
  /** The sender broke the protocol or sent a chunk that does not match its hash. */
  | 'misbehaved'
  /** This side cannot go on (disk full, the sink failed): `error` has the detail. */
  | 'local';

export class PullFailure extends Error {
  readonly kind: PullFailureKind;
  readonly code: EndCode | null;
  readonly resumable: boolean;
  readonly error: TransferError | null;
  constructor(kind: PullFailureKind, message: string, opts: { code?: EndCode; resumable?: boolean; error?: TransferError } = {}) {
    super(message);
    this.name = 'PullFailure';
    this.kind = kind;
    this.code = opts.code ?? null;
    this.resumable = opts.resumable ?? true;
    this.error = opts.error ?? null;
  }
}

export interface PullOptions {
  channel: FileChannel;
  sink: DownloadSink;
  digest: string;
  /**
   * Bytes of chunks asked for and not yet received in full: at least 2 chunks, at most what
   * the sender allows. Chunks received and not yet durable may take as much again.
   */
  windowBytes: number;
  /** No `ready`, or no byte of an awaited chunk, for this long: the stream is dead. */
  stallMs: number;
  log: Logger;
  /** A chunk is verified and durable. */
  onVerified: (index: number) => void;
}

interface Incoming {
  buf: Buffer;
  got: number;
  /** Bytes handed to the channel's decoder to fill (up to a data frame still arriving). */
  claimed: number;
}

export class PullStream {
  readonly #o: PullOptions;
  readonly #ch: FileChannel;
  #window = 0;
  #ready = false;
  /** Chunks asked for and not received in full. */
  readonly #incoming = new Map<number, Incoming>();
  /** Chunks received in full whose writeChunk has not resolved. */
  #writing = 0;
  #pending: number[] = [];
  readonly #free: Buffer[] = [];
  #okQueue: number[] = [];
  #okScheduled = false;
  #lastByteAt = performance.now();
  #settle: { resolve: () => void; reject: (f: PullFailure) => void } | null = null;
  #failure: PullFailure | null = null;
  readonly #offFrame: () => void;
  readonly #offClosed: () => void;
  #stallTimer: NodeJS.Timeout | null = null;

  constructor(opts: PullOptions) {
    this.#o = opts;
    this.#ch = opts.channel;
    const onFrame = (f: FileFrame) => this.#onFrame(f);
    const onClosed = (end: ChannelEnd) => this.#onClosed(end);
    this.#ch.on('frame', onFrame);
    this.#ch.on('closed', onClosed);
    this.#offFrame = () => this.#ch.off('frame', onFrame);
    this.#offClosed = () => this.#ch.off('closed', onClosed);
    // A data frame that continues a chunk asked for, where it should, is copied by the decoder
    // straight into the chunk's buffer as its bytes arrive; anything else is decoded as usual
    // and judged in #onFrame.
    this.#ch.dataTarget = (i, o, n) => {
      const inc = this.#failure ? undefined : this.#incoming.get(i);
      if (!inc || o !== inc.claimed || o + n > inc.buf.byteLength) return null;
      inc.claimed = o + n;
      return inc.buf.subarray(o, o + n);
    };
  }

  /** Opens the transfer on the stream. Resolves once every chunk is verified and durable. */
  run(): Promise<void> {
    const { sink } = this.#o;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#settle = { resolve, reject };
    if (this.#ch.ended) {
      this.#onClosed(this.#ch.ended);
      return promise;
    }
    this.#pending = sink.missingChunks();
    const missing = new Set(this.#pending);
    this.#ch.send({
      t: 'open',
      v: FILE_STREAM_VERSION,
      id: sink.transferId,
      digest: this.#o.digest,
      have: haveBitmap(sink.chunkCount, (i) => !missing.has(i)),
    });
    this.#lastByteAt = performance.now();
    const every = Math.max(50, Math.min(1000, this.#o.stallMs / 4));
    this.#stallTimer = setInterval(() => this.#checkStall(), every);
    this.#stallTimer.unref();
    return promise;
  }

  /** Asks again for chunks that read back wrong after complete() (the stream stays up). */
  more(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#settle = { resolve, reject };
    if (this.#failure) {
      reject(this.#failure);
      return promise;
    }
    this.#pending = this.#o.sink.missingChunks();
    this.#lastByteAt = performance.now();
    this.#fill();
    return promise;
  }

  /** The file is published: tell the sender, and close. */
  finish(): void {
    this.#stop();
    this.#ch.send({ t: 'done' });
    this.#ch.close();
  }

  /** This side gives up on the stream (a pending run() rejects with 'local'), telling the sender why. */
  abort(code: EndCode, resumable: boolean, detail: string = code): void {
    this.#fail(new PullFailure('local', detail, { code, resumable }));
    this.#ch.end(code, resumable, detail);
  }

  #stop(): void {
    this.#ch.dataTarget = null;
    if (this.#stallTimer) clearInterval(this.#stallTimer);
    this.#stallTimer = null;
    this.#offFrame();
    this.#offClosed();
  }

  #checkStall(): void {
    const waiting = !this.#ready || this.#incoming.size > 0;
    if (waiting && performance.now() - this.#lastByteAt > this.#o.stallMs) {
      this.#fail(new PullFailure('network', `nothing received for ${this.#o.stallMs} ms`));
      this.#ch.destroy('stalled');
    }
  }

  #fail(f: PullFailure): void {
    if (this.#failure) return;
    this.#failure = f;
    this.#stop();
    this.#settle?.reject(f);
    this.#settle = null;
  }

  #onClosed(end: ChannelEnd): void {
    if (end.kind === 'peer-end') {
      this.#fail(new PullFailure('peer-end', `the sender ended the stream: ${end.code}`, { code: end.code, resumable: end.resumable }));
    } else if (end.kind === 'local') {
      // A violation we reported (#violation) has already failed the pull with its reason.
      this.#fail(new PullFailure('misbehaved', end.detail, { code: end.code }));
    } else {
      this.#fail(new PullFailure('network', end.detail));
    }
  }

  #violation(detail: string): void {
    this.#fail(new PullFailure('misbehaved', detail, { code: 'protocol' }));
    this.#ch.violation(detail);
  }

  #onFrame(f: FileFrame): void {
    if (this.#failure) return;
    if (f.t === 'ready') {
      if (this.#ready) return this.#violation('a second ready');
      this.#ready = true;
      const chunk = this.#o.sink.manifest.chunkSize;
      this.#window = Math.min(f.window, MAX_WINDOW_CHUNKS, Math.max(2, Math.floor(this.#o.windowBytes / chunk)));
      this.#lastByteAt = performance.now();
      this.#fill();
      return;
    }
    if (f.t !== 'data') return this.#violation(`unexpected ${f.t} frame from the sender`);
    if (!this.#ready) return this.#violation('data before ready');
    const inc = this.#incoming.get(f.i);
    if (!inc) return this.#violation(`data for chunk ${f.i}, which was not asked for`);
    if (f.o !== inc.got) return this.#violation(`data for chunk ${f.i} at ${f.o}, expected ${inc.got}`);
    if (f.o + f.b.byteLength > inc.buf.byteLength) return this.#violation(`data beyond the end of chunk ${f.i}`);
    // Already in place when the decoder copied it there.
    if (f.b.buffer !== inc.buf.buffer || f.b.byteOffset !== inc.buf.byteOffset + f.o) inc.buf.set(f.b, f.o);
    inc.got += f.b.byteLength;
    inc.claimed = Math.max(inc.claimed, inc.got);
    this.#lastByteAt = performance.now();
    if (inc.got < inc.buf.byteLength) return;
    this.#incoming.delete(f.i);
    this.#write(f.i, inc.buf);
    this.#fill();
  }

  #write(index: number, data: Buffer): void {
    this.#writing++;
    this.#o.sink.writeChunk(index, data).then(
      () => {
        this.#writing--;
        this.#release(data);
        if (this.#failure) return;
        this.#o.onVerified(index);
        this.#ok(index);
        this.#fill();
      },
      (err: unknown) => {
        this.#writing--;
        this.#release(data);
        if (this.#failure) return;
        const e = err instanceof TransferError ? err : new TransferError('io', (err as Error).message, { cause: err });
        if (e.code === 'chunk-hash-mismatch' || e.code === 'chunk-size' || e.code === 'chunk-out-of-range') {
          this.#fail(new PullFailure('misbehaved', e.message, { code: 'bad-chunk', error: e }));
          this.#ch.end('bad-chunk', true, e.message);
        } else {
          this.#fail(new PullFailure('local', e.message, { code: e.peerCode, resumable: e.resumable, error: e }));
          this.#ch.end(e.peerCode, e.resumable, e.message);
        }
      },
    );
  }

  /**
   * Chunk buffers are reused once the sink is done with them: a fresh 1 MiB buffer per chunk
   * made garbage collection a tenth of the receiver's CPU time. They are shared memory, so the
   * sink's hash workers read them where they lie instead of copying each chunk.
   */
  #buffer(length: number): Buffer {
    const size = this.#o.sink.manifest.chunkSize;
    const buf = this.#free.pop() ?? Buffer.from(new SharedArrayBuffer(size));
    return length === size ? buf : buf.subarray(0, length);
  }

  #release(data: Buffer): void {
    if (this.#free.length < 2 * this.#window && data.buffer.byteLength >= this.#o.sink.manifest.chunkSize && data.byteOffset === 0) {
      this.#free.push(Buffer.from(data.buffer, 0, this.#o.sink.manifest.chunkSize));
    }
  }

  /** `ok` frames, batched per event-loop turn (a group commit resolves many chunks at once). */
  #ok(index: number): void {
    this.#okQueue.push(index);
    if (this.#okScheduled) return;
    this.#okScheduled = true;
    setImmediate(() => {
      this.#okScheduled = false;
      while (this.#okQueue.length > 0 && !this.#ch.ended) this.#ch.send({ t: 'ok', i: this.#okQueue.splice(0, MAX_WINDOW_CHUNKS) });
      this.#okQueue.length = 0;
    });
  }

  #fill(): void {
    if (!this.#ready || this.#failure) return;
    const batch: number[] = [];
    // The window bounds what is on the way; chunks received and waiting for their fsync do
    // not hold it up (group commit makes them wait for each other), but they are bounded too,
    // since their buffers are held until then.
    while (
      this.#pending.length > 0 &&
      this.#incoming.size + batch.length < this.#window &&
      this.#incoming.size + this.#writing + batch.length < 2 * this.#window
    ) {
      const i = this.#pending.shift()!;
      batch.push(i);
      this.#incoming.set(i, { buf: this.#buffer(chunkLength(this.#o.sink.manifest, i)), got: 0, claimed: 0 });
    }
    if (batch.length > 0) {
      this.#lastByteAt = performance.now();
      this.#ch.send({ t: 'req', i: batch });
    }
    if (this.#pending.length === 0 && this.#incoming.size === 0 && this.#writing === 0) {
      const settle = this.#settle;
      this.#settle = null;
      settle?.resolve();
    }
  }
}
