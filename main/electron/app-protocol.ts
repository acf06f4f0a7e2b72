// app://parley/… serves the built renderer from disk with the CSP attached. A standard,
// secure scheme gives the page a stable origin (for localStorage) without file:// and its
// broad access. Pure: main.ts registers it with protocol.handle.
import { readFile } from 'node:fs/promises';
import { contentType, resolveStaticPath } from '../web/static-files.ts';
import { APP_HOST, APP_SCHEME, CONTENT_SECURITY_POLICY } from './security.ts';

/** For protocol.registerSchemesAsPrivileged, before the app is ready. */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
};

export function createAppProtocolHandler(rootDir: string): (request: Request) => Promise<Response> {
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
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405 });
    const file = resolveStaticPath(rootDir, url.pathname);
    if (!file) return new Response('not found', { status: 404, headers: headers('text/plain; charset=utf-8') });
    const body = request.method === 'HEAD' ? null : await readFile(file);
    return new Response(body, { status: 200, headers: headers(contentType(file)) });
  };
}
