// Token buckets: connection attempts per IP, tunnel requests per member, bytes per tunnel.

export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;
  /** Tokens per millisecond. */
  private readonly rate: number;

  constructor(capacity: number, perSecond: number, now = Date.now()) {
    this.capacity = capacity;
    this.rate = perSecond / 1000;
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.rate);
    this.last = now;
  }

  /** Takes `n` tokens if there are that many. */
  tryTake(n = 1, now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Takes `n` tokens even when that goes into debt and returns how long (ms) the caller should
   * wait before the next take: byte streams cannot refuse a chunk that already arrived.
   */
  takeWithDebt(n: number, now = Date.now()): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.rate);
  }

  /** True when the bucket is full again, so a keyed limiter can forget it. */
  idle(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }
}

/** One bucket per key (an IP, a peer ID); full buckets are forgotten so memory stays bounded. */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly burst: number;
  private readonly perMinute: number;
  private lastSweep = Date.now();

  constructor(burst: number, perMinute: number) {
    this.burst = burst;
    this.perMinute = perMinute;
  }

  allow(key: string, now = Date.now()): boolean {
    if (this.burst === 0 && this.perMinute === 0) return true;
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(Math.max(1, this.burst), this.perMinute / 60, now)));
    return b.tryTake(1, now);
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (b.idle(now)) this.buckets.delete(k);
  }
}
