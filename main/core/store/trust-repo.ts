// What the person decided about peers' identities (migration 0003): verified IDs and
// key-change warnings. Kept apart from PeersRepo's upsert, which peers' own announcements
// drive: nothing a peer sends can set or clear these columns.
import type Database from 'better-sqlite3';
import type { KeyChange, PeerId } from '../../contract/contract.ts';

export interface PeerTrust {
  verified: boolean;
  keyChange: KeyChange | null;
}

/** A peer the person has reason to recognise by name: verified, or messages exchanged. */
export interface ContactRow {
  id: PeerId;
  name: string;
  verified: boolean;
  lastSeen: number | null;
}

interface RawTrust {
  verified: number;
  previousId: PeerId | null;
  previousName: string | null;
  verifiedBefore: number | null;
}

export class TrustRepo {
  private readonly getStmt;
  private readonly allStmt;
  private readonly verifiedStmt;
  private readonly keyChangeStmt;
  private readonly contactsStmt;

  constructor(db: Database.Database) {
    const cols =
      'verified, key_change_previous_id AS previousId, key_change_previous_name AS previousName, key_change_verified_before AS verifiedBefore';
    this.getStmt = db.prepare<[string], RawTrust>(`SELECT ${cols} FROM peers WHERE id = ?`);
    this.allStmt = db.prepare<[], RawTrust & { id: PeerId }>(`SELECT id, ${cols} FROM peers`);
    // Verifying is the answer a key-change warning asks for, so it clears the warning.
    this.verifiedStmt = db.prepare<[{ id: string; verified: number }]>(
      `UPDATE peers SET verified = @verified,
         key_change_previous_id = CASE WHEN @verified = 1 THEN NULL ELSE key_change_previous_id END,
         key_change_previous_name = CASE WHEN @verified = 1 THEN NULL ELSE key_change_previous_name END,
         key_change_verified_before = CASE WHEN @verified = 1 THEN NULL ELSE key_change_verified_before END
       WHERE id = @id`,
    );
    this.keyChangeStmt = db.prepare<[{ id: string; previousId: string | null; previousName: string | null; verifiedBefore: number | null }]>(
      `UPDATE peers SET key_change_previous_id = @previousId, key_change_previous_name = @previousName,
         key_change_verified_before = @verifiedBefore WHERE id = @id`,
    );
    // messages_order (conv_id, …) answers the EXISTS; conversations is one row per peer.
    this.contactsStmt = db.prepare<[], { id: PeerId; name: string; verified: number; lastSeen: number | null }>(
      `SELECT p.id, p.name, p.verified, p.last_seen AS lastSeen FROM peers p
       WHERE p.name != '' AND (p.verified = 1 OR EXISTS (
         SELECT 1 FROM conversations c JOIN messages m ON m.conv_id = c.id WHERE c.peer_id = p.id))`,
    );
  }

  get(id: PeerId): PeerTrust | undefined {
    const raw = this.getStmt.get(id);
    return raw && toTrust(raw);
  }

  all(): Map<PeerId, PeerTrust> {
    return new Map(this.allStmt.all().map((r) => [r.id, toTrust(r)]));
  }

  /** False when the peer is not stored. */
  setVerified(id: PeerId, verified: boolean): boolean {
    return this.verifiedStmt.run({ id, verified: verified ? 1 : 0 }).changes > 0;
  }

  /** False when the peer is not stored. */
  setKeyChange(id: PeerId, change: KeyChange | null): boolean {
    return (
      this.keyChangeStmt.run({
        id,
        previousId: change?.previousId ?? null,
        previousName: change?.previousName ?? null,
        verifiedBefore: change ? (change.verifiedBefore ? 1 : 0) : null,
      }).changes > 0
    );
  }

  contacts(): ContactRow[] {
    return this.contactsStmt.all().map((r) => ({ id: r.id, name: r.name, verified: r.verified === 1, lastSeen: r.lastSeen }));
  }
}

function toTrust(raw: RawTrust): PeerTrust {
  return {
    verified: raw.verified === 1,
    keyChange:
      raw.previousId !== null && raw.previousName !== null
        ? { previousId: raw.previousId, previousName: raw.previousName, verifiedBefore: raw.verifiedBefore === 1 }
        : null,
  };
}
