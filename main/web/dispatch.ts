// The one way a host hands an untrusted request to the core: the command must exist in the
// contract and its arguments must parse with the contract's schema before api.call runs.
// Answers with an envelope (never throws), because error objects do not survive IPC or JSON.
import { commands, type CommandError, type CommandName, type ParleyApi } from '../contract/contract.ts';

export type Envelope = { ok: true; result: unknown } | { ok: false; error: CommandError };

export function isCommandName(cmd: unknown): cmd is CommandName {
  return typeof cmd === 'string' && Object.hasOwn(commands, cmd);
}

export function toCommandError(err: unknown): CommandError {
  const code = (err as { code?: unknown } | null)?.code;
  const known = code === 'invalid-args' || code === 'not-found' || code === 'unavailable' || code === 'internal';
  return { code: known ? code : 'internal', message: err instanceof Error ? err.message : 'failed' };
}

/** Parses `args` for `cmd`; the error names the first bad field, never echoes its value. */
export function parseCommand(cmd: unknown, args: unknown): { ok: true; name: CommandName; args: unknown } | { ok: false; error: CommandError } {
  if (!isCommandName(cmd)) {
    return { ok: false, error: { code: 'invalid-args', message: `unknown command ${typeof cmd === 'string' ? cmd.slice(0, 64) : typeof cmd}` } };
  }
  const parsed = commands[cmd].args.safeParse(args ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 'args'} ${issue.message}` : 'invalid arguments';
    return { ok: false, error: { code: 'invalid-args', message: `${cmd}: ${where}` } };
  }
  return { ok: true, name: cmd, args: parsed.data };
}

export async function dispatch(api: ParleyApi, cmd: unknown, args: unknown): Promise<Envelope> {
  const parsed = parseCommand(cmd, args);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, result: await api.call(parsed.name, parsed.args as never) };
  } catch (err) {
    return { ok: false, error: toCommandError(err) };
  }
}
