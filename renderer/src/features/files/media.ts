// What kind of attachment a file is, how big it reads, and which previews may reach an
// <img>. Pure (tested under Node); the preview itself is made in thumbnail.ts.
import type { AttachmentKind } from '../../../../main/contract/contract.ts';

/** Inline images only for the formats the core serves inline (no SVG: it is a document). */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export function kindOf(mime: string): AttachmentKind {
  const m = mime.toLowerCase();
  if (INLINE_IMAGES.has(m)) return 'image';
  if (m.startsWith('audio/')) return 'audio';
  if (m.startsWith('video/')) return 'video';
  return 'file';
}

export function formatBytes(n: number, lang: string): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v)} ${units[u]}`;
}

/** 1:05, 12:00, 1:02:03 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * A data: URL for a preview the core checked (JPEG, PNG or WebP by magic bytes), or null for
 * anything else: the image element is never handed a type we did not recognise.
 */
export function thumbnailUrl(base64: string | undefined): string | null {
  if (!base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
  const type = base64.startsWith('/9j/') ? 'image/jpeg' : base64.startsWith('iVBORw0KGgo') ? 'image/png' : base64.startsWith('UklGR') ? 'image/webp' : null;
  return type ? `data:${type};base64,${base64}` : null;
}

/** One picked file of a folder: its top folder, its sub-path inside it, and its own name. */
export function folderPlace(file: { name: string; webkitRelativePath: string }): { top: string; path: string; name: string } | null {
  const parts = file.webkitRelativePath.split('/').filter((p) => p !== '');
  if (parts.length < 2) return null;
  return { top: parts[0]!, path: parts.slice(1, -1).join('/'), name: parts.at(-1)! };
}
