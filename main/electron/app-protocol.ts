// app://parley/… serves the built renderer from disk with the CSP attached. A standard,
// secure scheme gives the page a stable origin (for localStorage) without file:// and its
// broad access. Pure: main.ts registers it with protocol.handle.
import { readFile } from 'node:fs/promises';
import { contentType, resolveStaticPath } from '../web/static-files.ts';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY } from './security.ts';

/** For protocol.registerSchemesAsPrivileged, before the app is ready. */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  // stream: media (audio, video) is served in ranges as the page seeks.
  privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true, stream: true },
};

/**
 * `media`: POST /upload and GET /media/<id> (main/core/attachments/media.ts, the module web
 * mode serves them with). Only the app's own page can reach this scheme; an upload must still
 * come from it (Origin app://parley), so nothing else the shell loads can post files.
 */
export function createAppProtocolHandler(rootDir: string, media?: { handle(request: Request): Promise<Response | null> }): (request: Request) => Promise<Response> {
  const headers = (type: string) => ({
    'content-type': type,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
  });
  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return new Response('bad request', { status: 400 });
    }
    if (url.host !== APP_HOST) return new Response('not found', { status: 404 });
    if (url.pathname === '/upload' || url.pathname.startsWith('/media/')) {
      if (!media) return new Response('not found', { status: 404 });
      const origin = request.headers.get('origin');
      if (url.pathname === '/upload' && origin !== APP_ORIGIN) return new Response(JSON.stringify({ error: { message: 'wrong origin' } }), { status: 403, headers: { 'content-type': 'application/json' } });
      return (await media.handle(request)) ?? new Response('not found', { status: 404 });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405 });
    const file = resolveStaticPath(rootDir, url.pathname);
    if (!file) return new Response('not found', { status: 404, headers: headers('text/plain; charset=utf-8') });
    const body = request.method === 'HEAD' ? null : await readFile(file);
    return new Response(body, { status: 200, headers: headers(contentType(file)) });
  };
}
