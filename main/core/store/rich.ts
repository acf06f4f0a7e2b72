// Folding ops (edit, delete, react) into the messages they name, reactions, reply quotes and
// broadcasts (migration 0005). Direct conversations (messages-repo.ts) and groups
// (groups-repo.ts) call the same folding inside their own transactions, so both show an op's
// effect in the same way and at the moment the op is stored.
//
// Who may do what is decided here, because every path that stores an op (a link, a relay's
// mailbox, a group sync) comes through here: only a message's author edits or deletes it;
// anyone in the conversation reacts; nothing changes a deleted message; an op never targets an
// op or a message of another conversation.
import type Database from 'better-sqlite3';
import type { MessageState, PeerId } from '../../contract/contract.ts';
import { messageColumns, ORDER_ASC, type MessageRow } from './rows.ts';

/** The op as stored in messages.op (the same shape as the wire's, protocol/frames.ts MessageOp). */
export type StoredOp =
  | { k: 'edit'; target: string; text: string }
  | { k: 'delete'; target: string }
  | { k: 'react'; target: string; emoji: string; on: boolean };

/**
 * 'applied': the target changed. 'waiting': the target is not here (yet); the op row stays and
 * is applied when it arrives. 'refused': never allowed (someone else's message, another
 * conversation, an op). 'ignored': allowed but without effect (the target is deleted).
 */
export type OpOutcome = 'applied' | 'waiting' | 'refused' | 'ignored';

/**
 * Different emojis on one message, at most: a peer could otherwise grow one message's reactions
 * without bound (every line read parses them). More are ignored; each emoji's list of people is
 * bounded by the conversation's members anyway.
 */
export const MAX_REACTION_EMOJIS = 64;

/** Canonical JSON of an op (fixed key order), so a resent op compares equal to the stored one. */
export function opJson(op: StoredOp): string {
  switch (op.k) {
    case 'edit':
      return JSON.stringify({ k: op.k, target: op.target, text: op.text });
    case 'delete':
      return JSON.stringify({ k: op.k, target: op.target });
    case 'react':
      return JSON.stringify({ k: op.k, target: op.target, emoji: op.emoji, on: op.on });
  }
}

export function parseOp(json: string | null): StoredOp | null {
  return json === null ? null : (JSON.parse(json) as StoredOp);
}

/** Lone surrogates become U+FFFD, as SQLite would store them anyway. */
export function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, '\uFFFD');
}

interface TargetRow {
  id: string;
  convId: string;
  author: PeerId;
  isOp: number;
  deleted: number;
}

export interface BroadcastRecord {
  id: string;
  text: string;
  ts: number;
  recipients: Array<{ peerId: PeerId; name: string; messageId: string; state: MessageState }>;
}

export class RichRepo {
  private readonly targetStmt;
  private readonly editStmt;
  private readonly deleteStmt;
  private readonly reactionsOf;
  private readonly setReactions;
  private readonly waitingStmt;
  private readonly insertBroadcastStmt;
  private readonly insertRecipientStmt;
  private readonly listBroadcastsStmt;
  private readonly recipientsStmt;
  private readonly broadcastOfStmt;
  private readonly oneBroadcastStmt;
  private readonly insertBroadcastTx;

  constructor(db: Database.Database) {
    this.targetStmt = db.prepare<[string], TargetRow>('SELECT id, conv_id AS convId, author, op IS NOT NULL AS isOp, deleted FROM messages WHERE id = ?');
    this.editStmt = db.prepare<[string, number, string]>('UPDATE messages SET text = ?, edited_at = ? WHERE id = ?');
    // The text goes (and with it the FTS entry, by the update trigger); so do the mentions,
    // which would otherwise still notify.
    this.deleteStmt = db.prepare<[string]>("UPDATE messages SET text = '', deleted = 1, mentions = NULL, reactions = NULL WHERE id = ?");
    this.reactionsOf = db.prepare<[string], string | null>('SELECT reactions FROM messages WHERE id = ?').pluck();
    this.setReactions = db.prepare<[string | null, string]>('UPDATE messages SET reactions = ? WHERE id = ?');
    this.waitingStmt = db.prepare<[string, string], { id: string; author: PeerId; ts: number; op: string }>(
      // Written so that the partial index messages_op_target serves it (its condition
      // spelled out; +conv_id keeps the planner off messages_order, a scan of the whole
      // conversation): it runs for every batch of messages stored.
      `SELECT id, author, ts, op FROM messages
       WHERE op_target IS NOT NULL AND op_target IN (SELECT value FROM json_each(?)) AND +conv_id = ?
       ORDER BY ${ORDER_ASC}`,
    );
    this.insertBroadcastStmt = db.prepare<[string, string, number]>('INSERT INTO broadcasts (id, text, ts) VALUES (?, ?, ?)');
    this.insertRecipientStmt = db.prepare<[string, string, string, string]>(
      'INSERT INTO broadcast_recipients (broadcast_id, peer_id, name, message_id) VALUES (?, ?, ?, ?)',
    );
    this.listBroadcastsStmt = db.prepare<[number], { id: string; text: string; ts: number }>('SELECT id, text, ts FROM broadcasts ORDER BY id DESC LIMIT ?');
    this.oneBroadcastStmt = db.prepare<[string], { id: string; text: string; ts: number }>('SELECT id, text, ts FROM broadcasts WHERE id = ?');
    this.recipientsStmt = db.prepare<[string], { peerId: PeerId; name: string; messageId: string; state: MessageState }>(
      `SELECT r.peer_id AS peerId, r.name AS name, r.message_id AS messageId, s.state AS state
       FROM broadcast_recipients r JOIN (SELECT ${messageColumns('m')} FROM messages m) s ON s.id = r.message_id
       WHERE r.broadcast_id = ? ORDER BY r.name, r.peer_id`,
    );
    this.broadcastOfStmt = db.prepare<[string], string>('SELECT broadcast_id FROM broadcast_recipients WHERE message_id = ?').pluck();
    this.insertBroadcastTx = db.transaction((b: { id: string; text: string; ts: number; recipients: Array<{ peerId: PeerId; name: string; messageId: string }> }) => {
      this.insertBroadcastStmt.run(b.id, b.text, b.ts);
      for (const r of b.recipients) this.insertRecipientStmt.run(b.id, r.peerId, r.name, r.messageId);
    });
  }

  /**
   * Whether `author` may apply `op` in `convId` now, without changing anything: commands ask
   * before composing, receivers before storing.
   */
  check(convId: string, author: PeerId, op: StoredOp): OpOutcome {
    const t = this.targetStmt.get(op.target);
    if (!t) return 'waiting';
    if (t.convId !== convId || t.isOp) return 'refused';
    if ((op.k === 'edit' || op.k === 'delete') && t.author !== author) return 'refused';
    return t.deleted ? 'ignored' : 'applied';
  }

  /** Applies one op (inside the caller's transaction). */
  apply(convId: string, author: PeerId, ts: number, op: StoredOp): OpOutcome {
    const outcome = this.check(convId, author, op);
    if (outcome !== 'applied') return outcome;
    switch (op.k) {
      case 'edit':
        this.editStmt.run(wellFormed(op.text), ts, op.target);
        break;
      case 'delete':
        this.deleteStmt.run(op.target);
        break;
      case 'react': {
        const list = reactionsOf(this.reactionsOf.get(op.target) ?? null);
        const entry = list.find((r) => r.emoji === op.emoji);
        if (op.on && !entry) {
          if (list.length >= MAX_REACTION_EMOJIS) return 'ignored';
          list.push({ emoji: op.emoji, by: [author] });
        }
        else if (op.on && entry && !entry.by.includes(author)) entry.by.push(author);
        else if (!op.on && entry) entry.by = entry.by.filter((p) => p !== author);
        const kept = list.filter((r) => r.by.length > 0);
        this.setReactions.run(kept.length > 0 ? JSON.stringify(kept) : null, op.target);
        break;
      }
    }
    return 'applied';
  }

  /**
   * Applies, in conversation order, the ops that were waiting for these newly stored messages.
   * Returns the targets that changed and the waiting ops that turned out not allowed.
   */
  applyWaiting(convId: string, ids: string[], except?: ReadonlySet<string>): { touched: string[]; refused: Array<{ id: string; author: PeerId }> } {
    const touched: string[] = [];
    const refused: Array<{ id: string; author: PeerId }> = [];
    if (ids.length === 0) return { touched, refused };
    for (const w of this.waitingStmt.all(JSON.stringify(ids), convId)) {
      if (except?.has(w.id)) continue;
      const op = parseOp(w.op)!;
      const outcome = this.apply(convId, w.author, w.ts, op);
      if (outcome === 'applied') touched.push(op.target);
      else if (outcome === 'refused') refused.push({ id: w.id, author: w.author });
    }
    return { touched, refused };
  }

  /** Reactions of a message, by emoji in order of first use (each person in order of reacting). */
  reactions(messageId: string): Array<{ emoji: string; by: PeerId[] }> {
    return reactionsOf(this.reactionsOf.get(messageId) ?? null);
  }

  insertBroadcast(b: { id: string; text: string; ts: number; recipients: Array<{ peerId: PeerId; name: string; messageId: string }> }): void {
    this.insertBroadcastTx.immediate(b);
  }

  listBroadcasts(limit: number): BroadcastRecord[] {
    return this.listBroadcastsStmt.all(limit).map((b) => ({ ...b, recipients: this.recipientsStmt.all(b.id) }));
  }

  getBroadcast(id: string): BroadcastRecord | undefined {
    const b = this.oneBroadcastStmt.get(id);
    return b ? { ...b, recipients: this.recipientsStmt.all(b.id) } : undefined;
  }

  /** The broadcast a message of mine was part of, if any. */
  broadcastOf(messageId: string): string | undefined {
    return this.broadcastOfStmt.get(messageId);
  }
}

/** Parsed reactions column. */
export function reactionsOf(json: string | null): Array<{ emoji: string; by: PeerId[] }> {
  return json === null ? [] : (JSON.parse(json) as Array<{ emoji: string; by: PeerId[] }>);
}

/** Parsed mentions column. */
export function mentionsOf(row: Pick<MessageRow, 'mentions'>): PeerId[] {
  return row.mentions ? (JSON.parse(row.mentions) as PeerId[]) : [];
}
