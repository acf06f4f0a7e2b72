// Turning files the person picked, dropped or pasted into offers: the kind from the type, a
// preview for images (an image that does not decode goes as a plain file), then upload + offer.
// A picked folder: one offer per file, all with the same folder descriptor.
import { ulid } from 'ulid';
import type { AppStore } from '../../app/store.ts';
import type { TFunction } from '../../i18n/i18n.tsx';
import { folderPlace, kindOf } from './media.ts';
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

/**
 * A folder picked with the folder chooser: one offer per file, in path order, all with the
 * same folder descriptor, so the other side accepts (or declines) it as one folder and gets it
 * in one new folder of its own. Files go as plain files (no previews): a folder is a folder.
 * Stops at the first file that cannot be sent (the store has said why).
 */
export async function sendFolder(store: AppStore, convId: string, files: Iterable<File>, t: TFunction): Promise<void> {
  const placed = [...files]
    .map((file) => ({ file, place: folderPlace(file) }))
    .filter((x): x is { file: File; place: NonNullable<ReturnType<typeof folderPlace>> } => x.place !== null)
    .sort((x, y) => (x.file.webkitRelativePath < y.file.webkitRelativePath ? -1 : x.file.webkitRelativePath > y.file.webkitRelativePath ? 1 : 0));
  if (placed.length === 0) return;
  if (placed.length > MAX_FOLDER_FILES) {
    store.notify(t('composer.folderTooMany', { count: MAX_FOLDER_FILES }));
    return;
  }
  const id = ulid();
  const bytes = placed.reduce((n, x) => n + x.file.size, 0);
  for (const { file, place } of placed) {
    const folder = { id, name: place.top, path: place.path, count: placed.length, bytes };
    if (!(await store.sendFile(convId, file, { name: place.name, kind: 'file', folder }))) return;
  }
}

/** The contract's bound on a folder's files. */
export const MAX_FOLDER_FILES = 10_000;
