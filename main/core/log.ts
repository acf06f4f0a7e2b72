// Structured JSON logs on stderr (stdout belongs to the headless CLI's JSON protocol).
// Callers log IDs, counts and reasons; never keys, certificates or message bodies.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.PARLEY_LOG ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** Tests keep quiet unless PARLEY_LOG asks for output. */
export function testLogger(name = 'test'): Logger {
  return createLogger(name, process.env.PARLEY_LOG ?? 'silent');
}
