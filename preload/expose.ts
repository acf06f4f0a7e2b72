// Builds `window.parley` from the contract: one function per command, plus `on`. Never
// hands the renderer ipcRenderer or an IPC event object (Electron checklist item 20).
// Kept free of the 'electron' import so tests can drive it with a recording stand-in.
import { commandNames, eventNames, type EventName, type Events } from '../main/contract/contract.ts';
import { EVENT_CHANNEL, commandChannel, type PreloadApi } from './channels.ts';

/** The slice of ipcRenderer the preload uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

export function buildPreloadApi(ipc: IpcRendererLike): PreloadApi {
  const api: Record<string, unknown> = {};
  for (const name of commandNames) {
    const channel = commandChannel(name);
    api[name] = (args: unknown) => ipc.invoke(channel, args);
  }
  api.on = <E extends EventName>(event: E, listener: (payload: Events[E]) => void): (() => void) => {
    if (!eventNames.includes(event) || typeof listener !== 'function') throw new TypeError('unknown event or listener');
    const wrapped = (_ipcEvent: unknown, name: unknown, payload: unknown) => {
      if (name === event) listener(payload as Events[E]);
    };
    ipc.on(EVENT_CHANNEL, wrapped as (event: unknown, ...args: unknown[]) => void);
    return () => void ipc.removeListener(EVENT_CHANNEL, wrapped as (event: unknown, ...args: unknown[]) => void);
  };
  return Object.freeze(api) as PreloadApi;
}
