// Folders sent as one file offer per file (main/core/attachments/README.md "Folders"): every
// offer of a folder carries the same descriptor {id, name, path, count, bytes}.
//  - attachments.folder_id / folder: the descriptor as the offer said it (JSON, display and
//    grouping), folder_id alone so the files of one folder are found without parsing JSON.
//  - attachment_folders: a received folder's fate, per conversation, sender and folder ID.
//    Accepting the folder creates its one top folder in the download folder ("Project",
//    "Project (1)", …, never an existing one) and records it here, so files still arriving,
//    and files resumed after a restart, land in the same folder; declining or canceling it
//    is recorded too, so files arriving later follow the folder's fate.
import type { Migration } from './migration.ts';

export const attachmentFolders: Migration = {
  version: 7,
  name: 'attachment folders',
  up(db) {
    db.exec(`
      ALTER TABLE attachments ADD COLUMN folder_id TEXT;
      ALTER TABLE attachments ADD COLUMN folder TEXT;
      CREATE INDEX attachments_folder ON attachments (conv_id, folder_id) WHERE folder_id IS NOT NULL;
      CREATE TABLE attachment_folders (
        conv_id      TEXT NOT NULL,
        peer_id      TEXT NOT NULL,            -- the sender of the folder
        folder_id    TEXT NOT NULL,            -- the sender's ULID for it
        state        TEXT NOT NULL CHECK (state IN ('accepted', 'declined', 'canceled')),
        download_dir TEXT,                     -- accepted: the download folder at the time
        dir_name     TEXT,                     -- accepted: the top folder created inside it, once created
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (conv_id, peer_id, folder_id)
      ) WITHOUT ROWID;
    `);
  },
};
