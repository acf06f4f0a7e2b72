// Serves the built renderer read-only. Only files under `root` are reachable: the request
// path is decoded once, normalised, and must stay inside root after resolution.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The file a URL path names inside root, or null when it names nothing servable. */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const normal = path.posix.normalize(`/${decoded}`);
  const rel = normal === '/' ? 'index.html' : normal.slice(1);
  const base = path.resolve(root);
  const file = path.resolve(base, rel);
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  try {
    const st = statSync(file);
    if (st.isDirectory()) return resolveStaticPath(root, `${normal}/index.html`);
    return st.isFile() ? file : null;
  } catch {
    return null;
  }
}

export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
  const urlPath = (req.url ?? '/').split('?')[0]!.split('#')[0]!;
  const file = resolveStaticPath(root, urlPath);
  if (!file) {
    res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  const type = contentType(file);
  res.writeHead(200, {
    ...headers,
    'content-type': type,
    // The HTML names hashed assets; it must not be cached across builds.
    'cache-control': type.startsWith('text/html') ? 'no-store' : 'max-age=3600',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
