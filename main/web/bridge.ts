// Web mode: the built renderer over HTTP plus the contract over a WebSocket, so the same UI
// runs in any browser against a node started without Electron. Loopback only unless the
// caller explicitly allows a LAN bind. A random token per start, carried in the URL
// fragment (never sent in HTTP requests) and offered as a WebSocket subprotocol, is required
// for the socket; the Origin must be the page's own; Host must be an address we serve
// (defeats DNS rebinding). Every frame is parsed before anything reaches the core.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { eventNames, type ParleyApi } from '../contract/contract.ts';
import type { Logger } from '../core/log.ts';
import { dispatch } from './dispatch.ts';
import { serveStatic } from './static-files.ts';
import { RequestSchema, TOKEN_PROTOCOL_PREFIX, WIRE_PROTOCOL, WS_PATH, type WireMessage } from './wire.ts';

export interface BridgeOptions {
  api: ParleyApi;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Default 127.0.0.1. Anything that is not loopback needs `allowRemote`. */
  host?: string;
  allowRemote?: boolean;
  /** Asked on every new socket: does the UI still have to ask for a display name? */
  needsName?: () => boolean;
  /**
   * POST /upload and GET /media/<id> (main/core/attachments/media.ts), asked only after the
   * checks below: Host, then the token (Authorization: Bearer, or for media the
   * parley-token-<port> cookie an <img> sends), and for uploads the page's own Origin (CSRF).
   */
  media?: { handle(request: Request): Promise<Response | null> };
  log?: Logger;
}

export interface Bridge {
  /** What to open: http://HOST:PORT/#token=… */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

/** The largest request: a maximal message, JSON-escaped, fits easily. */
const MAX_FRAME = 256 * 1024;
/** Past this much unsent output the page is not reading; drop it rather than buffer forever. */
const MAX_BUFFERED = 16 * 1024 * 1024;
const MAX_IN_FLIGHT = 64;
const MAX_SOCKETS = 16;

/**
 * Cookies are scoped by host, not port: two web-mode nodes on one machine would overwrite
 * each other's cookie under one name, so each port has its own.
 */
export function mediaCookieName(port: number): string {
  return `parley-token-${port}`;
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Host header values we answer to: the bound address, and localhost/IP literals for our port. */
export function hostAllowed(hostHeader: string | undefined, port: number, remote: boolean): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d+)$/.exec(hostHeader);
  if (!m || Number(m[2]) !== port) return false;
  const name = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  if (isLoopback(name)) return true;
  // Only IP literals: a DNS name could be rebound to us by a hostile page.
  return remote && (/^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':'));
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host) && !opts.allowRemote) {
    throw new Error(`refusing to serve the UI on ${host} without allowRemote (anyone on the network could reach it)`);
  }
  const remote = !isLoopback(host);
  const token = randomBytes(24).toString('base64url');
  const log = opts.log;
  let port = 0;

  const securityHeaders = (hostHeader: string): Record<string, string> => ({
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data: blob:",
      "media-src 'self' blob:",
      `connect-src 'self' ws://${hostHeader}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  });

  const server: Server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, port, remote)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('wrong host');
      return;
    }
    const pathname = (req.url ?? '').split('?')[0] ?? '';
    if (pathname === '/upload' || pathname.startsWith('/media/')) {
      void serveMedia(req, res, pathname);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    serveStatic(opts.staticDir, req, res, securityHeaders(req.headers.host!));
  });

  const mediaRefusal = (res: ServerResponse, status: number, message: string) => {
    log?.warn({ reason: message }, 'web bridge refused a media request');
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(JSON.stringify({ error: { message } }));
  };

  const presentedToken = (req: IncomingMessage, cookieAllowed: boolean): string | undefined => {
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    if (auth) return auth;
    if (!cookieAllowed) return undefined;
    for (const part of String(req.headers.cookie ?? '').split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === mediaCookieName(port) && v) return v;
    }
    return undefined;
  };

  async function serveMedia(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const media = opts.media;
    if (!media) return mediaRefusal(res, 404, 'files are not served here');
    const upload = pathname === '/upload';
    // A page of another origin may make the browser send a POST (a form, a no-cors fetch), and
    // with it a cookie: only the page's own Origin and the token in a header may upload.
    if (upload && req.headers.origin !== `http://${req.headers.host}`) return mediaRefusal(res, 403, 'wrong origin');
    const fetchSite = req.headers['sec-fetch-site'];
    if (!upload && fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return mediaRefusal(res, 403, 'cross-site request');
    const presented = presentedToken(req, !upload);
    if (!presented || !tokensEqual(presented, token)) return mediaRefusal(res, 401, 'token');
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const hasBody = req.method === 'POST';
    const request = new Request(`http://${req.headers.host}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
    let response: Response | null;
    try {
      response = await media.handle(request);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'media request failed');
      if (!res.headersSent) mediaRefusal(res, 500, 'internal error');
      return;
    }
    if (!response) return mediaRefusal(res, 404, 'not found');
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return void res.end();
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    res.once('close', () => body.destroy());
    body.on('error', () => res.destroy());
    body.pipe(res);
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME,
    handleProtocols: (protocols) => (protocols.has(WIRE_PROTOCOL) ? WIRE_PROTOCOL : false),
  });

  const refuse = (socket: Duplex, status: number, reason: string) => {
    log?.warn({ reason }, 'web bridge refused a socket');
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    socket.destroy();
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== WS_PATH) return refuse(socket, 403, 'path');
    if (!hostAllowed(req.headers.host, port, remote)) return refuse(socket, 403, 'host');
    if (req.headers.origin !== `http://${req.headers.host}`) return refuse(socket, 403, 'origin');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    const presented = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))?.slice(TOKEN_PROTOCOL_PREFIX.length);
    if (!presented || !tokensEqual(presented, token)) return refuse(socket, 401, 'token');
    if (!offered.includes(WIRE_PROTOCOL)) return refuse(socket, 403, 'protocol');
    if (wss.clients.size >= MAX_SOCKETS) return refuse(socket, 403, 'too many sockets');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    let inFlight = 0;
    const send = (msg: WireMessage) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED) {
        log?.warn('web page is not reading its socket; closing it');
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(msg));
    };
    const unsubscribe = eventNames.map((event) => opts.api.on(event, (payload) => send({ type: 'event', event, payload } as WireMessage)));
    ws.on('close', () => unsubscribe.forEach((u) => u()));
    ws.on('error', () => ws.terminate());

    void opts.api.call('getSelf', {}).then(
      (self) => send({ type: 'hello', self, needsName: opts.needsName?.() ?? false }),
      () => ws.close(1011, 'core unavailable'),
    );

    ws.on('message', async (data, isBinary) => {
      if (isBinary) return send({ type: 'result', id: null, ok: false, error: { code: 'invalid-args', message: 'text frames only' } });
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        return send({ type: 'result', id: null, ok: false, error: { code: 'invalid-args', message: 'not JSON' } });
      }
      const req = RequestSchema.safeParse(raw);
      if (!req.success) {
        const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : null;
        return send({ type: 'result', id, ok: false, error: { code: 'invalid-args', message: 'malformed request' } });
      }
      const { id } = req.data;
      if (inFlight >= MAX_IN_FLIGHT) {
        return send({ type: 'result', id, ok: false, error: { code: 'unavailable', message: 'too many requests in flight' } });
      }
      inFlight++;
      try {
        send({ type: 'result', id, ...(await dispatch(opts.api, req.data.cmd, req.data.args)) });
      } finally {
        inFlight--;
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const origin = `http://${shownHost}:${port}`;
  log?.info({ port, remote }, 'web bridge listening');

  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
