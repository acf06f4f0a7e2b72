// Search as you type without a fixed delay: a query runs at once unless one is in flight;
// then only the newest query typed meanwhile runs when it returns, and results for a query
// that is no longer the current one are dropped. One search at a time, never a stale list.

export class LatestOnly<T> {
  private readonly run: (query: string) => Promise<T>;
  private readonly show: (query: string, result: T) => void;
  private current = '';
  private busy = false;
  private queued: string | null = null;

  constructor(run: (query: string) => Promise<T>, show: (query: string, result: T) => void) {
    this.run = run;
    this.show = show;
  }

  /** The query is now this ('' = none: nothing runs, late results are dropped). */
  request(query: string): void {
    // Same query again (a trailing space was typed): what is shown, or in flight, stands.
    if (query === this.current && query) return;
    this.current = query;
    if (!query) return;
    if (this.busy) this.queued = query;
    else this.start(query);
  }

  private start(query: string): void {
    this.busy = true;
    const settle = (ok: boolean, result?: T) => {
      this.busy = false;
      if (ok && query === this.current) this.show(query, result as T);
      const next = this.queued;
      this.queued = null;
      if (next !== null && next === this.current && next !== query) this.start(next);
    };
    this.run(query).then(
      (r) => settle(true, r),
      () => settle(false),
    );
  }
}
