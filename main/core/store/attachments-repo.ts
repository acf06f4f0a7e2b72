// The attachments table (migration 0006): one row per message that carries a file.
import type Database from 'better-sqlite3';
import type { AttachmentKind, FolderRef, PeerId, TransferStateName } from '../../contract/contract.ts';

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
  /** Part of a folder sent as one offer per file (migration 0007), as the offer described it. */
  folder: FolderRef | null;
}

/** A received folder's fate (migration 0007): accepted (into `dirName` inside `downloadDir`), declined or canceled. */
export interface FolderRow {
  convId: string;
  peerId: PeerId;
  folderId: string;
  state: 'accepted' | 'declined' | 'canceled';
  downloadDir: string | null;
  dirName: string | null;
  createdAt: number;
}

const COLS = `message_id AS messageId, transfer_id AS transferId, conv_id AS convId, direction, peer_id AS peerId, name, size, mime, kind,
  thumbnail, width, height, duration_ms AS durationMs, manifest, source, local_path AS localPath, state, reason, resumable,
  bytes_done AS bytesDone, notice, recipients, done_peers AS donePeers, created_at AS createdAt, folder`;

type Raw = Omit<AttachmentRow, 'resumable' | 'donePeers' | 'recipients' | 'thumbnail' | 'manifest' | 'folder'> & {
  folder: string | null;
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
    folder: r.folder === null ? null : (JSON.parse(r.folder) as FolderRef),
  };
}

export type AttachmentChange = Partial<Pick<AttachmentRow, 'state' | 'reason' | 'resumable' | 'bytesDone' | 'localPath' | 'notice' | 'donePeers' | 'source'>>;

export class AttachmentsRepo {
  private readonly insertStmt;
  private readonly byMessage;
  private readonly byTransfer;
  private readonly noticesFor;
  private readonly bySourceStmt;
  private readonly inFolderStmt;
  private readonly folderGet;
  private readonly folderPut;
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
         duration_ms, manifest, source, local_path, state, reason, resumable, bytes_done, notice, recipients, done_peers, created_at, folder_id, folder)
       VALUES (@messageId, @transferId, @convId, @direction, @peerId, @name, @size, @mime, @kind, @thumbnail, @width, @height,
         @durationMs, @manifest, @source, @localPath, @state, @reason, @resumable, @bytesDone, @notice, @recipients, @donePeers, @createdAt, @folderId, @folder)`,
    );
    this.byMessage = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE message_id = ?`);
    this.byTransfer = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE transfer_id = ?`);
    this.noticesFor = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE notice IS NOT NULL AND peer_id = ?`);
    this.bySourceStmt = db.prepare<[string], Raw>(`SELECT ${COLS} FROM attachments WHERE source = ?`);
    this.inFolderStmt = db.prepare<[string, string], Raw>(`SELECT ${COLS} FROM attachments WHERE conv_id = ? AND folder_id = ? ORDER BY created_at, message_id`);
    this.folderGet = db.prepare<[string, string, string], FolderRow>(
      `SELECT conv_id AS convId, peer_id AS peerId, folder_id AS folderId, state, download_dir AS downloadDir, dir_name AS dirName, created_at AS createdAt
       FROM attachment_folders WHERE conv_id = ? AND peer_id = ? AND folder_id = ?`,
    );
    this.folderPut = db.prepare(
      `INSERT INTO attachment_folders (conv_id, peer_id, folder_id, state, download_dir, dir_name, created_at)
       VALUES (@convId, @peerId, @folderId, @state, @downloadDir, @dirName, @createdAt)
       ON CONFLICT (conv_id, peer_id, folder_id) DO UPDATE SET state = excluded.state, download_dir = excluded.download_dir, dir_name = excluded.dir_name`,
    );
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
      folderId: a.folder?.id ?? null,
      folder: a.folder === null ? null : JSON.stringify(a.folder),
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

  /** Every file of one folder in a conversation (both directions; callers pick by peer), oldest first. */
  inFolder(convId: string, folderId: string): AttachmentRow[] {
    return this.inFolderStmt.all(convId, folderId).map((r) => fromRaw(r)!);
  }

  folder(convId: string, peerId: PeerId, folderId: string): FolderRow | undefined {
    return this.folderGet.get(convId, peerId, folderId);
  }

  putFolder(f: FolderRow): void {
    this.folderPut.run(f);
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
