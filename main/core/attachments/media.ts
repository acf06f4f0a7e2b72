// Uploads and media, for every host: web mode's HTTP server (main/web/bridge.ts) and the
// desktop shell's custom protocol (main/electron/app-protocol.ts) both hand their requests
// here as fetch-API Requests, after their own checks of who is asking (token, Origin).
//  - POST /upload: the raw bytes of a file the UI is about to offer, streamed to a file this
//    node names itself (uploads/<ULID>, created exclusively, size-capped). The client's name
//    is kept beside it as data, never used as a path. The answer is the upload's ID, which
//    `sendFile` names; the file stays as long as an offer of it lives.
//  - GET/HEAD /media/<messageId>: the bytes of an attachment this node has (my sent file, or a
//    received one that is done), with single-range support (audio and video seek). Only an
//    allow-listed set of types is served inline; everything else (SVG, HTML, ...) is an
//    octet-stream download. Always nosniff and `Content-Security-Policy: sandbox`, so even a
//    file opened directly in a tab runs nothing.
import { constants, createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ulid } from 'ulid';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { AttachmentRow } from '../store/attachments-repo.ts';

/** Types a browser may render inline from /media; anything else is a download. */
export const INLINE_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'audio/webm',
  'audio/ogg',
  'audio/mpeg',
  'audio/wav',
  'audio/mp4',
  'video/webm',
  'video/mp4',
  'video/ogg',
]);

/** In-product offers carry their manifest (≤ 1,024 chunks of ≤ 16 MiB): see attachments/README.md. */
export const MAX_UPLOAD_BYTES = 16 * 1024 ** 3;
const UploadIdSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/);
const UploadMetaSchema = z.object({ name: z.string().min(1).max(1024), mime: z.string().min(1).max(255), size: z.number().int().min(0) });
export type UploadMeta = z.infer<typeof UploadMetaSchema>;

export interface MediaOptions {
  dataDir: string;
  log: Logger;
  /** The attachment of a message, if this node has one. */
  attachment: (messageId: string) => AttachmentRow | undefined;
  maxUploadBytes?: number;
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...extra },
  });
}

export function mediaError(status: number, message: string): Response {
  return json(status, { error: { message } });
}

/** A MIME type as declared by someone else, reduced to `type/subtype` in lower case (or ''). */
export function essence(mime: string): string {
  const m = /^\s*([a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+)\s*(;.*)?$/i.exec(mime);
  return m ? m[1]!.toLowerCase() : '';
}

export class Media {
  readonly uploadsDir: string;
  readonly #o: MediaOptions;

  constructor(opts: MediaOptions) {
    this.#o = opts;
    this.uploadsDir = path.join(opts.dataDir, 'uploads');
  }

  /** Routes /upload and /media/<id>; null for any other path (the host serves it). */
  async handle(request: Request): Promise<Response | null> {
    const url = new URL(request.url);
    if (url.pathname === '/upload') {
      if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
      return this.upload(request);
    }
    const m = /^\/media\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
      return this.media(request, decodeURIComponent(m[1]!));
    }
    return null;
  }

  // ---- uploads --------------------------------------------------------------------------

  async upload(request: Request): Promise<Response> {
    const max = this.#o.maxUploadBytes ?? MAX_UPLOAD_BYTES;
    let name: string;
    try {
      name = decodeURIComponent(request.headers.get('x-parley-name') ?? '');
    } catch {
      return mediaError(400, 'X-Parley-Name is not URI-encoded');
    }
    if (!name || name.length > 1024) return mediaError(400, 'X-Parley-Name must name the file (1 to 1024 characters)');
    const mime = essence(request.headers.get('content-type') ?? '') || 'application/octet-stream';
    const declared = Number(request.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) return mediaError(413, `files of at most ${max} bytes can be sent`);
    if (!request.body) return mediaError(400, 'no body');
    await fsp.mkdir(this.uploadsDir, { recursive: true, mode: 0o700 });
    const id = ulid();
    const file = this.pathOf(id);
    const fh = await fsp.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    let size = 0;
    let ok = false;
    try {
      for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > max) return mediaError(413, `files of at most ${max} bytes can be sent`);
        await fh.write(chunk);
      }
      await fh.sync();
      ok = true;
    } catch (err) {
      this.#o.log.info({ err: (err as Error).message }, 'upload interrupted');
      return mediaError(400, 'the upload was interrupted');
    } finally {
      await fh.close();
      if (!ok) await fsp.rm(file, { force: true });
    }
    await fsp.writeFile(`${file}.json`, JSON.stringify({ name, mime, size } satisfies UploadMeta), { mode: 0o600, flag: 'wx' });
    this.#o.log.info({ upload: id, bytes: size }, 'upload stored');
    return json(200, { upload: id });
  }

  pathOf(uploadId: string): string {
    return path.join(this.uploadsDir, UploadIdSchema.parse(uploadId));
  }

  /** An upload's file and what the client said about it, or null when there is none. */
  async uploaded(uploadId: string): Promise<{ file: string; meta: UploadMeta } | null> {
    if (!UploadIdSchema.safeParse(uploadId).success) return null;
    const file = this.pathOf(uploadId);
    try {
      const meta = UploadMetaSchema.parse(JSON.parse(await fsp.readFile(`${file}.json`, 'utf8')));
      const st = await fsp.lstat(file);
      if (!st.isFile()) return null;
      return { file, meta };
    } catch {
      return null;
    }
  }

  /** Removes an upload once no offer needs it. Only files inside uploads/ are ever removed. */
  async discard(file: string | null): Promise<void> {
    if (!file || path.dirname(file) !== this.uploadsDir) return;
    await fsp.rm(file, { force: true });
    await fsp.rm(`${file}.json`, { force: true });
  }

  /** Uploads no offer names, older than `olderThanMs` (posted, then never sent). */
  async sweep(inUse: (file: string) => boolean, olderThanMs = 24 * 3600_000): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(this.uploadsDir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!UploadIdSchema.safeParse(n).success) continue;
      const file = path.join(this.uploadsDir, n);
      if (inUse(file)) continue;
      const st = await fsp.lstat(file).catch(() => null);
      if (st && Date.now() - st.mtimeMs > olderThanMs) await this.discard(file);
    }
  }

  // ---- media ----------------------------------------------------------------------------

  async media(request: Request, messageId: string): Promise<Response> {
    const a = this.#o.attachment(messageId);
    const file = !a ? null : a.direction === 'send' ? a.source : a.state === 'done' ? a.localPath : null;
    if (!a || !file) return mediaError(404, 'no such media here');
    let fh;
    try {
      // A received file is the person's now: it may have been moved or replaced by a link.
      fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return mediaError(404, 'the file is no longer there');
    }
    let size: number;
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return mediaError(404, 'the file is no longer there');
      }
      size = st.size;
    } catch {
      await fh.close();
      return mediaError(404, 'the file is no longer there');
    }
    const type = essence(a.mime);
    const inline = INLINE_TYPES.has(type);
    const headers: Record<string, string> = {
      'content-type': inline ? type : 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'sandbox',
      'cache-control': 'private, no-cache',
      'accept-ranges': 'bytes',
      'cross-origin-resource-policy': 'same-origin',
    };
    if (!inline) headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(a.name)}`;
    const range = parseRange(request.headers.get('range'), size);
    if (range === 'invalid') {
      await fh.close();
      return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` } });
    }
    const [start, end] = range ?? [0, size - 1];
    const length = size === 0 ? 0 : end - start + 1;
    headers['content-length'] = String(length);
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    const status = range ? 206 : 200;
    if (request.method === 'HEAD' || length === 0) {
      await fh.close();
      return new Response(null, { status, headers });
    }
    const stream = createReadStream('', { fd: fh, start, end, autoClose: true });
    return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, { status, headers });
  }
}

/** One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`; null = whole file; 'invalid' = 416. */
export function parseRange(header: string | null, size: number): [number, number] | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  if (size === 0) return 'invalid';
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'invalid';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'invalid';
  return [start, end];
}
