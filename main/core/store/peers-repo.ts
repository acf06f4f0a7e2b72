// Known peers and the small key/value settings table.
import { X509Certificate } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { PresenceSchema, type PeerId, type Presence } from '../../contract/contract.ts';
import { peerIdFromSpki } from '../identity/peer-id.ts';
import type { PeerRow } from './rows.ts';

export const MAX_ADDRESSES = 16;
/** Ours are about 800 bytes (RSA-2048); anything this large is not a Parley certificate. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

export interface PeerUpdate {
  id: PeerId;
  name?: string;
  presence?: Presence;
  statusText?: string;
  /** Replaces the stored list (deduplicated, at most MAX_ADDRESSES, first ones kept). */
  addresses?: string[];
  lastSeen?: number;
}

interface RawPeer {
  id: PeerId;
  name: string;
  presence: string;
  statusText: string;
  addresses: string;
  lastSeen: number | null;
  firstSeen: number;
}

const AddressList = z.array(z.string());
const PEER_COLUMNS = 'id, name, presence, status_text AS statusText, addresses, last_seen AS lastSeen, first_seen AS firstSeen';

export class PeersRepo {
  private readonly getMetaStmt;
  private readonly setMetaStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly upsertStmt;
  private readonly upsertTx;
  private readonly getCertStmt;
  private readonly setCertStmt;

  constructor(db: Database.Database) {
    this.getMetaStmt = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.setMetaStmt = db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.getStmt = db.prepare<[string], RawPeer>(`SELECT ${PEER_COLUMNS} FROM peers WHERE id = ?`);
    this.listStmt = db.prepare<[], RawPeer>(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY first_seen, id`);
    this.upsertStmt = db.prepare<[RawPeer]>(
      `INSERT INTO peers (id, name, presence, status_text, addresses, last_seen, first_seen)
       VALUES (@id, @name, @presence, @statusText, @addresses, @lastSeen, @firstSeen)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, presence = excluded.presence,
         status_text = excluded.status_text, addresses = excluded.addresses, last_seen = excluded.last_seen`,
    );
    this.getCertStmt = db.prepare<[string], Buffer | null>('SELECT cert FROM peers WHERE id = ?').pluck();
    // No write when nothing changed: this runs on every link that comes up.
    this.setCertStmt = db.prepare<[Buffer, string, Buffer]>('UPDATE peers SET cert = ? WHERE id = ? AND cert IS NOT ?');
    this.upsertTx = db.transaction((p: PeerUpdate): PeerRow => {
      const known = this.getPeer(p.id);
      const row: PeerRow = {
        id: p.id,
        name: p.name ?? known?.name ?? '',
        presence: p.presence ?? known?.presence ?? 'offline',
        statusText: p.statusText ?? known?.statusText ?? '',
        addresses: p.addresses ? normaliseAddresses(p.addresses) : (known?.addresses ?? []),
        lastSeen: p.lastSeen ?? known?.lastSeen ?? null,
        firstSeen: known?.firstSeen ?? Date.now(),
      };
      this.upsertStmt.run({ ...row, addresses: JSON.stringify(row.addresses) });
      return row;
    });
  }

  getMeta(key: string): string | undefined {
    return this.getMetaStmt.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.setMetaStmt.run(key, value);
  }

  upsertPeer(p: PeerUpdate): PeerRow {
    return this.upsertTx.immediate(p);
  }

  getPeer(id: PeerId): PeerRow | undefined {
    const raw = this.getStmt.get(id);
    return raw && toPeerRow(raw);
  }

  listPeers(): PeerRow[] {
    return this.listStmt.all().map(toPeerRow);
  }

  /**
   * Remembers the certificate (DER) a known peer presented, but only one whose key hashes to
   * `id`: sealing to anything else would make messages unreadable to their recipient (or
   * readable to someone else). Returns whether anything changed; unknown peers are ignored.
   */
  setCertificate(id: PeerId, der: Uint8Array): boolean {
    if (der.byteLength === 0 || der.byteLength > MAX_CERTIFICATE_BYTES) return false;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
    } catch {
      return false; // not a certificate at all
    }
    if (peerIdFromSpki(cert.publicKey.export({ type: 'spki', format: 'der' })) !== id) return false;
    return this.setCertStmt.run(cert.raw, id, cert.raw).changes > 0;
  }

  getCertificate(id: PeerId): Uint8Array | undefined {
    return this.getCertStmt.get(id) ?? undefined;
  }
}

function normaliseAddresses(addresses: string[]): string[] {
  return [...new Set(addresses.filter((a) => typeof a === 'string' && a.length > 0))].slice(0, MAX_ADDRESSES);
}

function toPeerRow(raw: RawPeer): PeerRow {
  let addresses: string[] = [];
  try {
    addresses = AddressList.parse(JSON.parse(raw.addresses));
  } catch {
    // A damaged list costs us the addresses, not the peer: discovery finds it again.
  }
  const presence = PresenceSchema.safeParse(raw.presence);
  return { ...raw, presence: presence.success ? presence.data : 'offline', addresses };
}
