// Files offered with messages (issue 6, main/core/attachments/README.md): one row per message
// that carries a file, on both sides. The message row stays what it is (text, order, outbox);
// this row is what the offer said (name, size, type, preview, manifest) and where the
// transfer stands. The transfer layer's own resume state (offers served, downloads accepted)
// is kept by its TransferStore in the data folder, and each download's journal beside its
// temp file: this table only says what the UI shows and what the node still owes the peer.
import type { Migration } from './migration.ts';

export const attachments: Migration = {
  version: 6,
  name: 'attachments',
  up(db) {
    db.exec(`
      CREATE TABLE attachments (
        message_id  TEXT PRIMARY KEY,
        transfer_id TEXT NOT NULL UNIQUE,
        conv_id     TEXT NOT NULL,
        direction   TEXT NOT NULL CHECK (direction IN ('send', 'receive')),
        peer_id     TEXT,                      -- receive: the sender; send: the recipient (NULL in a group)
        name        TEXT NOT NULL,             -- as the sender named it (display only)
        size        INTEGER NOT NULL,
        mime        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        thumbnail   BLOB,                      -- checked JPEG/PNG/WebP, at most LIMITS.thumbnailBytes
        width       INTEGER,
        height      INTEGER,
        duration_ms INTEGER,
        manifest    BLOB NOT NULL,             -- MessagePack {chunk, hashes, hash}: what accepting needs
        source      TEXT,                      -- send: the uploaded file served to the peer(s)
        local_path  TEXT,                      -- receive: where the file was published, once done
        state       TEXT NOT NULL,             -- TransferStateName
        reason      TEXT,
        resumable   INTEGER NOT NULL DEFAULT 0 CHECK (resumable IN (0, 1)),
        bytes_done  INTEGER NOT NULL DEFAULT 0,
        notice      TEXT,                      -- 'declined' or 'canceled' not yet told to the peer
        recipients  TEXT,                      -- send, group: JSON array of the members it was offered to
        done_peers  TEXT NOT NULL DEFAULT '[]', -- send, group: members that received it
        created_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX attachments_notice ON attachments (peer_id) WHERE notice IS NOT NULL;
    `);
  },
};
