import type { PreloadApi } from '../../../preload/channels.ts';
import { ipcTransport } from './ipc.ts';
import type { Transport } from './transport.ts';
import { readToken, webSocketTransport } from './websocket.ts';

declare global {
  interface Window {
    parley?: PreloadApi;
  }
}

/** Electron when the preload put `window.parley` there; otherwise web mode (needs the token). */
export function selectTransport(): Transport | null {
  if (window.parley) return ipcTransport(window.parley);
  // Opening the address of a restarted node in this tab only changes the fragment, which
  // does not reload the page: start over with the new token.
  window.addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.slice(1)).has('token')) location.reload();
  });
  const token = readToken();
  return token ? webSocketTransport(token) : null;
}
