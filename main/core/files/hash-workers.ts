import { webcrypto } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// Hashing off the event loop, for both ends of a transfer. SHA-256 costs ~4-5 ms per MiB
// without SHA extensions, and every byte is hashed twice (its chunk, and the running whole-file
// hash), by the sender when it offers a file and by the receiver as it arrives: on the event
// loop that would be ~9 s per GiB taken from the loop that also carries chat and the network.
// A few worker threads per process, shared by every sink, do both. A chunk in a
// SharedArrayBuffer (what PullStream receives into) is hashed where it lies: no copy, no
// allocation (copying into fresh 1 MiB buffers, as WebCrypto does, cost the loop almost as much
// as a third of the hashing, in page faults and garbage collection). Other chunks (tests, other
// callers) are hashed by WebCrypto on the libuv pool, and copied for the running hash.
// A worker that fails or exits only costs its running hashes: complete() then reads the file
// back, as after a resume.
const HASH_WORKER_SOURCE = `
// process.getBuiltinModule, not require: this source is evaluated as CommonJS or as an ES
// module depending on how the process was started (--input-type), and works in both.
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
// Ten steps nicer than the app, for this thread only: when the cores are busy the event loops
// that carry chat and the network get them first and hashing takes what is left, so a transfer
// slows down rather than holding up a chat line; idle cores are used all the same. Linux only:
// there setpriority(0) is the calling thread; on macOS and Windows it is the whole app.
if (process.platform === 'linux') {
  try { const os = process.getBuiltinModule('node:os'); os.setPriority(0, Math.min(19, os.getPriority(0) + 10)); } catch {}
}
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'chunk') {
    parentPort.postMessage({ seq: m.seq, digest: createHash('sha256').update(m.data).digest() });
    return;
  }
  let h = hashes.get(m.id);
  if (m.op === 'update') {
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    h.update(m.data);
    parentPort.postMessage({ seq: m.seq });
  } else if (m.op === 'digest') {
    hashes.delete(m.id);
    parentPort.postMessage({ seq: m.seq, digest: (h ?? createHash('sha256')).digest() });
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;
const HASH_WORKERS = Math.max(2, Math.min(4, availableParallelism()));

interface HashReply {
  seq: number;
  digest?: Uint8Array;
}

type HashRequest = { op: 'chunk'; data: Uint8Array } | { op: 'update'; id: number; data: Uint8Array } | { op: 'digest'; id: number };

export const isShared = (data: Uint8Array) => typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;

class HashWorker {
  static readonly #pool: Array<HashWorker | null> = [];
  static #next = 0;
  static #nextHashId = 1;
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (r: HashReply) => void; reject: (err: Error) => void }>();
  #seq = 0;
  #dead = false;

  /** One of the process's hash workers, in turn, started on first use (and again after one died). */
  static pick(): HashWorker {
    const k = HashWorker.#next++ % HASH_WORKERS;
    let w = HashWorker.#pool[k];
    if (!w || w.#dead) HashWorker.#pool[k] = w = new HashWorker();
    return w;
  }

  static newHashId(): number {
    return HashWorker.#nextHashId++;
  }

  private constructor() {
    this.#worker = new Worker(HASH_WORKER_SOURCE, { eval: true, name: 'parley-file-hash' });
    // Idle, it must not keep the process alive; while a reply is awaited it must.
    this.#worker.unref();
    this.#worker.on('message', (r: HashReply) => {
      const w = this.#waiting.get(r.seq);
      this.#waiting.delete(r.seq);
      if (this.#waiting.size === 0) this.#worker.unref();
      w?.resolve(r);
    });
    const die = (err: Error) => {
      this.#dead = true;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', () => die(new Error('the hash worker exited')));
  }

  get dead(): boolean {
    return this.#dead;
  }

  /**
   * `data` in a SharedArrayBuffer is read in place: the caller must leave it alone until this
   * resolves. Anything else is copied (just its bytes) and the copy moved to the worker.
   */
  request(msg: HashRequest): Promise<HashReply> {
    if (this.#dead) return Promise.reject(new Error('the hash worker exited'));
    const seq = ++this.#seq;
    const { promise, resolve, reject } = Promise.withResolvers<HashReply>();
    if (this.#waiting.size === 0) this.#worker.ref();
    this.#waiting.set(seq, { resolve, reject });
    if ('data' in msg && !isShared(msg.data)) {
      const copy = new Uint8Array(msg.data);
      this.#worker.postMessage({ ...msg, data: copy, seq }, [copy.buffer]);
    } else {
      this.#worker.postMessage({ ...msg, seq });
    }
    return promise;
  }

  drop(id: number): void {
    if (!this.#dead) this.#worker.postMessage({ op: 'drop', id });
  }
}

/** SHA-256 of one chunk, off the event loop. */
export async function hashChunk(data: Uint8Array): Promise<Buffer> {
  if (isShared(data)) {
    try {
      const r = await HashWorker.pick().request({ op: 'chunk', data });
      if (r.digest) return Buffer.from(r.digest);
    } catch {
      // A worker gone: WebCrypto below, on a copy (it refuses shared memory).
    }
    data = new Uint8Array(data);
  }
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

/** One file's SHA-256, fed in order, in one hash worker. */
export class RunningHash {
  #worker: HashWorker | null = null;
  readonly #id = HashWorker.newHashId();
  #broken = false;

  #target(): HashWorker {
    this.#worker ??= HashWorker.pick();
    if (this.#worker.dead) throw new Error('the hash worker exited');
    return this.#worker;
  }

  /** Resolves once the worker has hashed `data`, which the caller may then reuse. */
  async update(data: Uint8Array): Promise<void> {
    if (this.#broken) throw new Error('the running hash is broken');
    try {
      await this.#target().request({ op: 'update', id: this.#id, data });
    } catch (err) {
      this.#broken = true;
      throw err;
    }
  }

  /** The digest, or null if the hash cannot be trusted to cover every update. */
  async digest(): Promise<Buffer | null> {
    if (this.#broken) return null;
    try {
      const r = await this.#target().request({ op: 'digest', id: this.#id });
      return r.digest ? Buffer.from(r.digest) : null;
    } catch {
      return null;
    } finally {
      this.#broken = true;
    }
  }

  drop(): void {
    if (this.#worker && !this.#broken) this.#worker.drop(this.#id);
    this.#broken = true;
  }
}
