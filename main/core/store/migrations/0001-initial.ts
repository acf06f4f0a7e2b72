// The first schema. Migrations are append-only: once released, a migration is never edited;
// a change to the schema is a new numbered file.
import type { Migration } from './migration.ts';

export const initial: Migration = {
  version: 1,
  name: 'initial schema',
  up(db) {
    db.exec(`
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE peers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL DEFAULT '',
        presence    TEXT NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'busy', 'offline')),
        status_text TEXT NOT NULL DEFAULT '',
        addresses   TEXT NOT NULL DEFAULT '[]', -- JSON array of "host:port"
        last_seen   INTEGER,
        first_seen  INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Peer IDs are not foreign keys: a conversation (and its outbox) may exist for a peer
      -- we have only an ID for.
      CREATE TABLE conversations (
        id             TEXT PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind = 'direct'),
        peer_id        TEXT NOT NULL,
        title          TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        lamport        INTEGER NOT NULL DEFAULT 0, -- highest lamport seen here
        my_seq         INTEGER NOT NULL DEFAULT 0, -- last seq I used here
        read_upto      TEXT,                       -- my read marker (a message id)
        peer_read_upto TEXT                        -- the peer's read marker for my messages
      ) WITHOUT ROWID;

      -- rowid is declared so that it is stable (VACUUM may renumber an implicit rowid) and
      -- can be the FTS content rowid.
      CREATE TABLE messages (
        rowid        INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        conv_id      TEXT NOT NULL REFERENCES conversations (id),
        author       TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        lamport      INTEGER NOT NULL,
        ts           INTEGER NOT NULL,
        text         TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'delivered', 'read', 'canceled', 'rejected')),
        created_at   INTEGER NOT NULL
      );
      -- Conversation order, the same on both sides and independent of wall clocks. id breaks
      -- the (only theoretical) tie so that the order is total and paging never skips or repeats.
      CREATE INDEX messages_order ON messages (conv_id, lamport, author, seq, id);

      -- AUTOINCREMENT: positions are never reused, even after the outbox empties, so a
      -- sender's "written up to position N" cursor can never skip a newer entry.
      CREATE TABLE outbox (
        ord         INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id  TEXT NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
        peer_id     TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL
      );
      CREATE INDEX outbox_peer ON outbox (peer_id, ord);
      CREATE INDEX outbox_age ON outbox (enqueued_at);

      CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text,
        content = 'messages',
        content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
      );
      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
      END;
      CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
      END;
      -- OF text: state changes (the frequent updates) must not touch the index.
      CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
      END;
    `);
  },
};
