// File transfers of one node, both directions, over parley-file/1 streams (stream-frames.ts).
//
// Sending: offer() hashes a file and registers it for one peer; that peer's streams
// (handleIncoming, routed here by the listener's ALPN) fetch its chunks. Receiving: accept()
// opens a DownloadSink and pulls from the sender over streams from the node's connect()
// (a direct dial or a relay tunnel, pinned TLS either way); after a drop it reconnects with
// backoff and goes on from the last verified chunk; after a restart start() resumes from the
// store and the sinks' journals. The offer/accept exchange itself (who offers what to whom,
// auto-accept rules) is the node's, over the chat link.
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import { PeerIdSchema, type PeerId } from '../../contract/contract.ts';
import { LinkError, verifiedPeerId } from '../links/tls.ts';
import type { Logger } from '../log.ts';
import { ulid } from 'ulid';
import { DownloadSink, type Received } from './download-sink.ts';
import { TransferError, type TransferErrorCode } from './errors.ts';
import { FileChannel } from './file-channel.ts';
import { FileSource, type SourceOptions } from './file-source.ts';
import { chunkCount, chunkLength, FileManifestSchema, manifestDigest, TransferIdSchema, type FileManifest } from './manifest.ts';
import { PullFailure, PullStream } from './pull-stream.ts';
import { RateMeter } from './rate.ts';
import { SendStream, type SendOutcome } from './send-stream.ts';
import { FILE_ALPN, FILE_STREAM_VERSION, MAX_WINDOW_CHUNKS, type EndCode, type FileFrameOf } from './stream-frames.ts';
import type { StoredDownload, StoredOffer, TransferStore } from './transfer-store.ts';

export interface TransferTiming {
  /** connect() must deliver a socket within this. */
  connectTimeoutMs: number;
  /** A sender waits this long for the first frame (`open`) of an incoming stream. */
  openTimeoutMs: number;
  /** A receiver waiting for `ready` or for the bytes of a chunk it asked for gives up on the stream after this. */
  stallMs: number;
  /** A sender drops a stream on which nothing moved for this long. */
  idleMs: number;
  /** Reconnect backoff after a drop: doubling from min to max, reset by a verified chunk. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Streams in a row that broke the protocol or sent bad chunks (without a verified chunk between) before giving up. */
  maxStrikes: number;
  /** Bytes of chunks a receiver asks for ahead (at least two chunks). */
  windowBytes: number;
  /** Progress events per transfer at most this often. */
  progressEveryMs: number;
}

export const defaultTransferTiming: TransferTiming = {
  connectTimeoutMs: 15_000,
  openTimeoutMs: 10_000,
  stallMs: 30_000,
  idleMs: 120_000,
  retryMinMs: 500,
  retryMaxMs: 30_000,
  maxStrikes: 5,
  windowBytes: 8 * 1024 * 1024,
  progressEveryMs: 250,
};

export type TransferDirection = 'send' | 'receive';
export type TransferState =
  | 'offered' // sending: no stream yet
  | 'sending'
  | 'connecting'
  | 'receiving'
  | 'verifying' // receiving: every chunk is here, the whole file is being checked
  | 'waiting' // a stream dropped; the receiver reconnects with backoff
  | 'failed'; // stopped with an error that retry() may overcome (`error.resumable`)

/** What the other side or this side said went wrong: a TransferError code here, an `end` code from the peer. */
export type TransferFailureCode = TransferErrorCode | EndCode | 'wrong-peer';

export interface TransferProgress {
  transferId: string;
  direction: TransferDirection;
  peerId: PeerId;
  /** Verified on the receiver (on the sender: as the receiver reported it). */
  bytesDone: number;
  bytesTotal: number;
  /** Average over the last few seconds. */
  bytesPerSec: number;
  /** At the current speed; null while there is no speed to go by. */
  etaMs: number | null;
}

export interface TransferInfo extends TransferProgress {
  state: TransferState;
  /** The manifest's name as the sender gave it: peer-supplied, show it as text only. */
  name: string;
  error: TransferFailure | null;
}

export interface TransferFailure {
  code: TransferFailureCode;
  /** Which side's problem: 'peer' when the other side reported it. */
  by: 'me' | 'peer';
  resumable: boolean;
}

export interface TransferEvents {
  progress: [p: TransferProgress];
  done: [d: { transferId: string; direction: TransferDirection; peerId: PeerId; received?: Received }];
  failed: [f: { transferId: string; direction: TransferDirection; peerId: PeerId } & TransferFailure];
  canceled: [c: { transferId: string; direction: TransferDirection; peerId: PeerId; by: 'me' | 'peer' }];
}

export interface TransferManagerOptions {
  selfId: PeerId;
  store: TransferStore;
  /**
   * A pinned TLS socket to `peerId` that negotiated `parley-file/1`: a direct dial
   * (dial({alpn: FILE_ALPN})) or a relay tunnel asked for with that ALPN. Checked again here.
   */
  connect: (peerId: PeerId) => Promise<tls.TLSSocket>;
  log: Logger;
  timing?: Partial<TransferTiming>;
  /** Chunks a receiver may ask for at once from this node (announced in `ready`). */
  sendWindowChunks?: number;
}

export interface AcceptOptions {
  /** A folder inside the download folder, e.g. from createUniqueFolder() for a folder transfer. */
  into?: string;
  maxFileBytes?: number;
  keepFreeBytes?: number;
}

interface Outgoing {
  rec: StoredOffer;
  digest: string;
  /** The receiver reported a bad chunk: hash chunks before sending them from now on. */
  verifyChunks: boolean;
  /** The live stream of each receiver (one for a direct offer; a group offer's members pull at once). */
  streams: Map<PeerId, SendStream>;
  /** A group offer: the members that have the file. It is over once all have it. */
  done: Set<PeerId>;
  state: TransferState;
  bytesDone: number;
  meter: RateMeter;
  lastEmit: number;
  error: TransferFailure | null;
}

interface Incoming {
  rec: StoredDownload;
  digest: string;
  sink: DownloadSink | null;
  pull: PullStream | null;
  state: TransferState;
  bytesDone: number;
  meter: RateMeter;
  lastEmit: number;
  error: TransferFailure | null;
  attempt: number;
  strikes: number;
  /** Set by cancel() and close(): the loop stops at its next step. */
  stopped: boolean;
  /** Aborted with `stopped`: a connect() under way is not waited for. */
  stop: AbortController;
  /** Published. */
  completed: boolean;
  running: Promise<void> | null;
  wake: (() => void) | null;
}

/** Tombstones of offers canceled here, so a receiver asking again hears 'canceled', not 'unknown'. */
const MAX_TOMBSTONES = 1000;

export class TransferManager extends EventEmitter<TransferEvents> {
  readonly #o: TransferManagerOptions;
  readonly #t: TransferTiming;
  readonly #log: Logger;
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #incoming = new Map<string, Incoming>();
  readonly #tombstones = new Map<string, readonly PeerId[]>();
  readonly #channels = new Set<FileChannel>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #closing = new AbortController();
  #closed = false;

  constructor(opts: TransferManagerOptions) {
    super();
    this.#o = opts;
    this.#t = { ...defaultTransferTiming, ...opts.timing };
    this.#log = opts.log;
  }

  /** Loads the offers and downloads of an earlier run and resumes the downloads. */
  async start(): Promise<void> {
    for (const rec of await this.#o.store.loadOffers()) this.#addOutgoing(rec);
    for (const rec of await this.#o.store.loadDownloads()) {
      if (this.#incoming.has(rec.transferId)) continue;
      this.#runIncoming(this.#addIncoming(rec));
    }
  }

  // ---- sending -------------------------------------------------------------------------

  /**
   * Hashes `file` and lets `peerId` (only) fetch it: one peer, or a group's members (each pulls
   * on its own streams; the offer lasts until all have it or it is canceled). Returns what the
   * node sends in its offer; the transfer runs when a receiver accepts and pulls.
   */
  async offer(peerId: PeerId | readonly PeerId[], file: string, opts: SourceOptions = {}): Promise<{ transferId: string; manifest: FileManifest; digest: string }> {
    this.#usable();
    const peers = (typeof peerId === 'string' ? [peerId] : [...new Set(peerId)]).map((p) => PeerIdSchema.parse(p));
    if (peers.length === 0) throw new RangeError('an offer is made to at least one peer');
    const source = await FileSource.open(file, opts);
    await source.close();
    const rec: StoredOffer = {
      transferId: ulid(),
      peerId: peers[0]!,
      ...(typeof peerId === 'string' ? {} : { peers }),
      file,
      manifest: source.manifest,
      stamp: source.stamp,
    };
    await this.#o.store.putOffer(rec);
    const o = this.#addOutgoing(rec);
    this.#log.info({ transferId: rec.transferId, peer: peers[0]!.slice(0, 7), peers: peers.length, bytes: rec.manifest.size }, 'file offered');
    return { transferId: rec.transferId, manifest: rec.manifest, digest: o.digest };
  }

  #addOutgoing(rec: StoredOffer): Outgoing {
    const o: Outgoing = {
      rec,
      digest: manifestDigest(rec.manifest),
      verifyChunks: false,
      streams: new Map(),
      done: new Set(),
      state: 'offered',
      bytesDone: 0,
      meter: new RateMeter(),
      lastEmit: 0,
      error: null,
    };
    this.#outgoing.set(rec.transferId, o);
    return o;
  }

  /**
   * An incoming parley-file/1 connection (the listener's or a relay tunnel's), whose peer
   * proved `peerId`. It must name an offer made to that peer.
   */
  handleIncoming(socket: tls.TLSSocket, peerId: PeerId): void {
    if (this.#closed || socket.alpnProtocol !== FILE_ALPN) {
      socket.destroy();
      return;
    }
    const ch = this.#track(new FileChannel(socket, { log: this.#log, idleMs: this.#t.idleMs }));
    const timer = setTimeout(() => ch.destroy('no open in time'), this.#t.openTimeoutMs);
    timer.unref();
    ch.once('closed', () => clearTimeout(timer));
    ch.once('frame', (f) => {
      clearTimeout(timer);
      if (f.t !== 'open') return ch.violation(`expected open, got ${f.t}`);
      this.#serve(ch, peerId, f);
    });
  }

  #serve(ch: FileChannel, peerId: PeerId, open: FileFrameOf<'open'>): void {
    const o = this.#outgoing.get(open.id);
    // Whether an offer exists is only told to the peer it was made to.
    if (!o || !peersOf(o.rec).includes(peerId) || o.digest !== open.digest) {
      const canceled = this.#tombstones.get(open.id)?.includes(peerId) === true;
      this.#log.info({ transferId: open.id, peer: peerId.slice(0, 7), canceled }, 'file stream for no offer of this peer');
      ch.end(canceled ? 'canceled' : 'unknown-transfer', false);
      return;
    }
    const count = chunkCount(o.rec.manifest.size, o.rec.manifest.chunkSize);
    if (open.have.byteLength !== Math.ceil(count / 8)) return ch.violation('have bitmap of the wrong size');
    // A receiver reconnecting after a drop we have not noticed yet: the new stream wins.
    o.streams.get(peerId)?.end('superseded', true);
    const stream = new SendStream({
      channel: ch,
      transferId: o.rec.transferId,
      file: o.rec.file,
      manifest: o.rec.manifest,
      stamp: o.rec.stamp,
      verifyChunks: o.verifyChunks,
      have: open.have,
      window: Math.min(MAX_WINDOW_CHUNKS, this.#o.sendWindowChunks ?? MAX_WINDOW_CHUNKS),
      log: this.#log,
      onAcked: (bytes) => {
        o.bytesDone = bytes;
        o.meter.sample(bytes);
        this.#progress(o, 'send', peerId, o.rec.manifest.size);
      },
    });
    o.streams.set(peerId, stream);
    o.state = 'sending';
    o.error = null;
    o.meter.reset(stream.ackedBytes);
    stream.start();
    void stream.outcome.then((out) => this.#sendEnded(o, stream, out, peerId));
  }

  async #sendEnded(o: Outgoing, stream: SendStream, out: SendOutcome, peerId: PeerId): Promise<void> {
    if (o.streams.get(peerId) !== stream) return;
    o.streams.delete(peerId);
    const base = { transferId: o.rec.transferId, direction: 'send' as const, peerId };
    if (o.rec.peers) {
      // A group offer: one member's outcome is that member's; the others may still pull.
      if (out.kind === 'done' || (out.kind === 'peer-end' && out.code === 'complete')) {
        o.done.add(peerId);
        this.#log.info({ transferId: o.rec.transferId, peer: peerId.slice(0, 7) }, 'file sent to a member');
        if (o.done.size >= o.rec.peers.length) {
          this.#outgoing.delete(o.rec.transferId);
          await this.#o.store.deleteOffer(o.rec.transferId).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'could not forget an offer'));
        }
        this.emit('done', base);
      } else if (out.kind === 'peer-end' && out.code === 'canceled') this.emit('canceled', { ...base, by: 'peer' });
      else if (out.kind === 'local' && (out.code === 'source-changed' || out.code === 'source-gone')) {
        this.#outgoing.delete(o.rec.transferId);
        await this.#o.store.deleteOffer(o.rec.transferId).catch(() => {});
        o.state = 'failed';
        o.error = { code: out.code, by: 'me', resumable: false };
        this.emit('failed', { ...base, ...o.error });
      }
      if (o.streams.size === 0 && o.state === 'sending') o.state = 'waiting';
      return;
    }
    const finished = async () => {
      this.#outgoing.delete(o.rec.transferId);
      await this.#o.store.deleteOffer(o.rec.transferId).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'could not forget an offer'));
    };
    if (out.kind === 'done' || (out.kind === 'peer-end' && out.code === 'complete')) {
      await finished();
      this.#log.info({ transferId: o.rec.transferId, bytes: o.rec.manifest.size }, 'file sent');
      this.#progress(o, 'send', o.rec.peerId, o.rec.manifest.size, true);
      this.emit('done', base);
      return;
    }
    if (out.kind === 'peer-end' && out.code === 'canceled') {
      await finished();
      this.#tomb(o.rec.transferId, peersOf(o.rec));
      this.emit('canceled', { ...base, by: 'peer' });
      return;
    }
    // A bad chunk: the receiver asks again by itself; from now on each chunk is hashed here
    // first, so a file that changed is told apart from a bad link.
    if (out.kind === 'peer-end' && out.code === 'bad-chunk') o.verifyChunks = true;
    if (out.kind === 'peer-end' && out.code !== 'protocol' && out.code !== 'superseded' && out.code !== 'bad-chunk') {
      // The receiver's disk is full, it refused the name, a chunk it got was bad...
      o.state = out.resumable ? 'waiting' : 'failed';
      o.error = { code: out.code, by: 'peer', resumable: out.resumable };
      if (!out.resumable) await finished();
      this.emit('failed', { ...base, ...o.error });
      return;
    }
    if (out.kind === 'local' && (out.code === 'source-changed' || out.code === 'source-gone')) {
      await finished();
      o.state = 'failed';
      o.error = { code: out.code, by: 'me', resumable: false };
      this.emit('failed', { ...base, ...o.error });
      return;
    }
    // A drop, a superseded stream, a receiver that broke the protocol, a read that may work
    // later: the receiver comes back on its own.
    if (this.#outgoing.get(o.rec.transferId) === o) o.state = 'waiting';
  }

  #tomb(transferId: string, peers: readonly PeerId[]): void {
    this.#tombstones.set(transferId, peers);
    if (this.#tombstones.size > MAX_TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value!);
  }

  // ---- receiving -----------------------------------------------------------------------

  /**
   * Receives the file `from` offered into `dir` and keeps at it until it is published,
   * canceled, or fails. Rejects at once (and tells the sender) when the file cannot be
   * received here: refused name, too large, not enough space.
   */
  async accept(transferId: string, manifest: FileManifest, from: PeerId, dir: string, opts: AcceptOptions = {}): Promise<void> {
    this.#usable();
    const id = TransferIdSchema.parse(transferId);
    const m = FileManifestSchema.parse(manifest);
    PeerIdSchema.parse(from);
    if (this.#incoming.has(id)) throw new TransferError('busy', 'this transfer is already being received');
    const rec: StoredDownload = {
      transferId: id,
      peerId: from,
      dir,
      manifest: m,
      ...(opts.into === undefined ? {} : { into: opts.into }),
      ...(opts.maxFileBytes === undefined ? {} : { maxFileBytes: opts.maxFileBytes }),
      ...(opts.keepFreeBytes === undefined ? {} : { keepFreeBytes: opts.keepFreeBytes }),
    };
    // Recorded first: a crash after the sink created its temp file then finds it again.
    await this.#o.store.putDownload(rec);
    const d = this.#addIncoming(rec);
    try {
      d.sink = await this.#openSink(rec);
    } catch (err) {
      this.#incoming.delete(id);
      await this.#o.store.deleteDownload(id);
      if (err instanceof TransferError) {
        this.#tellSender(rec, manifestDigest(m), { t: 'end', code: err.peerCode, resumable: false });
        this.emit('failed', { transferId: id, direction: 'receive', peerId: from, code: err.code, by: 'me', resumable: false });
      }
      throw err;
    }
    this.#runIncoming(d);
  }

  #addIncoming(rec: StoredDownload): Incoming {
    const d: Incoming = {
      rec,
      digest: manifestDigest(rec.manifest),
      sink: null,
      pull: null,
      state: 'connecting',
      bytesDone: 0,
      meter: new RateMeter(),
      lastEmit: 0,
      error: null,
      attempt: 0,
      strikes: 0,
      stopped: false,
      stop: new AbortController(),
      completed: false,
      running: null,
      wake: null,
    };
    this.#incoming.set(rec.transferId, d);
    return d;
  }

  #openSink(rec: StoredDownload): Promise<DownloadSink> {
    return DownloadSink.open({
      dir: rec.dir,
      transferId: rec.transferId,
      manifest: rec.manifest,
      log: this.#log,
      ...(rec.into === undefined ? {} : { into: rec.into }),
      ...(rec.maxFileBytes === undefined ? {} : { maxFileBytes: rec.maxFileBytes }),
      ...(rec.keepFreeBytes === undefined ? {} : { keepFreeBytes: rec.keepFreeBytes }),
    });
  }

  #runIncoming(d: Incoming): void {
    d.stopped = false;
    d.stop = new AbortController();
    d.error = null;
    d.state = 'connecting';
    d.running = this.#receive(d)
      .catch((err: unknown) => this.#log.error({ transferId: d.rec.transferId, err: (err as Error).message }, 'file receive loop failed'))
      .finally(() => {
        d.running = null;
      });
  }

  async #receive(d: Incoming): Promise<void> {
    const { rec } = d;
    const base = { transferId: rec.transferId, direction: 'receive' as const, peerId: rec.peerId };
    while (!d.stopped) {
      if (!d.sink) {
        try {
          d.sink = await this.#openSink(rec);
        } catch (err) {
          if (d.stopped) return;
          const e = err instanceof TransferError ? err : new TransferError('io', (err as Error).message, { cause: err });
          this.#tellSender(rec, d.digest, { t: 'end', code: e.peerCode, resumable: e.resumable });
          return this.#receiveFailed(d, { code: e.code, by: 'me', resumable: e.resumable });
        }
      }
      const sink = d.sink;
      d.bytesDone = sink.progress().verifiedBytes;
      d.meter.reset(d.bytesDone);
      d.state = 'connecting';
      let socket: tls.TLSSocket;
      try {
        socket = await this.#connect(rec.peerId, d.stop.signal);
      } catch (err) {
        if (d.stopped) return;
        // Something that cannot prove the sender's ID is not a drop: it counts as a strike.
        const wrongPeer = err instanceof PullFailure || (err instanceof LinkError && err.code === 'wrong-peer');
        if (wrongPeer) d.strikes++;
        d.attempt++;
        this.#log.info({ transferId: rec.transferId, attempt: d.attempt, err: (err as Error).message }, 'file stream could not connect');
        if (d.strikes >= this.#t.maxStrikes) return this.#giveUp(d, { code: 'wrong-peer', by: 'peer', resumable: true });
        await this.#backoff(d);
        continue;
      }
      if (d.stopped) {
        socket.destroy();
        return;
      }
      const ch = this.#track(new FileChannel(socket, { log: this.#log }));
      const pull = new PullStream({
        channel: ch,
        sink,
        digest: d.digest,
        windowBytes: this.#t.windowBytes,
        stallMs: this.#t.stallMs,
        log: this.#log,
        onVerified: (i) => {
          d.attempt = 0;
          d.strikes = 0;
          d.bytesDone += chunkLength(rec.manifest, i);
          d.meter.sample(d.bytesDone);
          this.#progress(d, 'receive', rec.peerId, rec.manifest.size);
        },
      });
      d.pull = pull;
      d.state = 'receiving';
      let received: Received;
      try {
        await pull.run();
        for (;;) {
          d.state = 'verifying';
          try {
            received = await sink.complete();
            break;
          } catch (err) {
            if (!(err instanceof TransferError) || err.code !== 'corrupt-on-disk' || d.stopped) throw err;
            this.#log.warn({ transferId: rec.transferId }, 'chunks read back wrong; receiving them again');
            d.bytesDone = sink.progress().verifiedBytes;
            d.state = 'receiving';
            await pull.more();
          }
        }
      } catch (err) {
        if (d.stopped) return;
        if (err instanceof PullFailure) {
          if (await this.#pullFailed(d, err)) return;
          await this.#backoff(d);
          continue;
        }
        // complete() failed: the file contradicts its manifest, or publishing failed here.
        const e = err instanceof TransferError ? err : new TransferError('io', (err as Error).message, { cause: err });
        d.sink = null;
        if (e.code === 'file-hash-mismatch') {
          pull.abort('bad-file', false, e.message);
          await sink.cancel().catch(() => {});
          return this.#receiveFailed(d, { code: 'bad-file', by: 'peer', resumable: false });
        }
        pull.abort(e.peerCode, e.resumable, e.message);
        await sink.close().catch(() => {});
        return this.#receiveFailed(d, { code: e.code, by: 'me', resumable: e.resumable });
      }
      // Published. Forget it before telling anyone, so a crash from here on never receives it twice.
      d.completed = true;
      d.sink = null;
      await this.#forget(d);
      d.bytesDone = rec.manifest.size;
      this.#progress(d, 'receive', rec.peerId, rec.manifest.size, true);
      if (ch.ended) this.#tellSender(rec, d.digest, { t: 'done' });
      else pull.finish();
      this.#log.info({ transferId: rec.transferId, bytes: rec.manifest.size }, 'file transfer complete');
      this.emit('done', { ...base, received });
      return;
    }
  }

  /** True when the transfer is over (failed or canceled); false to reconnect after a backoff. */
  async #pullFailed(d: Incoming, f: PullFailure): Promise<boolean> {
    const { rec } = d;
    const base = { transferId: rec.transferId, direction: 'receive' as const, peerId: rec.peerId };
    this.#log.info({ transferId: rec.transferId, kind: f.kind, code: f.code, detail: f.message }, 'file stream ended');
    d.pull = null;
    switch (f.kind) {
      case 'network':
        d.attempt++;
        return false;
      case 'misbehaved':
        d.attempt++;
        d.strikes++;
        if (d.strikes < this.#t.maxStrikes) return false;
        await this.#giveUp(d, { code: f.code ?? 'protocol', by: 'peer', resumable: true });
        return true;
      case 'peer-end':
        if (f.code === 'canceled') {
          await d.sink?.cancel().catch(() => {});
          d.sink = null;
          await this.#forget(d);
          this.emit('canceled', { ...base, by: 'peer' });
          return true;
        }
        if (f.resumable) {
          d.attempt++;
          // A sender that says we broke the protocol is a strike like the reverse.
          if (f.code === 'protocol' && ++d.strikes >= this.#t.maxStrikes) {
            await this.#giveUp(d, { code: 'protocol', by: 'peer', resumable: true });
            return true;
          }
          return false;
        }
        // The offer is gone, or its file changed: this transfer cannot complete.
        await d.sink?.cancel().catch(() => {});
        d.sink = null;
        await this.#receiveFailed(d, { code: f.code ?? 'peer-error', by: 'peer', resumable: false });
        return true;
      case 'local': {
        // The sink stopped (disk full, quota, I/O): keep what is verified for retry().
        await d.sink?.close().catch(() => {});
        d.sink = null;
        await this.#receiveFailed(d, { code: f.error?.code ?? f.code ?? 'io', by: 'me', resumable: f.resumable });
        return true;
      }
    }
  }

  /** Stops after too many misbehaving streams; the verified chunks stay for retry(). */
  async #giveUp(d: Incoming, failure: TransferFailure): Promise<void> {
    await d.sink?.close().catch(() => {});
    d.sink = null;
    await this.#receiveFailed(d, failure);
  }

  async #receiveFailed(d: Incoming, failure: TransferFailure): Promise<void> {
    d.state = 'failed';
    d.error = failure;
    d.pull = null;
    // Only a resumable failure stays, for retry() or the next start().
    if (!failure.resumable) await this.#forget(d);
    this.#log.warn({ transferId: d.rec.transferId, ...failure }, 'file receive failed');
    this.emit('failed', { transferId: d.rec.transferId, direction: 'receive', peerId: d.rec.peerId, ...failure });
  }

  async #forget(d: Incoming): Promise<void> {
    this.#incoming.delete(d.rec.transferId);
    await this.#o.store.deleteDownload(d.rec.transferId).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'could not forget a download'));
  }

  async #backoff(d: Incoming): Promise<void> {
    if (d.stopped) return;
    d.state = 'waiting';
    const base = Math.min(this.#t.retryMaxMs, this.#t.retryMinMs * 2 ** Math.max(0, d.attempt - 1));
    const ms = Math.round(base * (0.8 + Math.random() * 0.4));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        d.wake = null;
        resolve();
      }
      d.wake = done;
    });
  }

  /**
   * A socket from the node's connect(), checked to be parley-file/1 with the expected peer.
   * Given up on after connectTimeoutMs, when `signal` aborts, or when the manager closes.
   */
  async #connect(peerId: PeerId, signal?: AbortSignal): Promise<tls.TLSSocket> {
    const signals = [this.#closing.signal, ...(signal ? [signal] : [])];
    const socket = await bounded(this.#o.connect(peerId), this.#t.connectTimeoutMs, AbortSignal.any(signals), (s) => s.destroy());
    let proven: PeerId;
    try {
      proven = verifiedPeerId(socket, FILE_ALPN);
    } catch (err) {
      socket.destroy();
      throw new PullFailure('misbehaved', err instanceof LinkError ? err.message : String(err));
    }
    if (proven !== peerId) {
      socket.destroy();
      throw new PullFailure('misbehaved', 'the file stream leads to another peer');
    }
    return socket;
  }

  /**
   * Tells the sender something on a stream of its own (the transfer's stream is gone):
   * that this side canceled, failed, or published the file. Best effort.
   */
  #tellSender(rec: StoredDownload, digest: string, frame: { t: 'done' } | { t: 'end'; code: EndCode; resumable: boolean }): void {
    if (this.#closed) return;
    const job = (async () => {
      const socket = await this.#connect(rec.peerId);
      const ch = this.#track(new FileChannel(socket, { log: this.#log }));
      const count = chunkCount(rec.manifest.size, rec.manifest.chunkSize);
      ch.send({ t: 'open', v: FILE_STREAM_VERSION, id: rec.transferId, digest, have: new Uint8Array(Math.ceil(count / 8)) });
      if (frame.t === 'done') {
        ch.send(frame);
        ch.close();
      } else {
        ch.end(frame.code, frame.resumable);
      }
      await ch.whenClosed();
    })().catch((err: unknown) => this.#log.info({ transferId: rec.transferId, err: (err as Error).message }, 'could not tell the sender'));
    this.#background.add(job);
    void job.finally(() => this.#background.delete(job));
  }

  // ---- both ----------------------------------------------------------------------------

  /**
   * Cancels a transfer in either direction and tells the other side (over the live stream, or
   * a new one when there is none). A receiver's partial file is removed.
   */
  async cancel(transferId: string): Promise<boolean> {
    const o = this.#outgoing.get(transferId);
    if (o) {
      this.#outgoing.delete(transferId);
      this.#tomb(transferId, peersOf(o.rec));
      const streams = [...o.streams.values()];
      o.streams.clear();
      for (const stream of streams) stream.end('canceled', false);
      await this.#o.store.deleteOffer(transferId);
      this.emit('canceled', { transferId, direction: 'send', peerId: o.rec.peerId, by: 'me' });
      return true;
    }
    const d = this.#incoming.get(transferId);
    if (!d) return false;
    d.stopped = true;
    if (d.state !== 'verifying') d.stop.abort();
    if (d.state === 'verifying') {
      // Every byte is here and the file is being checked and published: too late to cancel.
      await d.running;
      if (d.completed) return false;
    }
    this.#incoming.delete(transferId);
    const live = d.pull;
    if (live) live.abort('canceled', false);
    else this.#tellSender(d.rec, d.digest, { t: 'end', code: 'canceled', resumable: false });
    d.wake?.();
    await d.running;
    try {
      const sink = d.sink ?? (await this.#openSink({ ...d.rec, keepFreeBytes: 0 }));
      d.sink = null;
      await sink.cancel();
    } catch (err) {
      this.#log.warn({ transferId, err: (err as Error).message }, 'could not remove a canceled partial file');
    }
    await this.#o.store.deleteDownload(transferId);
    this.emit('canceled', { transferId, direction: 'receive', peerId: d.rec.peerId, by: 'me' });
    return true;
  }

  /** Tries a waiting or failed (resumable) download again now. */
  retry(transferId: string): boolean {
    const d = this.#incoming.get(transferId);
    if (!d) return false;
    d.attempt = 0;
    d.strikes = 0;
    if (d.running) d.wake?.();
    else this.#runIncoming(d);
    return true;
  }

  /** The node has a link to `peerId` again: downloads from it waiting for a backoff go now. */
  peerReachable(peerId: PeerId): void {
    for (const d of this.#incoming.values()) {
      if (d.rec.peerId === peerId && d.state === 'waiting') {
        d.attempt = 0;
        d.wake?.();
      }
    }
  }

  list(): TransferInfo[] {
    const now = performance.now();
    const info = (x: Outgoing | Incoming, direction: TransferDirection): TransferInfo => ({
      transferId: x.rec.transferId,
      direction,
      peerId: x.rec.peerId,
      name: x.rec.manifest.name,
      state: x.state,
      bytesDone: x.bytesDone,
      bytesTotal: x.rec.manifest.size,
      bytesPerSec: x.meter.bytesPerSec(now),
      etaMs: x.meter.etaMs(x.rec.manifest.size - x.bytesDone, now),
      error: x.error,
    });
    return [...[...this.#outgoing.values()].map((o) => info(o, 'send')), ...[...this.#incoming.values()].map((d) => info(d, 'receive'))];
  }

  /** Stops every stream and download; offers, downloads and verified chunks stay for the next start(). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    for (const d of this.#incoming.values()) {
      d.stopped = true;
      d.stop.abort();
      d.wake?.();
    }
    for (const ch of this.#channels) ch.destroy('closing');
    await Promise.allSettled([...this.#incoming.values()].map((d) => d.running));
    await Promise.allSettled([...this.#incoming.values()].map((d) => d.sink?.close()));
    await Promise.allSettled([...this.#background]);
  }

  #usable(): void {
    if (this.#closed) throw new TransferError('closed', 'the transfer manager is closed');
  }

  #track(ch: FileChannel): FileChannel {
    this.#channels.add(ch);
    void ch.whenClosed().then(() => this.#channels.delete(ch));
    return ch;
  }

  #progress(x: Outgoing | Incoming, direction: TransferDirection, peerId: PeerId, total: number, force = false): void {
    const now = performance.now();
    if (!force && now - x.lastEmit < this.#t.progressEveryMs) return;
    x.lastEmit = now;
    this.emit('progress', {
      transferId: x.rec.transferId,
      direction,
      peerId,
      bytesDone: x.bytesDone,
      bytesTotal: total,
      bytesPerSec: x.meter.bytesPerSec(now),
      etaMs: x.meter.etaMs(total - x.bytesDone, now),
    });
  }
}

/** Who may fetch an offer. */
function peersOf(rec: StoredOffer): readonly PeerId[] {
  return rec.peers ?? [rec.peerId];
}

/** `p`, unless it takes longer than `ms` or `signal` aborts first; a late result is discarded. */
function bounded<T>(p: Promise<T>, ms: number, signal: AbortSignal, discard: (late: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const giveUp = (err: unknown) => {
      if (late) return;
      late = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = () => giveUp(new Error('stopped'));
    const timer = setTimeout(() => giveUp(new Error(`no connection within ${ms} ms`)), ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        if (late) return discard(v);
        late = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      giveUp,
    );
  });
}
