// The IPC shape between the Electron main process and the preload. Pure data, shared by the
// main process, the preload and the renderer's IPC transport; imports nothing from Electron.
import type { CommandArgs, CommandError, CommandName, CommandResult, EventName, Events } from '../main/contract/contract.ts';

/** One `ipcMain.handle` channel per contract command. */
export function commandChannel(name: CommandName): string {
  return `parley:cmd:${name}`;
}

/** Events go main → renderer on one channel as (event name, payload). */
export const EVENT_CHANNEL = 'parley:event';

/** Handlers answer with an envelope: errors thrown across IPC lose everything but their text. */
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: CommandError };

/** Exactly what the preload puts on `window.parley`. */
export type PreloadApi = { [K in CommandName]: (args: CommandArgs<K>) => Promise<Envelope<CommandResult<K>>> } & {
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
};
