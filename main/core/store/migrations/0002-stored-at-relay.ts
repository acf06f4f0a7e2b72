// Two things the relay's offline mailbox needs to remember.
//  - messages.stored_at: when a relay's mailbox accepted a sealed copy of one of my messages.
//    The state column's CHECK cannot learn a new value without rebuilding the table (and its
//    FTS5 content rowid and triggers), so 'stored' is derived instead: a row still 'pending' or
//    'sent' with stored_at set reads as 'stored' (rows.ts). An ack or a read receipt clears it.
//  - peers.cert: the certificate (DER) a peer proved in a TLS handshake, so that a message can
//    be sealed to it even when no relay knows that peer.
import type { Migration } from './migration.ts';

export const storedAtRelay: Migration = {
  version: 2,
  name: 'stored at relay, remembered peer certificates',
  up(db) {
    db.exec(`
      ALTER TABLE messages ADD COLUMN stored_at INTEGER;
      ALTER TABLE peers ADD COLUMN cert BLOB;
      -- Schema 1 wrote 'sent' only when a relay's mailbox accepted the message; those still
      -- waiting in the outbox are exactly the ones stored at a relay. When is unknown: the
      -- message's own creation time is the best lower bound.
      UPDATE messages SET stored_at = created_at WHERE state = 'sent' AND id IN (SELECT message_id FROM outbox);
    `);
  },
};
