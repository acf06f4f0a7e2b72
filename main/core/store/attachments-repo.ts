// The attachments table (migration 0006): one row per message that carries a file.
import type Database from 'better-sqlite3';
import type { AttachmentKind, PeerId, TransferStateName } from '../../contract/contract.ts';

export interface AttachmentRow {
  messageId: string;
  transferId: string;
  convId: string;
  direction: 'send' | 'receive';
  peerId: PeerId | null;
  name: string;
  size: number;
  mime: string;
  kind: AttachmentKind;
  thumbnail: Uint8Array | null;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  manifest: Uint8Array;
  source: string | null;
  localPath: string | null;
  state: TransferStateName;
  reason: string | null;
  resumable: boolean;
  bytesDone: number;
  notice: 'declined' | 'canceled' | null;
  /** A group offer I made: the members it was offered to (null otherwise). */
  recipients: PeerId[] | null;
  donePeers: PeerId[];
  createdAt: number;
}

const COLS = `message_id AS messageId, transfer_id AS transferId, conv_id AS convId, direction, peer_id AS peerId, name, size, mime, kind,
  thumbnail, width, height, duration_ms AS durationMs, manifest, source, local_path AS localPath, state, reason, resumable,
  bytes_done AS bytesDone, notice, recipients, done_peers AS donePeers, created_at AS createdAt`;

type Raw = Omit<AttachmentRow, 'resumable' | 'donePeers' | 'recipients' | 'thumbnail' | 'manifest'> & {
  resumable: number;
  donePeers: string;
  recipients: string | null;
  thumbnail: Buffer | null;
  manifest: Buffer;
};

function fromRaw(r: Raw | undefined): AttachmentRow | undefined {
  if (!r) return undefined;
  return {
    ...r,
    resumable: r.resumable === 1,
    donePeers: JSON.parse(r.donePeers) as PeerId[],
    recipients: r.recipients === null ? null : (JSON.parse(r.recipients) as PeerId[]),
    thumbnail: r.thumbnail ? new Uint8Array(r.thumbnail) : null,
    manifest: new Uint8Array(r.manifest),
  };
}

export type AttachmentChange = Partial<Pick<AttachmentRow, 'state' | 'reason' | 'resumable' | 'bytesDone' | 'localPath' | 'notice' | 'donePeers' | 'source'>>;

export class AttachmentsRepo {
  private readonly insertStmt;
  private readonly byMessage;
  private readonly byTransfer;
  private readonly noticesFor;
  private readonly bySourceStmt;
  private readonly db: Database.Database;
  /**
   * Every message ID that has an attachment (a superset: an insert rolled back stays in it).
   * Building a MessageInfo asks for the attachment of every line and every acked message, and
   * nearly all have none: a set lookup instead of a query each time.
   */
  private readonly withAttachment: Set<string>;

  constructor(db: Database.Database) {
    this.db = db;
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO attachments (message_id, transfer_id, conv_id, direction, peer_id, name, size, mime, kind, thumbnail, width, height,
         duration_ms, manifest, source, local_path, state, reason, resumable, bytes_done, notice, recipients, done_peers, created_at)
       VALUES (@messageId, @transferId, @convId, @direction, @peerId, @name, @size, @mime, @kind, @thumbnail, @width, @height,
         @durationMs, @manifest, @source, @localPath, @state, @reason, @resumable, @bytesDone, @notice, @recipients, @donePeers, @createdAt)`,
    );
    this.byMessage = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE message_id = ?`);
    this.byTransfer = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE transfer_id = ?`);
    this.noticesFor = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE notice IS NOT NULL AND peer_id = ?`);
    this.bySourceStmt = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE source = ?`);
    this.withAttachment = new Set(db.prepare<[], string>('SELECT message_id FROM attachments').pluck().all());
  }

  /** False when the message already has its attachment (a resent offer). */
  insert(a: AttachmentRow): boolean {
    this.withAttachment.add(a.messageId);
    const r = this.insertStmt.run({
      ...a,
      thumbnail: a.thumbnail ? Buffer.from(a.thumbnail) : null,
      manifest: Buffer.from(a.manifest),
      resumable: a.resumable ? 1 : 0,
      donePeers: JSON.stringify(a.donePeers),
      recipients: a.recipients === null ? null : JSON.stringify(a.recipients),
    });
    return r.changes > 0;
  }

  get(messageId: string): AttachmentRow | undefined {
    if (!this.withAttachment.has(messageId)) return undefined;
    return fromRaw(this.byMessage.get(messageId));
  }

  byTransferId(transferId: string): AttachmentRow | undefined {
    return fromRaw(this.byTransfer.get(transferId));
  }

  /** The attachment that serves this uploaded file, if any. */
  bySource(file: string): AttachmentRow | undefined {
    return fromRaw(this.bySourceStmt.get(file));
  }

  /** Declines and cancels still to tell this peer. */
  notices(peerId: PeerId): AttachmentRow[] {
    return this.noticesFor.all(peerId).map((r) => fromRaw(r)!);
  }

  update(messageId: string, change: AttachmentChange): AttachmentRow | undefined {
    const cols: string[] = [];
    const vals: Record<string, unknown> = { messageId };
    const map: Record<keyof AttachmentChange, string> = {
      state: 'state',
      reason: 'reason',
      resumable: 'resumable',
      bytesDone: 'bytes_done',
      localPath: 'local_path',
      notice: 'notice',
      donePeers: 'done_peers',
      source: 'source',
    };
    for (const [k, v] of Object.entries(change) as Array<[keyof AttachmentChange, unknown]>) {
      if (v === undefined) continue;
      cols.push(`${map[k]} = @${k}`);
      vals[k] = k === 'resumable' ? (v ? 1 : 0) : k === 'donePeers' ? JSON.stringify(v) : v;
    }
    if (cols.length) this.db.prepare(`UPDATE attachments SET ${cols.join(', ')} WHERE message_id = @messageId`).run(vals);
    return this.get(messageId);
  }
}
