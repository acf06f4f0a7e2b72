// Per-source token buckets with a hard cap on how many sources are remembered, so that a
// flood from many (possibly spoofed) addresses costs bounded memory.
export interface RateLimitOptions {
  perSecond: number;
  burst: number;
  maxSources: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceRateLimiter {
  readonly #opts: RateLimitOptions;
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep = -Infinity;

  constructor(opts: RateLimitOptions) {
    this.#opts = opts;
  }

  /** Takes one token for `source`; false means the packet should be dropped. */
  allow(source: string, now: number): boolean {
    let bucket = this.#buckets.get(source);
    if (!bucket) {
      if (this.#buckets.size >= this.#opts.maxSources) this.#evict(now);
      bucket = { tokens: this.#opts.burst, at: now };
      this.#buckets.set(source, bucket);
    } else {
      const refill = ((now - bucket.at) / 1000) * this.#opts.perSecond;
      bucket.tokens = Math.min(this.#opts.burst, bucket.tokens + refill);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }

  // Full buckets carry no state worth keeping; if none is full, drop the oldest (Map order).
  // The full scan runs at most once a second so that a spoofed flood stays O(1) per packet.
  #evict(now: number): void {
    if (now - this.#lastSweep >= 1000) {
      this.#lastSweep = now;
      const fullAfterMs = (this.#opts.burst / this.#opts.perSecond) * 1000;
      for (const [key, b] of this.#buckets) {
        if (now - b.at >= fullAfterMs) this.#buckets.delete(key);
      }
    }
    if (this.#buckets.size >= this.#opts.maxSources) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
  }
}
