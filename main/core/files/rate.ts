// Speed and time remaining for a progress bar: the average over the last few seconds, so a
// single slow fsync or a burst does not make the estimate jump, and a stall shows as a
// falling speed rather than a frozen one.

export class RateMeter {
  readonly #windowMs: number;
  /** [time ms, bytes done], oldest first, spanning at most windowMs. */
  readonly #samples: Array<[number, number]> = [];

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** Records the bytes done so far. A new stream starting from a resumed count is not a burst: call reset(). */
  sample(bytesDone: number, now = performance.now()): void {
    const last = this.#samples.at(-1);
    if (last && now - last[0] < 50) {
      last[1] = bytesDone;
      return;
    }
    this.#samples.push([now, bytesDone]);
    while (this.#samples.length > 2 && now - this.#samples[1]![0] >= this.#windowMs) this.#samples.shift();
  }

  reset(bytesDone: number, now = performance.now()): void {
    this.#samples.length = 0;
    this.#samples.push([now, bytesDone]);
  }

  /** Bytes per second over the window, up to `now` (0 until there are two samples). */
  bytesPerSec(now = performance.now()): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last === first) return 0;
    const span = Math.max(now, last[0]) - first[0];
    return span > 0 ? ((last[1] - first[1]) * 1000) / span : 0;
  }

  /** Milliseconds left at the current speed, or null when it cannot be told (no speed yet). */
  etaMs(remainingBytes: number, now = performance.now()): number | null {
    if (remainingBytes <= 0) return 0;
    const rate = this.bytesPerSec(now);
    return rate > 0 ? Math.round((remainingBytes * 1000) / rate) : null;
  }
}
