// Row shapes the store hands out, and the SQL fragments that produce them directly (aliased
// columns, so no per-row mapping on hot paths).
import type { MessageState, PeerId, Presence } from '../../contract/contract.ts';

export interface PeerRow {
  id: PeerId;
  name: string;
  presence: Presence;
  statusText: string;
  addresses: string[];
  lastSeen: number | null;
  firstSeen: number;
}

interface ConversationFields {
  id: string;
  title: string;
  createdAt: number;
  /** Highest lamport seen in the conversation. */
  lamport: number;
  /** Last seq I used in the conversation (direct conversations; a group counts per author in its events). */
  mySeq: number;
  /** My read marker: the last message of the peer's that I have read. */
  readUpTo: string | null;
  /** The peer's read marker for my messages. */
  peerReadUpTo: string | null;
}

/** A direct conversation has its peer; a group's (migration 0004) has none: see the groups table. */
export type ConversationRow = ConversationFields & ({ kind: 'direct'; peerId: PeerId } | { kind: 'group'; peerId: null });

export interface MessageRow {
  rowid: number;
  id: string;
  convId: string;
  author: PeerId;
  seq: number;
  lamport: number;
  /** Author's wall clock: for display only, never for ordering. */
  ts: number;
  text: string;
  state: MessageState;
  /** When this store wrote the row (local clock). */
  createdAt: number;
  // ---- migration 0005 (rich.ts has the folding)
  /** The message this one answers. */
  replyTo: string | null;
  /** JSON array of peer IDs named with @ (groups). */
  mentions: string | null;
  broadcast: 0 | 1;
  /** JSON of the op (edit/delete/react) when this row is one: never a line of history. */
  op: string | null;
  /** The author's wall clock of the latest edit applied. */
  editedAt: number | null;
  deleted: 0 | 1;
  /** JSON [{emoji, by}] in order of first use; null when none. */
  reactions: string | null;
}

/** A message's place in conversation order. */
export interface OrderKey {
  lamport: number;
  author: string;
  seq: number;
  id: string;
}

/** Conversation order as a row value, for comparisons that the messages_order index serves. */
export const ORDER = '(lamport, author, seq, id)';
export const ORDER_DESC = 'lamport DESC, author DESC, seq DESC, id DESC';
export const ORDER_ASC = 'lamport, author, seq, id';
/** Rows that are lines of history (not ops, migration 0005). */
export const VISIBLE = 'op IS NULL';
/** Op rows: the condition of the partial index messages_ops, which counts them index-only. */
export const OPS = 'op IS NOT NULL';

/**
 * MessageRow columns; `table` qualifies them for joins (RETURNING takes them bare). 'stored' is
 * not a value of the state column (migration 0002): a message not yet delivered whose sealed
 * copy a relay's mailbox accepted reads as 'stored' wherever rows are read, RETURNING included.
 */
export function messageColumns(table?: string): string {
  const p = table ? `${table}.` : '';
  const state = `CASE WHEN ${p}stored_at IS NOT NULL AND ${p}state IN ('pending', 'sent') THEN 'stored' ELSE ${p}state END`;
  return `${p}rowid AS rowid, ${p}id AS id, ${p}conv_id AS convId, ${p}author AS author, ${p}seq AS seq, ${p}lamport AS lamport, ${p}ts AS ts, ${p}text AS text, ${state} AS state, ${p}created_at AS createdAt, ${p}reply_to AS replyTo, ${p}mentions AS mentions, ${p}broadcast AS broadcast, ${p}op AS op, ${p}edited_at AS editedAt, ${p}deleted AS deleted, ${p}reactions AS reactions`;
}

export const CONVERSATION_COLUMNS =
  'id, kind, peer_id AS peerId, title, created_at AS createdAt, lamport, my_seq AS mySeq, read_upto AS readUpTo, peer_read_upto AS peerReadUpTo';
