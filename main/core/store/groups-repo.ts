// Groups and their signed events (migration 0004). The replica (groups/replica.ts) decides what
// is authentic and what takes effect; this keeps its decisions durably, in one transaction per
// batch, before anything is acknowledged (a gsync vector) or forwarded.
//
// Events that a person sees (texts, membership changes, later kinds) also become rows of
// `messages` in the group's conversation while their verdict is OK, so history, paging, search
// and read markers serve groups unchanged. The group's (lamport, author, seq) map onto the
// columns of the same names: the order is the group's total order (id breaks ties in both).
import type Database from 'better-sqlite3';
import type { PeerId } from '../../contract/contract.ts';
import type { GroupEvent, GroupId, SignedEvent } from '../groups/group-message.ts';
import type { Verdict } from '../groups/membership.ts';
import { opJson, type RichRepo, type StoredOp } from './rich.ts';
import { messageColumns, type MessageRow } from './rows.ts';

export interface GroupRow {
  id: GroupId;
  convId: string;
  name: string;
  owner: PeerId | null;
  /** In join order. */
  members: PeerId[];
  isMember: boolean;
  createdAt: number;
}

export interface GroupEventRecord {
  e: GroupEvent;
  signed: SignedEvent;
  verdict: Verdict;
}

export interface GroupCommit {
  groupId: GroupId;
  selfId: PeerId;
  /** What the events fold to now, cached for lists. */
  state: { name: string; owner: PeerId | null; members: PeerId[]; isMember: boolean };
  /** Newly stored events. */
  stored: GroupEventRecord[];
  /** Stored earlier; their verdict changed. */
  changed: GroupEventRecord[];
}

export interface GroupCommitResult {
  /** Message rows that appeared (an event stored with an OK verdict, or one that became OK). */
  shown: MessageRow[];
  /** Message IDs that left the history (their event lost its effect). */
  hidden: string[];
  /** Messages that an edit, deletion or reaction changed (rich.ts). */
  touched: string[];
  /** Ops that are not allowed (an edit or deletion of someone else's message): stored as events, without effect. */
  refusedOps: Array<{ id: string; author: PeerId; kind: string }>;
}

/** The op an edit/delete/react event is, in the store's form. */
function opOf(e: GroupEvent): StoredOp | null {
  switch (e.kind) {
    case 'edit':
      return { k: 'edit', target: e.body.target, text: e.body.text };
    case 'delete':
      return { k: 'delete', target: e.body.target };
    case 'react':
      return { k: 'react', target: e.body.target, emoji: e.body.emoji, on: e.body.on };
    default:
      return null;
  }
}

export function groupConversationId(groupId: GroupId): string {
  return `g:${groupId}`;
}

/** The text a message row holds for an event: a text event's own; '' for the others, which are lines, not words to search. */
function rowText(e: GroupEvent): string {
  return e.kind === 'text' ? e.body.text.replace(/\p{Cs}/gu, '\uFFFD') : '';
}

type RawGroup = Omit<GroupRow, 'members' | 'isMember'> & { members: string; isMember: number };
const GROUP_COLS = 'id, conv_id AS convId, name, owner, members, is_member AS isMember, created_at AS createdAt';
const toGroup = (r: RawGroup): GroupRow => ({ ...r, members: JSON.parse(r.members) as PeerId[], isMember: r.isMember === 1 });

export class GroupsRepo {
  private readonly getStmt;
  private readonly listStmt;
  private readonly upsertGroup;
  private readonly upsertConv;
  private readonly insertEvent;
  private readonly setVerdict;
  private readonly insertMsg;
  private readonly deleteMsg;
  private readonly raiseLamport;
  private readonly eventsStmt;
  private readonly commitTx;

  private readonly rich: RichRepo;

  constructor(db: Database.Database, rich: RichRepo) {
    this.rich = rich;
    this.getStmt = db.prepare<[string], RawGroup>(`SELECT ${GROUP_COLS} FROM groups WHERE id = ?`);
    this.listStmt = db.prepare<[], RawGroup>(`SELECT ${GROUP_COLS} FROM groups ORDER BY created_at, id`);
    this.upsertGroup = db.prepare<[{ id: string; conv: string; name: string; owner: string | null; members: string; isMember: number; now: number }]>(
      `INSERT INTO groups (id, conv_id, name, owner, members, is_member, created_at) VALUES (@id, @conv, @name, @owner, @members, @isMember, @now)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner, members = excluded.members, is_member = excluded.is_member`,
    );
    this.upsertConv = db.prepare<[string, string, number]>(
      `INSERT INTO conversations (id, kind, peer_id, title, created_at) VALUES (?, 'group', NULL, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title`,
    );
    this.insertEvent = db.prepare<
      [{ group: string; id: string; author: string; seq: number; lamport: number; ts: number; kind: string; ev: Uint8Array; sig: Uint8Array; ok: number; reason: string | null; now: number }]
    >(
      `INSERT INTO group_events (group_id, id, author, seq, lamport, ts, kind, ev, sig, ok, reason, received_at)
       VALUES (@group, @id, @author, @seq, @lamport, @ts, @kind, @ev, @sig, @ok, @reason, @now)`,
    );
    this.setVerdict = db.prepare<[number, string | null, string, string]>('UPDATE group_events SET ok = ?, reason = ? WHERE group_id = ? AND id = ?');
    // A member could make an event ID equal to one of my direct messages' IDs: the event stays
    // stored (and synced), it just has no row of its own in history.
    this.insertMsg = db.prepare<
      [
        {
          id: string;
          conv: string;
          author: string;
          seq: number;
          lamport: number;
          ts: number;
          text: string;
          state: string;
          now: number;
          replyTo: string | null;
          mentions: string | null;
          op: string | null;
          opTarget: string | null;
        },
      ],
      MessageRow
    >(
      `INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at, reply_to, mentions, op, op_target)
       VALUES (@id, @conv, @author, @seq, @lamport, @ts, @text, @state, @now, @replyTo, @mentions, @op, @opTarget)
       ON CONFLICT (id) DO NOTHING RETURNING ${messageColumns()}`,
    );
    this.deleteMsg = db.prepare<[string, string]>('DELETE FROM messages WHERE id = ? AND conv_id = ?');
    this.raiseLamport = db.prepare<[number, string]>('UPDATE conversations SET lamport = max(lamport, ?) WHERE id = ?');
    this.eventsStmt = db.prepare<[string], SignedEvent>('SELECT ev, sig FROM group_events WHERE group_id = ? ORDER BY lamport, author, seq, id');

    this.commitTx = db.transaction((c: GroupCommit): GroupCommitResult => {
      const now = Date.now();
      const conv = groupConversationId(c.groupId);
      this.upsertConv.run(conv, c.state.name || c.groupId, now);
      this.upsertGroup.run({
        id: c.groupId,
        conv,
        name: c.state.name,
        owner: c.state.owner,
        members: JSON.stringify(c.state.members),
        isMember: c.state.isMember ? 1 : 0,
        now,
      });
      const shown: MessageRow[] = [];
      const hidden: string[] = [];
      const touched: string[] = [];
      const refusedOps: GroupCommitResult['refusedOps'] = [];
      let lamport = 0;
      // In the order given (group order): an op before its target waits as a row, and the
      // target's arrival applies it (rich.ts).
      const show = (r: GroupEventRecord) => {
        const op = opOf(r.e);
        const text = r.e.kind === 'text' ? r.e.body : null;
        const row = this.insertMsg.get({
          id: r.e.id,
          conv,
          author: r.e.author,
          seq: r.e.seq,
          lamport: r.e.lamport,
          ts: r.e.ts,
          text: rowText(r.e),
          state: r.e.author === c.selfId ? 'sent' : 'delivered',
          now,
          replyTo: text?.replyTo ?? null,
          mentions: text?.mentions?.length ? JSON.stringify(text.mentions) : null,
          op: op ? opJson(op) : null,
          opTarget: op?.target ?? null,
        });
        lamport = Math.max(lamport, r.e.lamport);
        if (!row) return;
        if (op) {
          const outcome = this.rich.apply(conv, r.e.author, r.e.ts, op);
          if (outcome === 'applied') touched.push(op.target);
          else if (outcome === 'refused') {
            this.deleteMsg.run(r.e.id, conv);
            refusedOps.push({ id: r.e.id, author: r.e.author, kind: r.e.kind });
          }
          return;
        }
        shown.push(row);
        const w = this.rich.applyWaiting(conv, [row.id]);
        touched.push(...w.touched);
        for (const x of w.refused) {
          this.deleteMsg.run(x.id, conv);
          refusedOps.push({ id: x.id, author: x.author, kind: 'op' });
        }
      };
      for (const r of c.stored) {
        const e = r.e;
        this.insertEvent.run({
          group: c.groupId,
          id: e.id,
          author: e.author,
          seq: e.seq,
          lamport: e.lamport,
          ts: e.ts,
          kind: e.kind === 'unsupported' ? e.wireKind : e.kind,
          ev: r.signed.ev,
          sig: r.signed.sig,
          ok: r.verdict.ok ? 1 : 0,
          reason: r.verdict.ok ? null : r.verdict.reason,
          now,
        });
        if (r.verdict.ok) show(r);
      }
      for (const r of c.changed) {
        this.setVerdict.run(r.verdict.ok ? 1 : 0, r.verdict.ok ? null : r.verdict.reason, c.groupId, r.e.id);
        if (r.verdict.ok) show(r);
        else if (this.deleteMsg.run(r.e.id, conv).changes > 0) hidden.push(r.e.id);
      }
      if (lamport > 0) this.raiseLamport.run(lamport, conv);
      return { shown, hidden, touched: [...new Set(touched)].filter((id) => !hidden.includes(id)), refusedOps };
    });
  }

  get(id: GroupId): GroupRow | undefined {
    const r = this.getStmt.get(id);
    return r ? toGroup(r) : undefined;
  }

  list(): GroupRow[] {
    return this.listStmt.all().map(toGroup);
  }

  /** The stored events of a group, exactly as received, in group order. */
  events(groupId: GroupId): SignedEvent[] {
    return this.eventsStmt.all(groupId).map((r) => ({ ev: new Uint8Array(r.ev), sig: new Uint8Array(r.sig) }));
  }

  /** One durable transaction: events, verdicts, the cached state, and the history rows they show. */
  commit(c: GroupCommit): GroupCommitResult {
    return this.commitTx.immediate(c);
  }
}
