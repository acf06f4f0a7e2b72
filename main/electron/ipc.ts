// One ipcMain.handle channel per contract command. Each handler checks that the sender frame
// is our app:// page, then parses the arguments with the contract before the core sees them.
import { commandNames, eventNames, type ParleyApi } from '../contract/contract.ts';
import type { Logger } from '../core/log.ts';
import { dispatch, type Envelope } from '../web/dispatch.ts';
import { EVENT_CHANNEL, commandChannel } from '../../preload/channels.ts';
import { isTrustedSender } from './security.ts';

export interface IpcEventLike {
  senderFrame: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export function registerCommandHandlers(ipc: IpcMainLike, api: ParleyApi, log?: Logger): () => void {
  for (const name of commandNames) {
    ipc.handle(commandChannel(name), async (event, args): Promise<Envelope> => {
      if (!isTrustedSender(event.senderFrame)) {
        log?.warn({ command: name }, 'IPC from an untrusted frame refused');
        return { ok: false, error: { code: 'unavailable', message: 'refused: not the Parley page' } };
      }
      return dispatch(api, name, args);
    });
  }
  return () => {
    for (const name of commandNames) ipc.removeHandler(commandChannel(name));
  };
}

/** Core events to the page, as (event name, payload) on one channel. */
export function forwardEvents(api: ParleyApi, send: (channel: string, event: string, payload: unknown) => void): () => void {
  const offs = eventNames.map((event) => api.on(event, (payload) => send(EVENT_CHANNEL, event, payload)));
  return () => offs.forEach((off) => off());
}
