// Groups wired into a node: replicas restored from the store, the gsync/gev exchange over every
// link to a member, live sends, invitations, and the commands behind the contract.
//
// Durability rule, as for 1:1 messages: whatever a replica stores is committed to SQLite before
// this node says so to anyone, i.e. before it sends a gsync vector that covers it (the vector is
// the ack) and before it forwards it. Everything here is synchronous between a frame arriving and
// that commit, so no other frame interleaves.
import type { ConversationInfo, GroupChange, GroupConversationInfo, GroupWarning, MessageInfo, PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { shortId } from '../identity/peer-id.ts';
import type { Link } from '../links/link.ts';
import type { LinkManager } from '../links/link-manager.ts';
import type { Logger } from '../log.ts';
import type { FileOfferWire, FrameOf } from '../protocol/frames.ts';
import { groupConversationId, type MessageRow, type Store, type StoredOp } from '../store/store.ts';
import type { GroupContent, GroupEvent, GroupId, GroupMember, SignedEvent } from './group-message.ts';
import { GroupError, GroupReplica, type ReceiveResult, type StoredEntry } from './replica.ts';
import { vectorFromWire, vectorToWire } from './sync.ts';

/** Groups from an unknown origin kept in memory while their history arrives (invitations). */
const MAX_PROVISIONAL = 32;
/** A member acknowledges live events this long after the first of a burst. */
const ACK_DELAY_MS = 100;

export class GroupCommandError extends Error {
  readonly code: 'invalid-args' | 'not-found' | 'unavailable';
  constructor(code: GroupCommandError['code'], message: string) {
    super(message);
    this.name = 'GroupCommandError';
    this.code = code;
  }
}

export interface GroupServiceEvents {
  message: (m: MessageInfo) => void;
  /** A stored message changed (an edit, delete or reaction event applied to it). */
  changed: (m: MessageInfo) => void;
  conversation: (c: ConversationInfo) => void;
  warning: (w: GroupWarning) => void;
  hidden: (h: { convId: string; ids: string[] }) => void;
}

export class GroupService {
  private readonly replicas = new Map<GroupId, GroupReplica>();
  /** Invitations whose genesis has not arrived yet: not stored until they prove I am a member. */
  private readonly provisional = new Map<GroupId, GroupReplica>();
  /** Each member's last vector per group: its acknowledgement of what it durably holds. */
  private readonly acked = new Map<GroupId, Map<PeerId, number>>();
  /** Per group, my seq up to which every member has acknowledged (this run). */
  private readonly deliveredUpTo = new Map<GroupId, number>();
  /** Acks (gsync) to send once the current burst of live events is stored, per link and group. */
  private readonly pendingAcks = new Map<Link, Set<GroupId>>();
  private ackTimer: NodeJS.Timeout | null = null;
  /** gev replies waiting for a link's buffer to drain, per link. */
  private readonly waitingForDrain = new Map<Link, Map<GroupId, () => void>>();
  private stopped = false;
  private readonly identity: Identity;
  private readonly store: Store;
  private readonly links: LinkManager;
  private readonly log: Logger;
  private readonly on: GroupServiceEvents;
  private readonly toInfo: (row: MessageRow) => MessageInfo;
  private readonly selfName: () => string;
  /**
   * Files (main/core/attachments/node-files.ts sets it): a stored text event of another member
   * that offers a file, told before the line is announced so it shows with its attachment.
   */
  files: { incoming(from: PeerId, event: { id: string; conv: string; body: { text: string; file?: FileOfferWire | undefined } }): void } | null = null;

  constructor(opts: {
    identity: Identity;
    store: Store;
    links: LinkManager;
    log: Logger;
    events: GroupServiceEvents;
    toInfo: (row: MessageRow) => MessageInfo;
    selfName: () => string;
  }) {
    this.identity = opts.identity;
    this.store = opts.store;
    this.links = opts.links;
    this.log = opts.log;
    this.on = opts.events;
    this.toInfo = opts.toInfo;
    this.selfName = opts.selfName;
    for (const g of this.store.listGroups()) {
      this.replicas.set(g.id, GroupReplica.restore(g.id, this.identity.id, this.store.groupEvents(g.id)));
    }
    this.links.on('up', (link) => this.onLinkUp(link));
    this.links.on('down', (link) => this.waitingForDrain.delete(link));
    this.links.on('drain', (link) => this.onDrain(link));
    this.links.on('frame', (link, frame) => {
      if (this.stopped) return;
      if (frame.t === 'gsync') this.onSync(link, frame);
      else if (frame.t === 'gev') this.onEvents(link, frame);
    });
  }

  stop(): void {
    this.stopped = true;
    this.waitingForDrain.clear();
    this.pendingAcks.clear();
    if (this.ackTimer) clearTimeout(this.ackTimer);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** A group I am in has this peer as a member too: we have something to sync, so a link (or relay tunnel) is wanted. */
  sharesGroupWith(peerId: PeerId): boolean {
    for (const replica of this.replicas.values()) {
      const members = replica.state().members;
      if (members.has(this.identity.id) && members.has(peerId)) return true;
    }
    return false;
  }

  isGroupConversation(convId: string): boolean {
    return this.byConv(convId) !== undefined;
  }

  conversationInfo(convId: string): GroupConversationInfo | undefined {
    const replica = this.byConv(convId);
    if (!replica) return undefined;
    const conv = this.store.getConversation(convId);
    const last = this.store.history(convId, { limit: 1 })[0];
    const state = replica.state();
    const members = [...state.members].sort((a, b) => a[1] - b[1]).map(([id]) => ({ id, name: this.nameOf(id) }));
    return {
      id: convId,
      kind: 'group',
      peerId: null,
      title: state.name || conv?.title || replica.groupId,
      unread: conv ? this.store.unreadCount(convId, this.identity.id) : 0,
      lastMessage: last ? this.decorate(this.toInfo(last)) : null,
      group: { id: replica.groupId, name: state.name, owner: state.owner, members, isMember: state.members.has(this.identity.id) },
    };
  }

  /** Adds what a history line needs beyond the row: the membership change it shows. */
  decorate(info: MessageInfo): MessageInfo {
    if (!info.convId.startsWith('g:')) return info;
    const e = this.byConv(info.convId)?.get(info.id)?.e;
    const change = e ? changeOf(e) : undefined;
    return change ? { ...info, change } : info;
  }

  // ---- commands ------------------------------------------------------------------------------

  create(name: string, memberIds: PeerId[]): GroupConversationInfo {
    const members = this.certificates(memberIds);
    const { replica, entry, recipients } = GroupReplica.create(this.identity, { name, members });
    this.replicas.set(replica.groupId, replica);
    this.commit(replica, { stored: [entry], changed: [], duplicates: 0, refused: [], pending: 0 }, true);
    this.push(replica, [entry.signed], recipients);
    this.log.info({ group: replica.groupId.slice(0, 7), members: members.length + 1 }, 'group created');
    return this.conversationInfo(groupConversationId(replica.groupId))!;
  }

  /** The current members other than me (a file offer is made to them). */
  otherMembers(convId: string): PeerId[] {
    const replica = this.require(convId);
    return [...replica.state().members.keys()].filter((id) => id !== this.identity.id);
  }

  send(convId: string, text: string, opts: { replyTo?: string | undefined; mentions?: PeerId[] | undefined; file?: FileOfferWire | undefined } = {}): MessageInfo {
    const replica = this.require(convId);
    if (opts.replyTo !== undefined) {
      const target = this.store.getMessage(opts.replyTo);
      if (!target || target.convId !== convId || target.op !== null) throw new GroupCommandError('invalid-args', 'replyTo: no such message in this conversation');
    }
    const mentions = [...new Set(opts.mentions ?? [])];
    const strangers = mentions.filter((id) => !replica.isMember(id));
    if (strangers.length > 0) throw new GroupCommandError('invalid-args', `mentions: ${strangers.map(shortId).join(', ')} not a member of this group`);
    const body = {
      text,
      ...(opts.replyTo !== undefined ? { replyTo: opts.replyTo } : {}),
      ...(mentions.length > 0 ? { mentions } : {}),
      ...(opts.file ? { file: opts.file } : {}),
    };
    const { entry } = this.compose(convId, { kind: 'text', body });
    const row = this.store.getMessage(entry.e.id);
    if (!row) throw new GroupCommandError('unavailable', 'the message was not stored');
    return this.toInfo(row);
  }

  /**
   * Edit, delete or react to a message of a group: an event like any other (signed, synced,
   * forwarded), folded into the target by every member (store/rich.ts). Returns the target as
   * it is now.
   */
  op(convId: string, op: StoredOp): MessageInfo {
    const replica = this.require(convId);
    const target = this.store.getMessage(op.target);
    if (!target || target.convId !== convId || target.op !== null) throw new GroupCommandError('not-found', 'no such message');
    if (op.k !== 'react' && target.author !== this.identity.id) throw new GroupCommandError('invalid-args', 'only its author can edit or delete a message');
    if (target.deleted) throw new GroupCommandError('invalid-args', 'the message is deleted');
    if (replica.get(op.target)?.e.kind !== 'text') throw new GroupCommandError('invalid-args', 'a membership line cannot be edited, deleted or reacted to');
    const content: GroupContent =
      op.k === 'edit'
        ? { kind: 'edit', body: { target: op.target, text: op.text } }
        : op.k === 'delete'
          ? { kind: 'delete', body: { target: op.target } }
          : { kind: 'react', body: { target: op.target, emoji: op.emoji, on: op.on } };
    this.compose(convId, content);
    return this.decorate(this.toInfo(this.store.getMessage(op.target)!));
  }

  rename(convId: string, name: string): GroupConversationInfo {
    this.compose(convId, { kind: 'rename', body: { name } });
    return this.conversationInfo(convId)!;
  }

  add(convId: string, memberIds: PeerId[]): GroupConversationInfo {
    const replica = this.require(convId);
    const fresh = memberIds.filter((id) => !replica.isMember(id));
    if (fresh.length === 0) return this.conversationInfo(convId)!;
    this.compose(convId, { kind: 'add', body: { members: this.certificates(fresh) } });
    return this.conversationInfo(convId)!;
  }

  remove(convId: string, peerId: PeerId): GroupConversationInfo {
    if (!this.require(convId).isMember(peerId)) throw new GroupCommandError('invalid-args', 'not a member of this group');
    this.compose(convId, { kind: 'remove', body: { ids: [peerId] } });
    return this.conversationInfo(convId)!;
  }

  leave(convId: string): GroupConversationInfo {
    this.compose(convId, { kind: 'leave', body: {} });
    return this.conversationInfo(convId)!;
  }

  private compose(convId: string, content: GroupContent): { entry: StoredEntry } {
    const replica = this.require(convId);
    let sent;
    try {
      sent = replica.compose(this.identity, content);
    } catch (err) {
      if (err instanceof GroupError) throw new GroupCommandError(err.code === 'invalid' ? 'invalid-args' : 'unavailable', err.message);
      throw err;
    }
    this.commit(replica, { stored: [sent.entry], changed: [], duplicates: 0, refused: [], pending: 0 }, false);
    this.push(replica, [sent.signed], sent.recipients);
    return { entry: sent.entry };
  }

  private require(convId: string): GroupReplica {
    const replica = this.byConv(convId);
    if (!replica) throw new GroupCommandError('not-found', 'no such group conversation');
    return replica;
  }

  /** Certificates proven in a TLS handshake with each member (peers.cert, migration 0002). */
  private certificates(ids: PeerId[]): GroupMember[] {
    const members: GroupMember[] = [];
    for (const id of new Set(ids)) {
      if (id === this.identity.id) continue;
      const cert = this.store.peerCertificate(id);
      if (!cert) {
        const name = this.store.getPeer(id)?.name;
        throw new GroupCommandError(
          'unavailable',
          `${name ? `${name} (${shortId(id)})` : shortId(id)} has not been connected to this computer yet, so their certificate is unknown: they can be added once they have been online here`,
        );
      }
      members.push({ id, cert: new Uint8Array(cert) });
    }
    return members;
  }

  // ---- the exchange --------------------------------------------------------------------------

  private onLinkUp(link: Link): void {
    if (this.stopped) return;
    for (const replica of this.replicas.values()) {
      if (replica.isMember(link.peerId) || replica.entries().some((x) => x.e.author === link.peerId)) this.sendSync(link, replica);
    }
  }

  private sendSync(link: Link, replica: GroupReplica): void {
    link.send({ t: 'gsync', group: replica.groupId, have: vectorToWire(replica.vector()) });
  }

  private onSync(link: Link, frame: FrameOf<'gsync'>): void {
    const replica = this.replicas.get(frame.group);
    if (replica) this.noteAck(replica, link.peerId, frame.have);
    if (!replica) {
      // A member counts me in a group I do not hold: its invitation went down with a link. Ask
      // for the history; it is sent only if that member's view entitles me, and kept only if it
      // shows me as a member (onEvents). The asker holds the group, so it never asks back.
      if (!this.provisional.has(frame.group)) link.send({ t: 'gsync', group: frame.group, have: [] });
      return;
    }
    // One batch per gsync: the asker asks again once it has stored it, so a slow member paces
    // the sender and nothing queues up without bound. A full socket buffer waits for drain.
    const reply = () => {
      if (this.stopped || link.closed) return;
      const batch = replica.select(link.peerId, vectorFromWire(frame.have));
      if (batch.events.length > 0) link.send({ t: 'gev', group: replica.groupId, evs: batch.events, more: batch.more });
    };
    if (link.writable) reply();
    else {
      // Per group, only the newest ask matters: it carries the most recent vector.
      const waiting = this.waitingForDrain.get(link) ?? new Map<GroupId, () => void>();
      waiting.set(replica.groupId, reply);
      this.waitingForDrain.set(link, waiting);
    }
  }

  private onDrain(link: Link): void {
    const waiting = this.waitingForDrain.get(link);
    if (!waiting || !link.writable) return;
    this.waitingForDrain.delete(link);
    for (const reply of waiting.values()) reply();
  }

  private onEvents(link: Link, frame: FrameOf<'gev'>): void {
    const from = link.peerId;
    let replica = this.replicas.get(frame.group);
    let invitation = false;
    if (!replica) {
      replica = this.provisional.get(frame.group);
      if (!replica) {
        replica = new GroupReplica(frame.group, this.identity.id);
        if (this.provisional.size >= MAX_PROVISIONAL) this.provisional.delete(this.provisional.keys().next().value!);
        this.provisional.set(frame.group, replica);
      }
      invitation = true;
    }
    const result = replica.receive(frame.evs, from);
    this.report(replica, result, from);
    if (invitation) {
      // Kept only once its genesis is here and it shows me as a member at some point: a
      // stranger cannot plant groups in my list, and someone removed before catching up still
      // learns what happened.
      const entries = replica.entries();
      const wasMember = replica.isMember(this.identity.id) || replica.history().some((h) => h.after.members.has(this.identity.id));
      if (entries.length > 0 && entries[0]!.e.kind === 'create' && wasMember) {
        this.provisional.delete(frame.group);
        this.replicas.set(frame.group, replica);
        this.commit(replica, { ...result, stored: [...entries], changed: [] }, true);
        this.log.info({ group: frame.group.slice(0, 7), from: from.slice(0, 7) }, 'joined a group');
      } else if (replica.gaps().genesis || frame.more) {
        this.sendSync(link, replica);
        return;
      } else {
        if (entries.length > 0) this.provisional.delete(frame.group);
        return;
      }
    } else if (result.stored.length > 0 || result.changed.length > 0) {
      this.commit(replica, result, false);
    }
    // Stored durably: now the vector may say so. Ask again for the rest, or for what a gap shows;
    // after a live send, acknowledge it (batched: one gsync per burst, not one per event).
    const gaps = replica.gaps();
    if (frame.more || gaps.genesis || gaps.authors.length > 0) this.sendSync(link, replica);
    else if (result.stored.length > 0) this.scheduleAck(link, replica.groupId);
  }

  private scheduleAck(link: Link, groupId: GroupId): void {
    const groups = this.pendingAcks.get(link) ?? new Set<GroupId>();
    groups.add(groupId);
    this.pendingAcks.set(link, groups);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      const due = [...this.pendingAcks];
      this.pendingAcks.clear();
      for (const [l, ids] of due) {
        if (l.closed) continue;
        for (const id of ids) {
          const replica = this.replicas.get(id);
          if (replica) this.sendSync(l, replica);
        }
      }
    }, ACK_DELAY_MS);
    this.ackTimer.unref();
  }

  /**
   * A member's vector says which of my events it holds durably. Mine are 'delivered' once every
   * other current member holds them (until then 'sent': the rest get them by sync, from anyone).
   */
  private noteAck(replica: GroupReplica, peer: PeerId, have: ReadonlyArray<readonly [PeerId, number]>): void {
    const mine = have.find(([author]) => author === this.identity.id)?.[1] ?? 0;
    const acked = this.acked.get(replica.groupId) ?? new Map<PeerId, number>();
    this.acked.set(replica.groupId, acked);
    if (mine <= (acked.get(peer) ?? 0)) return;
    acked.set(peer, mine);
    const others = [...replica.state().members.keys()].filter((id) => id !== this.identity.id);
    if (others.length === 0) return;
    const upTo = Math.min(...others.map((id) => acked.get(id) ?? 0));
    const from = this.deliveredUpTo.get(replica.groupId) ?? 0;
    if (upTo <= from) return;
    this.deliveredUpTo.set(replica.groupId, upTo);
    const ids = replica
      .entries()
      .filter((x) => x.e.author === this.identity.id && x.e.seq > from && x.e.seq <= upTo && x.verdict.ok)
      .map((x) => x.e.id);
    for (const row of this.store.markDelivered(ids)) if (row.op === null) this.on.message(this.decorate(this.toInfo(row)));
  }

  /** Sends newly composed events to each recipient that has a link; the rest catch up by sync. */
  private push(replica: GroupReplica, events: SignedEvent[], recipients: PeerId[]): void {
    for (const id of recipients) {
      this.links.get(id)?.send({ t: 'gev', group: replica.groupId, evs: events, more: false });
    }
  }

  private report(replica: GroupReplica, result: ReceiveResult, from: PeerId): void {
    for (const r of result.refused) {
      if (r.reason === 'pending-full') continue;
      this.log.warn(
        { group: replica.groupId.slice(0, 7), from: from.slice(0, 7), author: r.author?.slice(0, 7), event: r.id, seq: r.seq, reason: r.reason },
        'group event refused',
      );
      this.on.warning({
        groupId: replica.groupId,
        convId: groupConversationId(replica.groupId),
        from,
        claimedAuthor: r.author ?? null,
        reason: r.reason,
        at: Date.now(),
      });
    }
  }

  /** Commits what the replica stored or re-judged, then tells the UI. */
  private commit(replica: GroupReplica, result: ReceiveResult, isNew: boolean): void {
    const convId = groupConversationId(replica.groupId);
    const before = isNew ? undefined : this.store.getGroup(replica.groupId);
    const state = replica.state();
    const members = [...state.members].sort((a, b) => a[1] - b[1]).map(([id]) => id);
    const done = this.store.commitGroup({
      groupId: replica.groupId,
      selfId: this.identity.id,
      state: { name: state.name, owner: state.owner, members, isMember: state.members.has(this.identity.id) },
      stored: result.stored,
      changed: result.changed,
    });
    if (done.hidden.length > 0) this.on.hidden({ convId, ids: done.hidden });
    for (const entry of result.stored) {
      const e = entry.e;
      if (entry.verdict.ok && e.kind === 'text' && e.body.file && e.author !== this.identity.id) this.files?.incoming(e.author, { id: e.id, conv: convId, body: e.body });
    }
    const changedGroup = !before || before.name !== state.name || before.owner !== state.owner || before.members.join() !== members.join();
    if (changedGroup) this.on.conversation(this.conversationInfo(convId)!);
    // A message that ops waiting for it changed in the same commit is told once, as it is now.
    const touched = new Set(done.touched);
    for (const row of done.shown) this.on.message(this.decorate(this.toInfo(touched.delete(row.id) ? (this.store.getMessage(row.id) ?? row) : row)));
    for (const id of touched) {
      const row = this.store.getMessage(id);
      if (row) this.on.changed(this.decorate(this.toInfo(row)));
    }
    for (const r of done.refusedOps) {
      // Signed by its author, so kept and synced like every event, but without effect.
      this.log.warn({ group: replica.groupId.slice(0, 7), author: r.author.slice(0, 7), event: r.id, kind: r.kind }, 'group op on a message of another author ignored');
    }
  }

  private byConv(convId: string): GroupReplica | undefined {
    return convId.startsWith('g:') ? this.replicas.get(convId.slice(2)) : undefined;
  }

  private nameOf(id: PeerId): string {
    if (id === this.identity.id) return this.selfName();
    return this.store.getPeer(id)?.name || shortId(id);
  }
}

function changeOf(e: GroupEvent): GroupChange | undefined {
  switch (e.kind) {
    case 'create':
      return { kind: 'created', name: e.body.name, members: e.body.members.map((m) => m.id) };
    case 'rename':
      return { kind: 'renamed', name: e.body.name };
    case 'add':
      return { kind: 'added', members: e.body.members.map((m) => m.id) };
    case 'remove':
      return { kind: 'removed', members: e.body.ids };
    case 'leave':
      return { kind: 'left' };
    case 'unsupported':
      return { kind: 'unsupported', wireKind: e.wireKind };
    default:
      return undefined;
  }
}
