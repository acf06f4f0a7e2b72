// Conversations and the two read markers in each. Markers are watermarks in conversation
// order: they only move forward, and they always name a message of the other side, because
// a marker on one's own (later) message would hide a concurrently sent message of the peer
// that sorts before it.
import type Database from 'better-sqlite3';
import type { PeerId } from '../../contract/contract.ts';
import { shortId } from '../identity/peer-id.ts';
import type { MessagesRepo } from './messages-repo.ts';
import { CONVERSATION_COLUMNS, OPS, ORDER, ORDER_DESC, VISIBLE, messageColumns, type ConversationRow, type MessageRow, type OrderKey } from './rows.ts';

type KeyArgs = [number, string, number, string];
const keyArgs = (k: OrderKey): KeyArgs => [k.lamport, k.author, k.seq, k.id];

export function directConversationId(a: PeerId, b: PeerId): string {
  return `d:${[a, b].sort().join(':')}`;
}

export class ConversationsRepo {
  private readonly messages: MessagesRepo;
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly retitleStmt;
  private readonly setReadStmt;
  private readonly setPeerReadStmt;
  private readonly isAfter;
  private readonly lastOfPeerAtOrBefore;
  private readonly readIncomingAll;
  private readonly readIncomingAfter;
  private readonly readMineAll;
  private readonly readMineAfter;
  private readonly unreadAll;
  private readonly unreadAfter;
  private readonly unqueue;
  private readonly ensureTx;
  private readonly markReadTx;
  private readonly peerReadTx;

  constructor(db: Database.Database, messages: MessagesRepo) {
    this.messages = messages;
    this.getStmt = db.prepare<[string], ConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = ?`);
    this.listStmt = db.prepare<[], ConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations ORDER BY lamport DESC, created_at DESC, id`);
    this.insertStmt = db.prepare<[string, string, string, number]>(
      "INSERT INTO conversations (id, kind, peer_id, title, created_at) VALUES (?, 'direct', ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    );
    this.retitleStmt = db.prepare<[string, string, string]>('UPDATE conversations SET title = ? WHERE id = ? AND title = ?');
    this.setReadStmt = db.prepare<[string, string]>('UPDATE conversations SET read_upto = ? WHERE id = ?');
    this.setPeerReadStmt = db.prepare<[string, string]>('UPDATE conversations SET peer_read_upto = ? WHERE id = ?');
    this.isAfter = db.prepare<[...KeyArgs, ...KeyArgs], number>('SELECT (?, ?, ?, ?) > (?, ?, ?, ?)').pluck();
    this.lastOfPeerAtOrBefore = db.prepare<[string, string, ...KeyArgs], OrderKey>(
      `SELECT lamport, author, seq, id FROM messages WHERE conv_id = ? AND author != ? AND ${VISIBLE} AND ${ORDER} <= (?, ?, ?, ?)
       ORDER BY ${ORDER_DESC} LIMIT 1`,
    );
    const incoming = "UPDATE messages SET state = 'read' WHERE conv_id = ? AND author != ? AND state = 'delivered'";
    this.readIncomingAll = db.prepare<[string, string, ...KeyArgs]>(`${incoming} AND ${ORDER} <= (?, ?, ?, ?)`);
    this.readIncomingAfter = db.prepare<[string, string, ...KeyArgs, ...KeyArgs]>(
      `${incoming} AND ${ORDER} <= (?, ?, ?, ?) AND ${ORDER} > (?, ?, ?, ?)`,
    );
    // Not 'canceled': a canceled message may never have reached the peer, even if a later one did.
    const mine = `UPDATE messages SET state = 'read', stored_at = NULL WHERE conv_id = ? AND author = ? AND state IN ('pending', 'sent', 'delivered')`;
    const cols = messageColumns();
    this.readMineAll = db.prepare<[string, string, ...KeyArgs], MessageRow>(`${mine} AND ${ORDER} <= (?, ?, ?, ?) RETURNING ${cols}`);
    this.readMineAfter = db.prepare<[string, string, ...KeyArgs, ...KeyArgs], MessageRow>(
      `${mine} AND ${ORDER} <= (?, ?, ?, ?) AND ${ORDER} > (?, ?, ?, ?) RETURNING ${cols}`,
    );
    // Ops (edits, reactions, ...) are not lines and never unread: all rows minus the ops, both
    // counted from an index alone (messages_order, messages_ops).
    this.unreadAll = db.prepare<{ conv: string; self: string }, number>(
      `SELECT (SELECT count(*) FROM messages WHERE conv_id = @conv AND author != @self)
            - (SELECT count(*) FROM messages WHERE conv_id = @conv AND author != @self AND ${OPS})`,
    ).pluck();
    this.unreadAfter = db.prepare<{ conv: string; self: string; l: number; a: string; s: number; i: string }, number>(
      `SELECT (SELECT count(*) FROM messages WHERE conv_id = @conv AND author != @self AND ${ORDER} > (@l, @a, @s, @i))
            - (SELECT count(*) FROM messages WHERE conv_id = @conv AND author != @self AND ${OPS} AND ${ORDER} > (@l, @a, @s, @i))`,
    ).pluck();
    this.unqueue = db.prepare<[string]>('DELETE FROM outbox WHERE message_id = ?');

    this.ensureTx = db.transaction((selfId: PeerId, peerId: PeerId, peerName: string | undefined): ConversationRow => {
      const id = directConversationId(selfId, peerId);
      const fallback = shortId(peerId);
      this.insertStmt.run(id, peerId, peerName || fallback, Date.now());
      // A conversation opened before we knew the peer's name takes it once known.
      if (peerName) this.retitleStmt.run(peerName, id, fallback);
      return this.getStmt.get(id)!;
    });

    this.markReadTx = db.transaction((convId: string, messageId: string, selfId: PeerId): boolean => {
      const conv = this.requireConversation(convId);
      const target = this.messages.orderKey(messageId, convId);
      if (!target) return false;
      const upTo = this.lastOfPeerAtOrBefore.get(convId, selfId, ...keyArgs(target));
      if (!upTo) return false;
      const old = conv.readUpTo ? this.messages.orderKey(conv.readUpTo, convId) : undefined;
      if (old && !this.after(upTo, old)) return false;
      this.setReadStmt.run(upTo.id, convId);
      if (old) this.readIncomingAfter.run(convId, selfId, ...keyArgs(upTo), ...keyArgs(old));
      else this.readIncomingAll.run(convId, selfId, ...keyArgs(upTo));
      return true;
    });

    this.peerReadTx = db.transaction((convId: string, upTo: string, selfId: PeerId): MessageRow[] => {
      const conv = this.getStmt.get(convId);
      const target = conv && this.messages.orderKey(upTo, convId);
      if (!conv || !target) return [];
      const old = conv.peerReadUpTo ? this.messages.orderKey(conv.peerReadUpTo, convId) : undefined;
      if (old && !this.after(target, old)) return [];
      this.setPeerReadStmt.run(target.id, convId);
      const changed = old
        ? this.readMineAfter.all(convId, selfId, ...keyArgs(target), ...keyArgs(old))
        : this.readMineAll.all(convId, selfId, ...keyArgs(target));
      // Read implies delivered: nothing left to send.
      for (const row of changed) this.unqueue.run(row.id);
      return changed;
    });
  }

  ensureDirectConversation(selfId: PeerId, peerId: PeerId, peerName?: string): ConversationRow {
    if (selfId === peerId) throw new Error('a direct conversation needs two different peers');
    return this.ensureTx.immediate(selfId, peerId, peerName);
  }

  getConversation(id: string): ConversationRow | undefined {
    return this.getStmt.get(id);
  }

  /** Most recent activity (highest lamport) first. */
  listConversations(): ConversationRow[] {
    return this.listStmt.all();
  }

  markReadUpTo(convId: string, messageId: string, selfId: PeerId): { changed: boolean; unread: number } {
    const changed = this.markReadTx.immediate(convId, messageId, selfId);
    return { changed, unread: this.unreadCount(convId, selfId) };
  }

  unreadCount(convId: string, selfId: PeerId): number {
    const conv = this.requireConversation(convId);
    const marker = conv.readUpTo ? this.messages.orderKey(conv.readUpTo, convId) : undefined;
    return marker
      ? this.unreadAfter.get({ conv: convId, self: selfId, l: marker.lamport, a: marker.author, s: marker.seq, i: marker.id })!
      : this.unreadAll.get({ conv: convId, self: selfId })!;
  }

  applyPeerRead(convId: string, upTo: string, selfId: PeerId): MessageRow[] {
    return this.peerReadTx.immediate(convId, upTo, selfId);
  }

  private after(a: OrderKey, b: OrderKey): boolean {
    return this.isAfter.get(...keyArgs(a), ...keyArgs(b)) === 1;
  }

  private requireConversation(convId: string): ConversationRow {
    const conv = this.getStmt.get(convId);
    if (!conv) throw new Error(`unknown conversation ${convId}`);
    return conv;
  }
}
