// Messages, their delivery states and the outbox. Every batch is one transaction: the
// messenger group-commits whatever one event-loop turn produced, so one fsync covers many
// messages.
import type Database from 'better-sqlite3';
import type { MessageState, PeerId } from '../../contract/contract.ts';
import { opJson, RichRepo, wellFormed, type StoredOp } from './rich.ts';
import { ORDER, ORDER_ASC, ORDER_DESC, VISIBLE, messageColumns, type MessageRow, type OrderKey } from './rows.ts';

/** What a message carries beyond its text (migration 0005). */
export interface RichFields {
  replyTo?: string | undefined;
  mentions?: PeerId[] | undefined;
  broadcast?: boolean | undefined;
  /** An edit, deletion or reaction: the row is not a line of history (text is ''). */
  op?: StoredOp | undefined;
}

export interface OutgoingMessage {
  id: string;
  convId: string;
  author: PeerId;
  text: string;
  ts: number;
  /** Who the outbox entry is for. */
  peerId: PeerId;
  rich?: RichFields;
}

/** The fields of a `msg` frame that the store keeps. */
export interface MsgFrameLike {
  id: string;
  conv: string;
  author: PeerId;
  seq: number;
  lamport: number;
  ts: number;
  body: { text: string } & RichFields;
}

/** 'invalid': an op that is never allowed (someone else's message edited, ...): not stored. */
export type IncomingOutcome = 'stored' | 'duplicate' | 'conflict' | 'invalid';
export type OutboxRow = MessageRow & { outboxRowid: number };

// Lone surrogates become U+FFFD (rich.ts wellFormed), as SQLite would store them anyway
// (UTF-8 cannot hold them), so that a resent copy compares equal to what was stored.

/** As stored: the rich fields in their column form (JSON strings, 0/1). */
type MessageContent = Pick<MessageRow, 'id' | 'convId' | 'author' | 'seq' | 'lamport' | 'ts' | 'text' | 'replyTo' | 'mentions' | 'broadcast' | 'op'>;

/**
 * Same ID, same content: a resend. Compared field by field, which is exact and costs nothing
 * for new IDs. An edited or deleted message's text changed after it was stored, so for those
 * the text cannot tell a resend from a conflict and is left out.
 */
function sameContent(a: MessageContent & { changed?: boolean }, b: MessageContent): boolean {
  return (
    a.convId === b.convId &&
    a.author === b.author &&
    a.seq === b.seq &&
    a.lamport === b.lamport &&
    a.ts === b.ts &&
    (a.changed === true || a.text === b.text) &&
    a.replyTo === b.replyTo &&
    a.mentions === b.mentions &&
    a.broadcast === b.broadcast &&
    a.op === b.op
  );
}

function richColumns(r: RichFields | undefined): Pick<MessageRow, 'replyTo' | 'mentions' | 'broadcast' | 'op'> {
  return {
    replyTo: r?.replyTo ?? null,
    mentions: r?.mentions?.length ? JSON.stringify(r.mentions) : null,
    broadcast: r?.broadcast ? 1 : 0,
    op: r?.op ? opJson(r.op) : null,
  };
}

/** UPDATE … RETURNING yields rows in no defined order; callers get them in storage order. */
function byRowid(rows: MessageRow[]): MessageRow[] {
  return rows.sort((a, b) => a.rowid - b.rowid);
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
}

const COLS = messageColumns();
const M_COLS = messageColumns('m');

export class MessagesRepo {
  private readonly counters;
  private readonly setCounters;
  private readonly raiseLamport;
  private readonly convExists;
  private readonly insertMsgs;
  private readonly insertRichMsgs;
  private readonly insertOutbox;
  private readonly contentById;
  private readonly byId;
  private readonly keyById;
  private readonly lastStmt;
  private readonly newestPage;
  private readonly pageBefore;
  private readonly storedStmt;
  private readonly deliverStmt;
  private readonly rejectStmt;
  private readonly cancelStmt;
  private readonly unqueue;
  private readonly unqueueMany;
  private readonly outboxStmt;
  private readonly countAll;
  private readonly countPeer;
  private readonly peersStmt;
  private readonly overdueStmt;
  private readonly pageAfter;
  private readonly outgoingTx;
  private readonly incomingTx;
  private readonly storedTx;
  private readonly deliveredTx;
  private readonly rejectTx;
  private readonly cancelTx;
  private readonly deleteRow;
  readonly rich: RichRepo;

  constructor(db: Database.Database) {
    this.rich = new RichRepo(db);
    this.deleteRow = db.prepare<[string]>('DELETE FROM messages WHERE id = ?');
    this.counters = db.prepare<[string], { lamport: number; mySeq: number }>('SELECT lamport, my_seq AS mySeq FROM conversations WHERE id = ?');
    this.setCounters = db.prepare<[number, number, string]>('UPDATE conversations SET lamport = ?, my_seq = ? WHERE id = ?');
    this.raiseLamport = db.prepare<[number, string]>('UPDATE conversations SET lamport = max(lamport, ?) WHERE id = ?');
    this.convExists = db.prepare<[string], number>('SELECT 1 FROM conversations WHERE id = ?').pluck();
    // One statement per batch: with one INSERT per row, the FTS5 trigger made inserts about
    // four times slower (measured; FTS writes out its pending terms per statement, it seems).
    this.insertMsgs = db.prepare<[{ rows: string; state: MessageState; now: number }], { rowid: number; id: string }>(
      `INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, @state, @now
       FROM json_each(@rows) ORDER BY key
       RETURNING rowid, id`,
    );
    // Each `->>` parses the row's JSON again: five more per row measured ~30% more CPU per
    // insert, so rows with nothing rich (nearly all) take the statement above.
    this.insertRichMsgs = db.prepare<[{ rows: string; state: MessageState; now: number }], { rowid: number; id: string }>(
      `INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at, reply_to, mentions, broadcast, op, op_target)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, @state, @now,
              value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11
       FROM json_each(@rows) ORDER BY key
       RETURNING rowid, id`,
    );
    this.insertOutbox = db.prepare<[{ rows: string; now: number }]>(
      `INSERT INTO outbox (message_id, peer_id, enqueued_at)
       SELECT value ->> 0, value ->> 1, @now FROM json_each(@rows) ORDER BY key`,
    );
    this.contentById = db.prepare<[string], MessageContent & { changed: number }>(
      `SELECT id, conv_id AS convId, author, seq, lamport, ts, text, reply_to AS replyTo, mentions, broadcast, op,
              (edited_at IS NOT NULL OR deleted = 1) AS changed
       FROM messages WHERE id = ?`,
    );
    this.byId = db.prepare<[string], MessageRow>(`SELECT ${COLS} FROM messages WHERE id = ?`);
    this.keyById = db.prepare<[string], OrderKey & { convId: string }>('SELECT lamport, author, seq, id, conv_id AS convId FROM messages WHERE id = ?');
    // Lines of history only: ops are folded into their targets (rich.ts).
    this.lastStmt = db.prepare<[string], MessageRow>(`SELECT ${COLS} FROM messages WHERE conv_id = ? AND ${VISIBLE} ORDER BY ${ORDER_DESC} LIMIT 1`);
    this.newestPage = db.prepare<[string, number], MessageRow>(`SELECT ${COLS} FROM messages WHERE conv_id = ? AND ${VISIBLE} ORDER BY ${ORDER_DESC} LIMIT ?`);
    this.pageBefore = db.prepare<[string, number, string, number, string, number], MessageRow>(
      `SELECT ${COLS} FROM messages WHERE conv_id = ? AND ${VISIBLE} AND ${ORDER} < (?, ?, ?, ?) ORDER BY ${ORDER_DESC} LIMIT ?`,
    );
    this.pageAfter = db.prepare<[string, number, string, number, string, number], MessageRow>(
      `SELECT ${COLS} FROM messages WHERE conv_id = ? AND ${VISIBLE} AND ${ORDER} > (?, ?, ?, ?) ORDER BY ${ORDER_ASC} LIMIT ?`,
    );
    const inList = 'id IN (SELECT value FROM json_each(?))';
    // Only rows that change: a re-deposit of something already stored (after a restart, the
    // relay dedupes) is no news.
    this.storedStmt = db.prepare<[{ ids: string; now: number }], MessageRow>(
      `UPDATE messages SET stored_at = @now
       WHERE id IN (SELECT value FROM json_each(@ids)) AND state IN ('pending', 'sent') AND stored_at IS NULL
       RETURNING ${COLS}`,
    );
    // A canceled message that is acked anyway did reach the peer: the state tells the truth.
    this.deliverStmt = db.prepare<[string], MessageRow>(
      `UPDATE messages SET state = 'delivered', stored_at = NULL WHERE ${inList} AND state IN ('pending', 'sent', 'canceled') RETURNING ${COLS}`,
    );
    this.unqueueMany = db.prepare<[string]>('DELETE FROM outbox WHERE message_id IN (SELECT value FROM json_each(?))');
    this.rejectStmt = db.prepare<[string], MessageRow>(
      `UPDATE messages SET state = 'rejected' WHERE id = ? AND state IN ('pending', 'sent') RETURNING ${COLS}`,
    );
    this.cancelStmt = db.prepare<[string], MessageRow>(`UPDATE messages SET state = 'canceled' WHERE id = ? RETURNING ${COLS}`);
    this.unqueue = db.prepare<[string]>('DELETE FROM outbox WHERE message_id = ?');
    this.outboxStmt = db.prepare<[string, number, number], OutboxRow>(
      `SELECT ${M_COLS}, o.ord AS outboxRowid FROM outbox o JOIN messages m ON m.id = o.message_id
       WHERE o.peer_id = ? AND o.ord > ? ORDER BY o.ord LIMIT ?`,
    );
    this.countAll = db.prepare<[], number>('SELECT count(*) FROM outbox').pluck();
    this.countPeer = db.prepare<[string], number>('SELECT count(*) FROM outbox WHERE peer_id = ?').pluck();
    this.peersStmt = db.prepare<[], PeerId>('SELECT DISTINCT peer_id FROM outbox ORDER BY peer_id').pluck();
    this.overdueStmt = db.prepare<[number, number, number], MessageRow>(
      `SELECT ${M_COLS} FROM outbox o JOIN messages m ON m.id = o.message_id
       WHERE o.enqueued_at >= ? AND o.enqueued_at < ? ORDER BY o.enqueued_at, o.ord LIMIT ?`,
    );

    this.outgoingTx = db.transaction((batch: OutgoingMessage[]): { rows: MessageRow[]; touched: string[] } => {
      const now = Date.now();
      const convs = new Map<string, { lamport: number; mySeq: number }>();
      const rows = batch.map((m): MessageRow => {
        let c = convs.get(m.convId);
        if (!c) {
          c = this.counters.get(m.convId);
          if (!c) throw new Error(`cannot send into unknown conversation ${m.convId}`);
          convs.set(m.convId, c);
        }
        if (c.lamport >= Number.MAX_SAFE_INTEGER) throw new RangeError(`lamport clock of conversation ${m.convId} is exhausted`);
        const seq = ++c.mySeq;
        const lamport = ++c.lamport;
        const text = m.rich?.op ? '' : wellFormed(m.text);
        return { rowid: 0, id: m.id, convId: m.convId, author: m.author, seq, lamport, ts: m.ts, text, state: 'pending', createdAt: now, ...richColumns(m.rich), editedAt: null, deleted: 0, reactions: null };
      });
      const rowids = this.insert(rows, 'pending', now);
      for (const row of rows) row.rowid = rowids.get(row.id)!;
      this.insertOutbox.run({ rows: JSON.stringify(batch.map((m) => [m.id, m.peerId])), now });
      for (const [id, c] of convs) this.setCounters.run(c.lamport, c.mySeq, id);
      // My own ops were checked by the command; applied here, in the same transaction.
      const touched: string[] = [];
      for (const m of batch) {
        if (m.rich?.op && this.rich.apply(m.convId, m.author, m.ts, m.rich.op) === 'applied') touched.push(m.rich.op.target);
      }
      return { rows, touched };
    });

    this.incomingTx = db.transaction((batch: MsgFrameLike[]): { outcomes: IncomingOutcome[]; touched: string[]; refused: string[] } => {
      for (const conv of new Set(batch.map((f) => f.conv))) {
        if (!this.convExists.get(conv)) throw new Error(`message for unknown conversation ${conv}`);
      }
      const now = Date.now();
      const fresh = new Map<string, MessageContent>();
      const outcomes = batch.map((f): IncomingOutcome => {
        const row = { id: f.id, convId: f.conv, author: f.author, seq: f.seq, lamport: f.lamport, ts: f.ts, text: f.body.op ? '' : wellFormed(f.body.text), ...richColumns(f.body) };
        // The same ID may come twice in one batch (a resend racing its ack): the first one counts.
        const stored = fresh.get(f.id) ?? this.contentById.get(f.id);
        if (stored) return sameContent({ ...stored, changed: (stored as { changed?: unknown }).changed === 1 }, row) ? 'duplicate' : 'conflict';
        fresh.set(f.id, row);
        return 'stored';
      });
      if (fresh.size > 0) this.insert([...fresh.values()], 'delivered', now);
      // Ops that were waiting for one of these apply first (they came earlier), then the new
      // ones in arrival order; one that is not allowed is taken out again and refused.
      const touched: string[] = [];
      const refused: string[] = [];
      const byConv = new Map<string, string[]>();
      for (const r of fresh.values()) {
        if (r.op !== null) continue;
        const ids = byConv.get(r.convId) ?? [];
        ids.push(r.id);
        byConv.set(r.convId, ids);
      }
      const freshOps = new Set([...fresh.values()].filter((r) => r.op !== null).map((r) => r.id));
      for (const [conv, ids] of byConv) {
        const w = this.rich.applyWaiting(conv, ids, freshOps);
        touched.push(...w.touched);
        for (const x of w.refused) this.deleteRow.run(x.id);
        refused.push(...w.refused.map((x) => x.id));
      }
      batch.forEach((f, i) => {
        if (outcomes[i] !== 'stored' || !f.body.op || fresh.get(f.id) === undefined) return;
        const outcome = this.rich.apply(f.conv, f.author, f.ts, f.body.op);
        if (outcome === 'applied') touched.push(f.body.op.target);
        else if (outcome === 'refused') {
          this.deleteRow.run(f.id);
          fresh.delete(f.id);
          outcomes[i] = 'invalid';
        }
      });
      const highest = new Map<string, number>();
      for (const r of fresh.values()) highest.set(r.convId, Math.max(highest.get(r.convId) ?? 0, r.lamport));
      for (const [conv, lamport] of highest) this.raiseLamport.run(lamport, conv);
      return { outcomes, touched: [...new Set(touched)], refused };
    });

    this.storedTx = db.transaction((ids: string[]) => byRowid(this.storedStmt.all({ ids: JSON.stringify(ids), now: Date.now() })));

    this.deliveredTx = db.transaction((ids: string[]) => {
      const json = JSON.stringify(ids);
      this.unqueueMany.run(json);
      return byRowid(this.deliverStmt.all(json));
    });

    this.rejectTx = db.transaction((id: string) => {
      const row = this.rejectStmt.get(id);
      // Out of the outbox too, or every new link would offer it again only to be refused again.
      if (row) this.unqueue.run(id);
      return row;
    });

    this.cancelTx = db.transaction((id: string) => (this.unqueue.run(id).changes > 0 ? this.cancelStmt.get(id) : undefined));
  }

  /**
   * Inserts the rows in order, one statement per run of plain (text only) or rich rows;
   * returns rowid by message id.
   */
  private insert(rows: MessageContent[], state: MessageState, now: number): Map<string, number> {
    const out = new Map<string, number>();
    const isRich = (r: MessageContent) => r.replyTo !== null || r.mentions !== null || r.broadcast !== 0 || r.op !== null;
    for (let i = 0; i < rows.length; ) {
      const rich = isRich(rows[i]!);
      let j = i + 1;
      while (j < rows.length && isRich(rows[j]!) === rich) j++;
      const run = rows.slice(i, j);
      const inserted = rich
        ? this.insertRichMsgs.all({
            rows: JSON.stringify(run.map((r) => [r.id, r.convId, r.author, r.seq, r.lamport, r.ts, r.text, r.replyTo, r.mentions, r.broadcast, r.op, r.op ? (JSON.parse(r.op) as StoredOp).target : null])),
            state,
            now,
          })
        : this.insertMsgs.all({ rows: JSON.stringify(run.map((r) => [r.id, r.convId, r.author, r.seq, r.lamport, r.ts, r.text])), state, now });
      for (const r of inserted) out.set(r.id, r.rowid);
      i = j;
    }
    return out;
  }

  insertOutgoing(batch: OutgoingMessage[]): MessageRow[] {
    return this.insertOutgoingRich(batch).rows;
  }

  /** Also returns the messages my ops in `batch` changed. */
  insertOutgoingRich(batch: OutgoingMessage[]): { rows: MessageRow[]; touched: string[] } {
    return batch.length === 0 ? { rows: [], touched: [] } : this.outgoingTx.immediate(batch);
  }

  insertIncoming(batch: MsgFrameLike[]): IncomingOutcome[] {
    return this.insertIncomingRich(batch).outcomes;
  }

  /**
   * Also returns the messages that ops changed (new ops, or earlier ones whose target just
   * arrived) and the IDs of earlier waiting ops that turned out not allowed (dropped).
   */
  insertIncomingRich(batch: MsgFrameLike[]): { outcomes: IncomingOutcome[]; touched: string[]; refused: string[] } {
    return batch.length === 0 ? { outcomes: [], touched: [], refused: [] } : this.incomingTx.immediate(batch);
  }

  getMessage(id: string): MessageRow | undefined {
    return this.byId.get(id);
  }

  /** Where a message sits in conversation order; undefined when it is not in `convId`. */
  orderKey(id: string, convId: string): OrderKey | undefined {
    const k = this.keyById.get(id);
    return k && k.convId === convId ? { lamport: k.lamport, author: k.author, seq: k.seq, id: k.id } : undefined;
  }

  last(convId: string): MessageRow | null {
    return this.lastStmt.get(convId) ?? null;
  }

  /**
   * The `limit` messages right before `before` (or the newest), oldest first. An unknown
   * `before`, or one from another conversation, gives an empty page.
   */
  history(convId: string, opts: { before?: string | undefined; after?: string | undefined; around?: string | undefined; limit: number }): MessageRow[] {
    checkLimit(opts.limit);
    if (opts.after !== undefined) {
      const k = this.orderKey(opts.after, convId);
      return k ? this.pageAfter.all(convId, k.lamport, k.author, k.seq, k.id, opts.limit) : [];
    }
    if (opts.around !== undefined) {
      // A search hit in context: half a page on either side of the message itself.
      const k = this.orderKey(opts.around, convId);
      const self = k ? this.byId.get(opts.around) : undefined;
      if (!k || !self || self.op !== null) return [];
      const half = Math.max(1, Math.floor(opts.limit / 2));
      const older = this.pageBefore.all(convId, k.lamport, k.author, k.seq, k.id, half).reverse();
      const newer = this.pageAfter.all(convId, k.lamport, k.author, k.seq, k.id, Math.max(0, opts.limit - half - 1));
      return [...older, self, ...newer];
    }
    let page: MessageRow[];
    if (opts.before === undefined) {
      page = this.newestPage.all(convId, opts.limit);
    } else {
      const k = this.orderKey(opts.before, convId);
      if (!k) return [];
      page = this.pageBefore.all(convId, k.lamport, k.author, k.seq, k.id, opts.limit);
    }
    return page.reverse();
  }

  /**
   * A relay's mailbox accepted these: pending or sent → stored (they stay in the outbox, only
   * the recipient's ack makes them delivered). Anything further along is left alone. Returns
   * the rows that changed.
   */
  markStored(ids: string[]): MessageRow[] {
    return ids.length === 0 ? [] : this.storedTx.immediate(ids);
  }

  /** Removes the outbox entries and marks delivered unless already read. Returns the rows that changed. */
  markDelivered(ids: string[]): MessageRow[] {
    return ids.length === 0 ? [] : this.deliveredTx.immediate(ids);
  }

  /** The peer refused the message: it leaves the outbox for good. Undefined when nothing changed. */
  markRejected(id: string): MessageRow | undefined {
    return this.rejectTx.immediate(id);
  }

  /** Cancels a message that is still waiting in the outbox; undefined when it is not (any more). */
  cancel(id: string): MessageRow | undefined {
    return this.cancelTx.immediate(id);
  }

  /** Outbox entries for `peerId` after position `afterRowid`, in enqueue order. */
  outbox(peerId: PeerId, afterRowid: number, limit: number): OutboxRow[] {
    checkLimit(limit);
    return this.outboxStmt.all(peerId, afterRowid, limit);
  }

  outboxCount(peerId?: PeerId): number {
    return peerId === undefined ? this.countAll.get()! : this.countPeer.get(peerId)!;
  }

  outboxPeers(): PeerId[] {
    return this.peersStmt.all();
  }

  /** Outbox entries enqueued before `cutoff` (ms), oldest first. */
  overdue(from: number, cutoff: number, limit: number): MessageRow[] {
    checkLimit(limit);
    return this.overdueStmt.all(from, cutoff, limit);
  }
}
