// Web-mode host: the bridge's WebSocket (main/web/bridge.ts). The token comes from the URL
// fragment, is offered as a subprotocol, and the fragment is then cleared from the address
// bar so it does not linger in screenshots or history.
import type { CommandArgs, CommandName, CommandResult, EventName, Events } from '../../../main/contract/contract.ts';
import { TOKEN_PROTOCOL_PREFIX, WIRE_PROTOCOL, WS_PATH, type WireMessage } from '../../../main/web/wire.ts';
import { CallError, type ConnectionState, type Hello, type Transport } from './transport.ts';
import { postUpload } from './upload.ts';

const TOKEN_KEY = 'parley.web.token';

export function readToken(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    // Kept for reloads of this tab only.
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * <img>, <audio> and <video> cannot send a header: the bridge takes the token from this
 * cookie for GET /media only (SameSite=Strict, so other sites' pages never send it; uploads
 * still need the header and the page's Origin).
 */
function setMediaCookie(token: string): void {
  // Named per port (main/web/bridge.ts mediaCookieName): cookies ignore ports, and two nodes
  // open in one browser would otherwise take each other's token.
  document.cookie = `parley-token-${location.port}=${encodeURIComponent(token)}; Path=/media; SameSite=Strict`;
}

export function webSocketTransport(token: string): Transport {
  setMediaCookie(token);
  let ws: WebSocket | null = null;
  let nextId = 1;
  let state: ConnectionState = 'connecting';
  let everOpened = false;
  let retryMs = 500;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  const stateListeners = new Set<(s: ConnectionState) => void>();
  let resolveHello!: (h: Hello) => void;
  const helloPromise = new Promise<Hello>((r) => (resolveHello = r));

  const setState = (s: ConnectionState) => {
    state = s;
    for (const l of stateListeners) l(s);
  };

  function connect(): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${WS_PATH}`;
    const socket = new WebSocket(url, [WIRE_PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`]);
    ws = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      everOpened = true;
      retryMs = 500;
    };
    socket.onmessage = (e) => {
      let msg: WireMessage;
      try {
        msg = JSON.parse(String(e.data)) as WireMessage;
      } catch {
        return;
      }
      if (msg.type === 'hello') {
        setState('open');
        resolveHello({ self: msg.self, needsName: msg.needsName });
      } else if (msg.type === 'result') {
        if (msg.id === null) return;
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (!p) return;
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new CallError(msg.error.code, msg.error.message));
      } else if (msg.type === 'event') {
        for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
      }
    };
    socket.onclose = () => {
      ws = null;
      for (const p of pending.values()) p.reject(new CallError('unavailable', 'connection lost'));
      pending.clear();
      // Never opened at all: a wrong token or a restarted node (new token). Retrying won't help
      // until the person opens the new URL, but keep trying in case the node comes back.
      setState(opened || everOpened ? 'closed' : 'refused');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
  }
  connect();

  return {
    kind: 'web',
    call<K extends CommandName>(name: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
      if (!ws || ws.readyState !== WebSocket.OPEN || state !== 'open') {
        return Promise.reject(new CallError('unavailable', 'not connected'));
      }
      const id = nextId++;
      const socket = ws;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        socket.send(JSON.stringify({ id, cmd: name, args }));
      });
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => void set.delete(l);
    },
    hello: () => helloPromise,
    // The same token the socket presents; a bearer header is never sent by a browser on its own.
    upload: (file, name) => postUpload(file, name, { authorization: `Bearer ${token}` }),
    onState(listener) {
      stateListeners.add(listener);
      listener(state);
      return () => void stateListeners.delete(listener);
    },
  };
}
