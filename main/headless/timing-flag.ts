import { z } from 'zod';
import type { Timing } from '../core/links/timing.ts';

const TimingFlag = z
  .object({
    handshakeTimeoutMs: z.number().int().positive(),
    helloTimeoutMs: z.number().int().positive(),
    pingIdleMs: z.number().int().positive(),
    deadAfterMs: z.number().int().positive(),
    redialMinMs: z.number().int().positive(),
    redialMaxMs: z.number().int().positive(),
    deliveryDeadlineMs: z.number().int().positive(),
  })
  .partial()
  .strict();

/** `--timing '{"redialMinMs":100}'`: tests shorten deadlines of separate processes. */
export function parseTiming(json: string): Partial<Timing> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('--timing must be a JSON object');
  }
  return TimingFlag.parse(raw) as Partial<Timing>;
}
