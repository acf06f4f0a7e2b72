// The sender-side preview of an image. It is decoded and re-encoded here, in the renderer's
// image decoder, so a malformed or hostile image can at worst fail to decode: then it goes
// as a plain file.
import { LIMITS } from '../../../../main/contract/contract.ts';

export const THUMBNAIL_EDGE = 320;

export interface Thumbnail {
  /** Absent when no encoding fitted the limit: the image still goes as an image. */
  thumbnail?: string;
  width: number;
  height: number;
}

async function blobToBase64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function toBlob(canvas: HTMLCanvasElement, type: string, quality: number): Promise<Blob | null> {
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

/**
 * At most 320 px on the long edge and LIMITS.thumbnailBytes, WebP where the browser encodes
 * it, else JPEG, lowering the quality (then the size) until it fits. Null when the image
 * cannot be decoded: the caller sends it as a plain file.
 */
export async function makeThumbnail(file: Blob): Promise<Thumbnail | null> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  try {
    const { width, height } = bitmap;
    if (!width || !height) return null;
    let edge = THUMBNAIL_EDGE;
    for (let attempt = 0; attempt < 4; attempt++, edge = Math.round(edge * 0.7)) {
      const scale = Math.min(1, edge / Math.max(width, height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      const ctx = canvas.getContext('2d');
      if (!ctx) return null;
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      for (const quality of [0.8, 0.6, 0.4]) {
        let blob = await toBlob(canvas, 'image/webp', quality);
        // A browser without a WebP encoder hands back PNG: use JPEG then.
        if (!blob || blob.type !== 'image/webp') blob = await toBlob(canvas, 'image/jpeg', quality);
        if (blob && blob.size <= LIMITS.thumbnailBytes) return { thumbnail: await blobToBase64(blob), width, height };
      }
    }
    return { width, height };
  } catch {
    return null;
  } finally {
    bitmap.close();
  }
}
