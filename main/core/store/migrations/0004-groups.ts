// Groups (issue 6, main/core/groups/README.md "What the store keeps").
//  - conversations is rebuilt so that a row can be a group's: kind 'group', no peer. The table
//    is small and keyed by id; messages (with its FTS5 content rowid and triggers) stays as it
//    is, so group text events become ordinary message rows and history, paging, search and
//    read markers work unchanged.
//  - groups: one row per group this node holds, with caches of what the events fold to
//    (name, owner, members, whether I am one) for lists; the events are the truth.
//  - group_events: every authentic event exactly as it arrived (ev + sig, which is what is
//    forwarded and what a restart rebuilds the replica from), the decoded order fields, and
//    the verdict. Member certificates travel inside create/add events, so they are kept here
//    too, byte for byte, signed by the owner.
import type { Migration } from './migration.ts';

export const groups: Migration = {
  version: 4,
  name: 'groups',
  up(db) {
    // Foreign keys are checked at commit instead of per statement: dropping the old table
    // leaves every message row without its conversation, and inserting each conversation into
    // the new table (which takes the same name, so the REFERENCES in messages stay as they
    // are) gives it back. A rename would not: SQLite counts a violation fixed only when the
    // parent row is inserted, and it rewrites the REFERENCES of a renamed parent table.
    db.pragma('defer_foreign_keys = ON');
    db.exec(`
      CREATE TABLE conversations_v3 AS SELECT * FROM conversations;
      DROP TABLE conversations;
      CREATE TABLE conversations (
        id             TEXT PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
        peer_id        TEXT,                       -- the peer of a direct conversation; NULL for a group
        title          TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        lamport        INTEGER NOT NULL DEFAULT 0, -- highest lamport seen here
        my_seq         INTEGER NOT NULL DEFAULT 0, -- last seq I used here (direct only)
        read_upto      TEXT,                       -- my read marker (a message id)
        peer_read_upto TEXT,                       -- the peer's read marker for my messages (direct only)
        CHECK ((kind = 'direct') = (peer_id IS NOT NULL))
      ) WITHOUT ROWID;
      INSERT INTO conversations (id, kind, peer_id, title, created_at, lamport, my_seq, read_upto, peer_read_upto)
        SELECT id, kind, peer_id, title, created_at, lamport, my_seq, read_upto, peer_read_upto FROM conversations_v3;
      DROP TABLE conversations_v3;
    `);
    db.exec(`
      CREATE TABLE groups (
        id         TEXT PRIMARY KEY,
        conv_id    TEXT NOT NULL UNIQUE REFERENCES conversations (id),
        name       TEXT NOT NULL,
        owner      TEXT,
        members    TEXT NOT NULL DEFAULT '[]', -- JSON array of peer IDs, in join order
        is_member  INTEGER NOT NULL DEFAULT 0 CHECK (is_member IN (0, 1)),
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE group_events (
        rowid       INTEGER PRIMARY KEY,
        group_id    TEXT NOT NULL REFERENCES groups (id),
        id          TEXT NOT NULL,
        author      TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        lamport     INTEGER NOT NULL,
        ts          INTEGER NOT NULL,
        kind        TEXT NOT NULL,            -- as on the wire (a later version's kind included)
        ev          BLOB NOT NULL,            -- the author's exact bytes
        sig         BLOB NOT NULL,
        ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
        reason      TEXT,                     -- why it has no effect, when ok = 0
        received_at INTEGER NOT NULL,
        UNIQUE (group_id, id),
        UNIQUE (group_id, author, seq)
      );
      CREATE INDEX group_events_order ON group_events (group_id, lamport, author, seq, id);
    `);
  },
};
