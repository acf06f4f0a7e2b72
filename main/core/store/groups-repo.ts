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

  constructor(db: Database.Database) {
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
    this.insertMsg = db.prepare<[{ id: string; conv: string; author: string; seq: number; lamport: number; ts: number; text: string; state: string; now: number }], MessageRow>(
      `INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at)
       VALUES (@id, @conv, @author, @seq, @lamport, @ts, @text, @state, @now)
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
      let lamport = 0;
      const show = (r: GroupEventRecord) => {
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
        });
        if (row) shown.push(row);
        lamport = Math.max(lamport, r.e.lamport);
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
      return { shown, hidden };
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
