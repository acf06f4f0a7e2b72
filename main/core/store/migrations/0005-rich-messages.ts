// Richer messages (issue 6): replies, @mentions, broadcasts, and edits, deletions and
// reactions ("ops") on earlier messages.
//  - An op is stored as a row of `messages` like any message (so it has an ID, a place in
//    the outbox and an ack), with `op` set (JSON: {k, target, text?, emoji?, on?}) and empty
//    text. It is never a line of history: every query that shows lines filters `op IS NULL`.
//    Pages still walk messages_order (they read each row anyway); unread counts stay
//    index-only by subtracting the ops, which the small partial index messages_ops counts. A
//    second full index of the visible rows would have cost every insert (measured ~20%).
//    Its effect is folded into the target
//    row (text, edited_at, deleted, reactions) when it is stored; an op whose
//    target is not here yet waits, as a row, until the target arrives (op_target finds it).
//  - reactions: JSON [{emoji, by: [peer IDs]}] in order of first use, NULL when none. A
//    column rather than a table: every line shown reads it, and a column costs nothing to read
//    with the row (a lookup per line was measured at ~11 µs, most of toInfo's time).
//  - reply_to / mentions (JSON array of peer IDs) / broadcast describe a line as sent.
//  - broadcasts + broadcast_recipients: my broadcasts, one direct message per recipient; the
//    delivery state is the message's own.
import type { Migration } from './migration.ts';

export const richMessages: Migration = {
  version: 5,
  name: 'replies, mentions, edits, deletions, reactions, broadcasts',
  up(db) {
    db.exec(`
      ALTER TABLE messages ADD COLUMN reply_to TEXT;
      ALTER TABLE messages ADD COLUMN mentions TEXT;
      ALTER TABLE messages ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0 CHECK (broadcast IN (0, 1));
      ALTER TABLE messages ADD COLUMN op TEXT;
      ALTER TABLE messages ADD COLUMN op_target TEXT;
      ALTER TABLE messages ADD COLUMN edited_at INTEGER;
      ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1));
      ALTER TABLE messages ADD COLUMN reactions TEXT;

      CREATE INDEX messages_ops ON messages (conv_id, lamport, author, seq, id) WHERE op IS NOT NULL;
      CREATE INDEX messages_op_target ON messages (op_target) WHERE op_target IS NOT NULL;

      CREATE TABLE broadcasts (
        id         TEXT PRIMARY KEY,
        text       TEXT NOT NULL,
        ts         INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE broadcast_recipients (
        broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
        peer_id      TEXT NOT NULL,
        name         TEXT NOT NULL,
        message_id   TEXT NOT NULL UNIQUE REFERENCES messages (id),
        PRIMARY KEY (broadcast_id, peer_id)
      ) WITHOUT ROWID;
    `);
  },
};
