// Turning files the person picked, dropped or pasted into offers: the kind from the type, a
// preview for images (an image that does not decode goes as a plain file), then upload + offer.
import type { AppStore } from '../../app/store.ts';
import { kindOf } from './media.ts';
import { makeThumbnail } from './thumbnail.ts';

export async function sendFiles(store: AppStore, convId: string, files: Iterable<File>, replyTo?: string): Promise<void> {
  for (const file of files) {
    let kind = kindOf(file.type);
    let extra: { thumbnail?: string; width?: number; height?: number } = {};
    if (kind === 'image') {
      const thumb = await makeThumbnail(file);
      if (thumb) extra = thumb;
      else kind = 'file';
    }
    // A pasted image has a generic name ("image.png"); keep it, the type says what it is.
    await store.sendFile(convId, file, { name: file.name || 'file', kind, ...extra, replyTo });
    replyTo = undefined;
  }
}
