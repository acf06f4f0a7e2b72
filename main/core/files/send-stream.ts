// The sending side of one parley-file/1 stream, after its `open` named an offer this peer may
// fetch: answer `req` with the chunks' bytes in order, one chunk read ahead, writing only as
// fast as the socket drains, so memory holds about two chunks whatever the file's size.
import type { Logger } from '../log.ts';
import { errnoOf, TransferError } from './errors.ts';
import type { FileChannel } from './file-channel.ts';
import { FileSource, type SourceStamp } from './file-source.ts';
import { chunkCount, chunkLength, type FileManifest } from './manifest.ts';
import { bitmapHas, DATA_BYTES, type EndCode, type FileFrame } from './stream-frames.ts';

export type SendOutcome =
  | { kind: 'done' }
  | { kind: 'peer-end'; code: EndCode; resumable: boolean }
  | { kind: 'local'; code: EndCode; resumable: boolean; detail: string }
  | { kind: 'network'; detail: string };

export interface SendStreamOptions {
  channel: FileChannel;
  transferId: string;
  file: string;
  manifest: FileManifest;
  stamp: SourceStamp | undefined;
  /**
   * Hash each chunk before sending it. Off, the file's stamp is checked instead: the receiver
   * hashes every chunk anyway. On after a receiver reported a bad chunk, to tell a changed file
   * ('source-changed') from a bad link.
   */
  verifyChunks: boolean;
  /** The receiver's `have` bitmap from `open`. */
  have: Uint8Array;
  window: number;
  log: Logger;
  /** Bytes the receiver holds verified, as it reports them. */
  onAcked: (bytes: number) => void;
}

export class SendStream {
  readonly channel: FileChannel;
  readonly transferId: string;
  readonly #opts: SendStreamOptions;
  readonly #count: number;
  readonly #acked: Uint8Array;
  #ackedBytes = 0;
  /** Chunks asked for and not yet sent in full, in the order asked. */
  readonly #queue: number[] = [];
  readonly #queued = new Set<number>();
  #pumping = false;
  #source: Promise<FileSource> | null = null;
  #done = false;
  readonly outcome: Promise<SendOutcome>;

  constructor(opts: SendStreamOptions) {
    this.#opts = opts;
    this.channel = opts.channel;
    this.transferId = opts.transferId;
    this.#count = chunkCount(opts.manifest.size, opts.manifest.chunkSize);
    this.#acked = new Uint8Array(this.#count);
    for (let i = 0; i < this.#count; i++) {
      if (bitmapHas(opts.have, i)) {
        this.#acked[i] = 1;
        this.#ackedBytes += chunkLength(opts.manifest, i);
      }
    }
    this.outcome = this.channel.whenClosed().then((end): SendOutcome => {
      void this.#source?.then((s) => s.close()).catch(() => {});
      if (this.#done) return { kind: 'done' };
      return end;
    });
    this.channel.on('frame', (f) => this.#onFrame(f));
  }

  get ackedBytes(): number {
    return this.#ackedBytes;
  }

  start(): void {
    this.channel.send({ t: 'ready', window: this.#opts.window });
    this.#opts.onAcked(this.#ackedBytes);
  }

  #onFrame(f: FileFrame): void {
    switch (f.t) {
      case 'req':
        for (const i of f.i) {
          if (i >= this.#count) return this.channel.violation(`chunk ${i} of ${this.#count} asked for`);
          if (this.#queued.has(i)) return this.channel.violation(`chunk ${i} asked for twice`);
          this.#queue.push(i);
          this.#queued.add(i);
        }
        if (this.#queue.length > this.#opts.window) return this.channel.violation(`more than ${this.#opts.window} chunks asked for at once`);
        void this.#pump();
        return;
      case 'ok': {
        let grew = false;
        for (const i of f.i) {
          if (i >= this.#count || this.#acked[i]) continue;
          this.#acked[i] = 1;
          this.#ackedBytes += chunkLength(this.#opts.manifest, i);
          grew = true;
        }
        if (grew) this.#opts.onAcked(this.#ackedBytes);
        return;
      }
      case 'done':
        this.#done = true;
        this.#ackedBytes = this.#opts.manifest.size;
        this.#opts.onAcked(this.#ackedBytes);
        this.channel.close();
        return;
      default:
        this.channel.violation(`unexpected ${f.t} frame from the receiver`);
    }
  }

  #openSource(): Promise<FileSource> {
    this.#source ??= FileSource.reopen(this.#opts.file, this.#opts.manifest, this.#opts.stamp);
    return this.#source;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const ch = this.channel;
    let ahead: { index: number; read: Promise<Buffer> } | null = null;
    const verify = this.#opts.verifyChunks;
    const read = async (index: number): Promise<Buffer> => (await this.#openSource()).readChunk(index, { verify });
    try {
      while (this.#queue.length > 0 && !ch.ended) {
        const index = this.#queue[0]!;
        const current = ahead?.index === index ? ahead.read : read(index);
        ahead = null;
        const next = this.#queue[1];
        if (next !== undefined) {
          ahead = { index: next, read: read(next) };
          // Awaited on its turn; a failure of a read nobody awaits any more must stay quiet.
          ahead.read.catch(() => {});
        }
        const data = await current;
        for (let off = 0; off < data.byteLength && !ch.ended; off += DATA_BYTES) {
          const end = Math.min(off + DATA_BYTES, data.byteLength);
          if (end === data.byteLength) {
            // Off the window before its last bytes go out: the receiver may have them, and ask
            // for the next chunk, before this side hears that the socket drained.
            this.#queue.shift();
            this.#queued.delete(index);
          }
          if (!ch.sendData(index, off, data.subarray(off, end))) await ch.drained();
        }
      }
    } catch (err) {
      const [code, resumable] = sourceFailure(err);
      this.#opts.log.warn({ transferId: this.transferId, code, err: (err as Error).message }, 'file send stopped');
      ch.end(code, resumable, (err as Error).message);
    } finally {
      this.#pumping = false;
    }
  }

  /** This side ends the stream (a person canceled, or a newer stream replaced it). */
  end(code: EndCode, resumable: boolean): void {
    this.channel.end(code, resumable);
  }
}

function sourceFailure(err: unknown): [EndCode, boolean] {
  if (err instanceof TransferError) {
    if (err.code === 'source-changed' || err.code === 'not-a-file') return ['source-changed', false];
    if (errnoOf(err.cause) === 'ENOENT') return ['source-gone', false];
  }
  // A read error may pass (a network share coming back): the receiver may try again later.
  return ['sender-error', true];
}
