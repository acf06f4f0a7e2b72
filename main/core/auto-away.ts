// Auto-away: "online" becomes "away" after a while without user activity, and "online" again
// on the next activity. Only the host knows about activity (Electron asks the system how long
// the user has been idle; the web page watches its own input) and reports it with
// reportActivity; a timer here then switches at the right moment even if the host reports
// rarely. Until a host reports at all (headless, scripts), nothing switches.
import type { Presence } from '../contract/contract.ts';

export interface AutoAwayDeps {
  presence(): Presence;
  /** Sets the presence as the timer's choice, not the person's. */
  setPresence(p: 'online' | 'away'): void;
  now?: () => number;
}

export class AutoAway {
  private readonly deps: AutoAwayDeps;
  private readonly now: () => number;
  private afterMs: number;
  private lastActiveAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Set while "away" was chosen by the timer; a presence the person picks clears it. */
  private active = false;
  private stopped = false;

  constructor(afterMs: number, deps: AutoAwayDeps) {
    this.afterMs = afterMs;
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** 0 turns it off (and ends an automatic "away" at once). */
  setAfter(ms: number): void {
    this.afterMs = ms;
    this.evaluate();
  }

  /** The host says the user has been idle this long. */
  report(idleMs: number): void {
    this.lastActiveAt = this.now() - idleMs;
    this.evaluate();
  }

  /** The person chose a presence: it is theirs until the timer next finds them online and idle. */
  chosenByPerson(): void {
    this.active = false;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private evaluate(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    if (this.afterMs === 0 || this.lastActiveAt === null) return this.back();
    const idle = this.now() - this.lastActiveAt;
    if (idle >= this.afterMs) {
      // Busy and a chosen "away" stay as they are.
      if (this.deps.presence() === 'online') {
        this.active = true;
        this.deps.setPresence('away');
      }
      return;
    }
    this.back();
    this.timer = setTimeout(() => this.evaluate(), this.afterMs - idle);
    this.timer.unref();
  }

  private back(): void {
    if (!this.active) return;
    this.active = false;
    if (this.deps.presence() === 'away') this.deps.setPresence('online');
  }
}
