// What a process costs, read from /proc (Linux): resident memory and CPU time. Sampling from
// outside keeps the measuring out of the measured process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSec = 0;
function clockTicks(): number {
  if (ticksPerSec === 0) {
    try {
      ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSec = 100;
    }
  }
  return ticksPerSec;
}

/** User + system CPU time of `pid` so far, in ms (resolution: one clock tick, 10 ms here). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses: fields are counted after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

/** Resident set now and its peak so far, in MiB. */
export function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { now: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Soft and hard limits on open files of `pid`. */
export function fdLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * Makes sure `pid` may open `needed` files: raises its soft limit up to the hard one with
 * prlimit(1) if needed (children inherit the limit, and Node cannot setrlimit itself).
 */
export function ensureFdLimit(pid: number, needed: number): { soft: number; raised: boolean } {
  const { soft, hard } = fdLimit(pid);
  if (soft >= needed) return { soft, raised: false };
  if (hard < needed) throw new Error(`process ${pid} may open only ${hard} files (hard limit) but the bench needs ${needed}: raise it (ulimit -Hn) and run again`);
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${needed}:${hard === Infinity ? 'unlimited' : hard}`]);
  return { soft: fdLimit(pid).soft, raised: true };
}

/**
 * Watches `pid` for `ms`: its CPU use as % of one core over the window, and its resident set
 * at the end of the window.
 */
export async function watch(pid: number, ms: number): Promise<{ cpuPct: number; rssMiB: number; peakMiB: number; wallMs: number }> {
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = cpuMs(pid);
  const wallMs = performance.now() - t0;
  const r = rss(pid);
  return { cpuPct: ((c1 - c0) / wallMs) * 100, rssMiB: r.now, peakMiB: r.peak, wallMs };
}
