// Auto-away needs to know how long the person has been away from the whole computer, not just
// from Parley's window: the system's idle time, reported to the core now and then (the core
// switches at the right moment by itself in between). A locked screen counts as idle at once.
export interface IdleDeps {
  /** Seconds since the last keyboard or mouse input anywhere (Electron's powerMonitor). */
  idleSeconds(): number;
  locked(): boolean;
  report(idleMs: number): void;
  /** Called when the screen locks, so that "away" need not wait for the next poll. */
  onLock?(listener: () => void): void;
  everyMs?: number;
}

/** As long as auto-away can be set (24 h): "idle since forever". */
export const LOCKED_IDLE_MS = 24 * 3600 * 1000;

export function watchIdle(deps: IdleDeps): () => void {
  const tick = () => deps.report(deps.locked() ? LOCKED_IDLE_MS : Math.min(LOCKED_IDLE_MS, Math.max(0, Math.round(deps.idleSeconds() * 1000))));
  tick();
  const timer = setInterval(tick, deps.everyMs ?? 15_000);
  timer.unref();
  deps.onLock?.(() => deps.report(LOCKED_IDLE_MS));
  return () => clearInterval(timer);
}
