// Length-prefixed framing shared by the peer protocol and the relay's control protocol:
// [u32 big-endian payload length][payload]. A length is checked against the cap before
// anything is buffered for it, and after the first violation the stream is never trusted
// again: every later push repeats the error, and frames completed earlier in the failing
// chunk are dropped with it (unacked messages are resent on the next link anyway).

type FramingCode = 'frame-too-large' | 'empty-frame' | 'bad-encoding';

export class StreamDecoder<F, E extends Error> {
  maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: E | null = null;
  private readonly decode: (payload: Buffer) => F;
  private readonly ErrorClass: new (code: FramingCode, message: string) => E;

  constructor(opts: { maxFrameBytes: number; decode: (payload: Buffer) => F; ErrorClass: new (code: FramingCode, message: string) => E }) {
    this.maxFrameBytes = opts.maxFrameBytes;
    this.decode = opts.decode;
    this.ErrorClass = opts.ErrorClass;
  }

  /** Bytes held for an unfinished frame (a stream closing with these pending was truncated). */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): F[] {
    if (this.failure) throw this.failure;
    try {
      return this.decodeBuffered(chunk);
    } catch (err) {
      this.failure = err instanceof this.ErrorClass ? err : new this.ErrorClass('bad-encoding', `decoder failure: ${(err as Error).message}`);
      this.chunks = [];
      this.buffered = 0;
      throw this.failure;
    }
  }

  private decodeBuffered(chunk: Buffer): F[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: F[] = [];
    while (this.buffered >= 4) {
      const len = this.peek(4).readUInt32BE(0);
      if (len > this.maxFrameBytes) throw new this.ErrorClass('frame-too-large', `declared length ${len} exceeds ${this.maxFrameBytes}`);
      if (len === 0) throw new this.ErrorClass('empty-frame', 'declared length 0');
      if (this.buffered < 4 + len) break;
      frames.push(this.decode(this.take(4 + len).subarray(4)));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.byteLength < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.byteLength < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.byteLength === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
