// The relay's offline mailbox: sealed envelopes for members who are not connected, kept in
// SQLite until the recipient acks them or they expire. The relay cannot open them (seal.ts);
// it sees sender, recipient, message ID, size and time. Acked IDs are remembered until the
// TTL ends, so a sender depositing the same message again (after its own restart) does not
// make the recipient receive it twice from here. Member certificates are kept too, so a
// sender can seal to someone who is offline right now.
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import type { PeerId } from '../main/contract/contract.ts';
import { EnvelopeSchema, type Envelope } from '../main/core/relay/frames.ts';

export interface MailboxLimits {
  ttlMs: number;
  quotaItems: number;
  quotaBytes: number;
  totalBytes: number;
  maxCertificates: number;
}

export type RefusalReason = 'quota' | 'too-large' | 'sender' | 'expired' | 'invalid';

/** Largest stored envelope (the frame schema allows 64 KiB of ciphertext plus certificate etc.). */
export const MAX_ENVELOPE_BYTES = 80 * 1024;

export interface StoredItem {
  seq: number;
  envelope: Envelope;
  size: number;
}

export class Mailbox {
  private readonly db: Database.Database;
  private readonly limits: MailboxLimits;
  private readonly stmts;
  private readonly depositTx;
  private readonly ackTx;

  constructor(dataDir: string, limits: MailboxLimits) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = path.join(dataDir, 'relay-mailbox.db');
    this.db = new Database(file);
    // Who wrote to whom and when is metadata worth protecting like the key next to it.
    chmodSync(file, 0o600);
    this.limits = limits;
    this.db.pragma('journal_mode = WAL');
    // "accepted" is answered only after a durable commit.
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient TEXT NOT NULL,
        id TEXT NOT NULL,
        sender TEXT NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        UNIQUE (recipient, id)
      );
      CREATE INDEX IF NOT EXISTS items_by_recipient ON items (recipient, seq);
      CREATE INDEX IF NOT EXISTS items_by_expiry ON items (expires);
      CREATE TABLE IF NOT EXISTS done (
        recipient TEXT NOT NULL,
        id TEXT NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (recipient, id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS certs (
        peer TEXT PRIMARY KEY,
        der BLOB NOT NULL,
        seen INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    this.stmts = {
      exists: this.db
        .prepare<[string, string, string, string], number>('SELECT 1 FROM items WHERE recipient = ? AND id = ? UNION ALL SELECT 1 FROM done WHERE recipient = ? AND id = ?')
        .pluck(),
      usage: this.db.prepare<[string], { n: number; bytes: number }>('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM items WHERE recipient = ?'),
      total: this.db.prepare<[], { n: number; bytes: number; recipients: number }>(
        'SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes, count(DISTINCT recipient) AS recipients FROM items',
      ),
      insert: this.db.prepare<[string, string, string, Buffer, number, number]>(
        'INSERT INTO items (recipient, id, sender, blob, size, expires) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      pending: this.db.prepare<[string, number, number], { seq: number; blob: Buffer; size: number }>(
        'SELECT seq, blob, size FROM items WHERE recipient = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      removeSeq: this.db.prepare<[number]>('DELETE FROM items WHERE seq = ?'),
      remove: this.db.prepare<[string, string]>('DELETE FROM items WHERE recipient = ? AND id = ?'),
      markDone: this.db.prepare<[string, string, number]>('INSERT OR REPLACE INTO done (recipient, id, expires) VALUES (?, ?, ?)'),
      expireItems: this.db.prepare<[number]>('DELETE FROM items WHERE expires <= ?'),
      expireDone: this.db.prepare<[number]>('DELETE FROM done WHERE expires <= ?'),
      putCert: this.db.prepare<[string, Buffer, number]>(
        'INSERT INTO certs (peer, der, seen) VALUES (?, ?, ?) ON CONFLICT (peer) DO UPDATE SET der = excluded.der, seen = excluded.seen',
      ),
      getCert: this.db.prepare<[string], Buffer>('SELECT der FROM certs WHERE peer = ?').pluck(),
      certCount: this.db.prepare<[], number>('SELECT count(*) FROM certs').pluck(),
      trimCerts: this.db.prepare<[number]>('DELETE FROM certs WHERE peer IN (SELECT peer FROM certs ORDER BY seen LIMIT ?)'),
    };
    this.depositTx = this.db.transaction((sender: PeerId, items: Envelope[], now: number) => {
      const accepted: string[] = [];
      const refused: Array<{ id: string; reason: RefusalReason }> = [];
      const total = this.stmts.total.get()!;
      let totalBytes = total.bytes;
      const usage = new Map<string, { n: number; bytes: number }>();
      for (const e of items) {
        if (e.from !== sender) {
          refused.push({ id: e.id, reason: 'sender' });
          continue;
        }
        if (this.stmts.exists.get(e.to, e.id, e.to, e.id)) {
          accepted.push(e.id); // idempotent: already here, or already delivered
          continue;
        }
        const blob = Buffer.from(encode(e));
        if (blob.byteLength > MAX_ENVELOPE_BYTES) {
          refused.push({ id: e.id, reason: 'too-large' });
          continue;
        }
        let u = usage.get(e.to);
        if (!u) usage.set(e.to, (u = { ...this.stmts.usage.get(e.to)! }));
        if (u.n + 1 > this.limits.quotaItems || u.bytes + blob.byteLength > this.limits.quotaBytes || totalBytes + blob.byteLength > this.limits.totalBytes) {
          refused.push({ id: e.id, reason: 'quota' });
          continue;
        }
        this.stmts.insert.run(e.to, e.id, sender, blob, blob.byteLength, now + this.limits.ttlMs);
        u.n++;
        u.bytes += blob.byteLength;
        totalBytes += blob.byteLength;
        accepted.push(e.id);
      }
      return { accepted, refused };
    });
    this.ackTx = this.db.transaction((recipient: PeerId, ids: string[], now: number) => {
      let removed = 0;
      for (const id of ids) {
        removed += this.stmts.remove.run(recipient, id).changes;
        this.stmts.markDone.run(recipient, id, now + this.limits.ttlMs);
      }
      return removed;
    });
  }

  deposit(sender: PeerId, items: Envelope[], now = Date.now()): { accepted: string[]; refused: Array<{ id: string; reason: RefusalReason }> } {
    return this.depositTx.immediate(sender, items, now);
  }

  /** Envelopes for `recipient` after `afterSeq`, oldest first, within `maxBytes` (at least one). */
  pending(recipient: PeerId, afterSeq: number, maxItems: number, maxBytes: number): StoredItem[] {
    const out: StoredItem[] = [];
    let bytes = 0;
    for (const row of this.stmts.pending.all(recipient, afterSeq, maxItems)) {
      if (out.length > 0 && bytes + row.size > maxBytes) break;
      let value: unknown = null;
      try {
        value = decode(row.blob);
      } catch {
        value = null;
      }
      const parsed = EnvelopeSchema.safeParse(value);
      // A row that no longer parses (disk damage, older format) is useless to everyone: drop it.
      if (!parsed.success || parsed.data.to !== recipient) {
        this.stmts.removeSeq.run(row.seq);
        continue;
      }
      out.push({ seq: row.seq, envelope: parsed.data, size: row.size });
      bytes += row.size;
    }
    return out;
  }

  /** The recipient has them: delete, and remember the IDs until the TTL ends. */
  ack(recipient: PeerId, ids: string[], now = Date.now()): number {
    return ids.length === 0 ? 0 : this.ackTx.immediate(recipient, ids, now);
  }

  expire(now = Date.now()): number {
    const n = this.stmts.expireItems.run(now).changes;
    this.stmts.expireDone.run(now);
    return n;
  }

  stats(): { items: number; bytes: number; recipients: number } {
    const t = this.stmts.total.get()!;
    return { items: t.n, bytes: t.bytes, recipients: t.recipients };
  }

  rememberCertificate(peer: PeerId, der: Uint8Array, now = Date.now()): void {
    this.stmts.putCert.run(peer, Buffer.from(der), now);
    const over = this.stmts.certCount.get()! - this.limits.maxCertificates;
    if (over > 0) this.stmts.trimCerts.run(over);
  }

  certificate(peer: PeerId): Buffer | null {
    return this.stmts.getCert.get(peer) ?? null;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
