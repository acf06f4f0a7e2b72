// What the person decided about a peer's identity, kept across restarts.
//  - peers.verified: the person compared this peer's ID with the peer out of band (read aloud,
//    both screens side by side) and marked it verified.
//  - peers.key_change_*: this peer ID showed up carrying the name of a known contact with a
//    different ID (a reinstall, or someone posing as them). Set by the key-change rule
//    (main/core/trust/key-change.ts), cleared when the person verifies the new ID or dismisses
//    the warning. All three are NULL together, or set together.
import type { Migration } from './migration.ts';

export const peerTrust: Migration = {
  version: 3,
  name: 'verified peers, key-change warnings',
  up(db) {
    db.exec(`
      ALTER TABLE peers ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1));
      ALTER TABLE peers ADD COLUMN key_change_previous_id TEXT;
      ALTER TABLE peers ADD COLUMN key_change_previous_name TEXT;
      ALTER TABLE peers ADD COLUMN key_change_verified_before INTEGER CHECK (key_change_verified_before IN (0, 1));
    `);
  },
};
