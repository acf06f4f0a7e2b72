// Thumbnails are made by the sender's UI and decoded only by a receiver's renderer (its image
// decoder, sandboxed): the core never decodes one. It checks what it cheaply can, so that only
// something that claims to be a JPEG, PNG or WebP of bounded size is stored or forwarded.
import { LIMITS } from '../../contract/contract.ts';

export type ThumbnailType = 'image/jpeg' | 'image/png' | 'image/webp';

/** The type its magic bytes say, or null for anything else. */
export function thumbnailType(b: Uint8Array): ThumbnailType | null {
  if (b.byteLength >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.byteLength >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return 'image/png';
  const ascii = (from: number, s: string) => [...s].every((c, i) => b[from + i] === c.charCodeAt(0));
  if (b.byteLength >= 12 && ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  return null;
}

export class ThumbnailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThumbnailError';
  }
}

/** Strict base64 of a JPEG/PNG/WebP of at most LIMITS.thumbnailBytes; throws ThumbnailError otherwise. */
export function parseThumbnail(base64: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) throw new ThumbnailError('thumbnail is not base64');
  const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
  if (bytes.byteLength === 0) throw new ThumbnailError('thumbnail is empty');
  if (bytes.byteLength > LIMITS.thumbnailBytes) throw new ThumbnailError(`thumbnail is larger than ${LIMITS.thumbnailBytes} bytes`);
  if (!thumbnailType(bytes)) throw new ThumbnailError('thumbnail is not a JPEG, PNG or WebP image');
  return bytes;
}

/** A peer's thumbnail, or undefined when it is not acceptable (the message stays, the preview goes). */
export function acceptableThumbnail(b: Uint8Array | undefined): Uint8Array | undefined {
  if (!b || b.byteLength === 0 || b.byteLength > LIMITS.thumbnailBytes) return undefined;
  return thumbnailType(b) ? b : undefined;
}
