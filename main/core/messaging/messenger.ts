// Reliable 1:1 delivery. The sender commits message + outbox entry before the first byte
// leaves; the receiver commits before it acks; unacked messages go out again, in outbox
// order, on every new link. Writes are group-committed: everything that arrives in one
// event-loop turn shares one transaction (one fsync), which is what makes durability cheap.
import { EventEmitter } from 'node:events';
import { monotonicFactory } from 'ulid';
import { LIMITS, type BroadcastInfo, type MessageInfo, type MessageState, type PeerId, type ReplyRef } from '../../contract/contract.ts';
import type { Link } from '../links/link.ts';
import type { LinkManager } from '../links/link-manager.ts';
import type { Timing } from '../links/timing.ts';
import type { Logger } from '../log.ts';
import type { FrameOf } from '../protocol/frames.ts';
import { parseOp, reactionsOf } from '../store/rich.ts';
import type { IncomingOutcome, MessageRow, RichFields, Store, StoredOp } from '../store/store.ts';
import type { AttachmentInfo } from '../../contract/contract.ts';

/** Files in messages (main/core/attachments/node-files.ts sets it): PROTOCOL.md §14.1. */
export interface MessengerFiles {
  /** A file row's body fields (`file`, or for a peer without files/1 its name as text). */
  body(row: MessageRow, caps?: ReadonlySet<string>): Partial<FrameOf<'msg'>['body']> | undefined;
  /** A stored (or resent) incoming message whose body carries `file`, before it is announced. */
  incoming(from: PeerId, frame: FrameOf<'msg'>): void;
  info(messageId: string): AttachmentInfo | undefined;
}

/** The capability a peer needs before it is sent an op (edit, delete, react): PROTOCOL.md §8.5. */
export const RICH_CAP = 'rich/1';

/** A rich-message command the messenger refuses (api.ts maps the code). */
export class MessageCommandError extends Error {
  readonly code: 'invalid-args' | 'not-found' | 'unavailable';
  constructor(code: MessageCommandError['code'], message: string) {
    super(message);
    this.name = 'MessageCommandError';
    this.code = code;
  }
}

/** The start of a quoted message: at most LIMITS.replyExcerpt code points. */
export function excerptOf(text: string): string {
  const cps = Array.from(text);
  return cps.length <= LIMITS.replyExcerpt ? text : cps.slice(0, LIMITS.replyExcerpt).join('');
}

/**
 * Messages in flight on one link before we wait for acks. Throughput is about window / round
 * trip, and a round trip includes the receiver's group commit, so the window is wide (1,024
 * gave 8.7k msgs/s in bench/, 16,384 about 18k); the socket buffer is bounded separately
 * (Link.writable), so memory stays at the IDs of the window.
 */
const WINDOW = 16384;
/**
 * Largest forward jump of a conversation's Lamport clock we accept from a peer. Honest peers
 * move it by one per message; a hostile one could otherwise push it to 2^53 and wedge the
 * conversation for good.
 */
const MAX_LAMPORT_JUMP = 1_000_000;

interface LinkState {
  link: Link;
  /** Outbox rowid of the last message written to this link. */
  cursor: number;
  inflight: Set<string>;
}

export interface MessengerEvents {
  message: [MessageInfo];
  /** A stored message changed (ops applied to it): never a new one. */
  changed: [MessageInfo];
  read: [{ convId: string; peerId: PeerId; upTo: string }];
  /** A broadcast I sent changed: one of its messages changed state. */
  broadcast: [BroadcastInfo];
}

export class Messenger extends EventEmitter<MessengerEvents> {
  private readonly newId = monotonicFactory();
  private readonly linkStates = new Map<PeerId, LinkState>();
  /** Set by the node's files wiring. */
  files: MessengerFiles | null = null;
  private sendQueue: Array<{ convId: string; peerId: PeerId; text: string; rich?: RichFields | undefined; attach?: ((row: MessageRow) => void) | undefined; resolve: (m: MessageInfo) => void; reject: (e: Error) => void }> = [];
  private incoming: Array<{ link: Link; frame: FrameOf<'msg'> }> = [];
  private acked: Array<{ link: Link; ids: string[] }> = [];
  private flushScheduled = false;
  private overdueTimer: NodeJS.Timeout;
  /** Start of the next overdue sweep's window (enqueue time). */
  private overdueSwept = 0;
  private readonly store: Store;
  private readonly links: LinkManager;
  private readonly selfId: PeerId;
  private readonly timing: Timing;
  private readonly log: Logger;

  constructor(opts: { store: Store; links: LinkManager; selfId: PeerId; timing: Timing; log: Logger }) {
    super();
    this.store = opts.store;
    this.links = opts.links;
    this.selfId = opts.selfId;
    this.timing = opts.timing;
    this.log = opts.log;
    this.links.on('up', (link) => this.onLinkUp(link));
    this.links.on('down', (link) => this.onLinkDown(link));
    this.links.on('drain', (link) => this.pump(link.peerId));
    this.links.on('frame', (link, frame) => {
      if (this.stopped) return;
      switch (frame.t) {
        case 'msg':
          return this.onMsg(link, frame);
        case 'ack':
          return this.onAck(link, frame);
        case 'nack':
          return this.onNack(link, frame);
        case 'read':
          return this.onRead(link, frame);
        default:
          return;
      }
    });
    this.overdueTimer = setInterval(() => this.checkOverdue(), Math.max(250, Math.min(5000, this.timing.deliveryDeadlineMs / 4)));
    this.overdueTimer.unref();
  }

  // ---- sending -------------------------------------------------------------------------

  /** `attach` runs once the row is stored, before it is announced or sent (a file offer's attachment row). */
  send(convId: string, peerId: PeerId, text: string, rich?: RichFields, attach?: (row: MessageRow) => void): Promise<MessageInfo> {
    return new Promise((resolve, reject) => {
      this.sendQueue.push({ convId, peerId, text, rich, attach, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** A reply must quote a line of this conversation that this node holds. */
  checkReply(convId: string, replyTo: string | undefined): void {
    if (replyTo === undefined) return;
    const target = this.store.getMessage(replyTo);
    if (!target || target.convId !== convId || target.op !== null) throw new MessageCommandError('invalid-args', 'replyTo: no such message in this conversation');
  }

  /**
   * Edit, delete or react in a direct conversation: checked here, then sent as an op (a message
   * of its own, PROTOCOL.md §8.5) and applied to my copy in the same transaction. Resolves with
   * the target as it is now.
   */
  async sendOp(op: StoredOp): Promise<MessageInfo> {
    const target = this.store.getMessage(op.target);
    if (!target || target.op !== null) throw new MessageCommandError('not-found', 'no such message');
    const conv = this.store.getConversation(target.convId);
    if (conv?.kind !== 'direct') throw new MessageCommandError('not-found', 'no such direct conversation');
    if (op.k !== 'react' && target.author !== this.selfId) throw new MessageCommandError('invalid-args', 'only its author can edit or delete a message');
    if (target.deleted) throw new MessageCommandError('invalid-args', 'the message is deleted');
    // Until the peer holds it, the original is still in my outbox and would be resent as
    // edited (or empty) text, which the peer could only take for a conflicting copy.
    if (op.k !== 'react' && target.state !== 'delivered' && target.state !== 'read') {
      throw new MessageCommandError('unavailable', 'the message has not been delivered yet: cancel it instead, or wait until it is delivered');
    }
    const link = this.links.get(conv.peerId);
    if (link && !link.caps.has(RICH_CAP)) {
      throw new MessageCommandError('unavailable', "the other side's Parley is too old for edits, deletions and reactions");
    }
    await this.send(conv.id, conv.peerId, '', { op });
    return this.toInfo(this.store.getMessage(op.target)!);
  }

  /** The `msg` body for a stored row (also what a relay's mailbox gets, mailbox-client.ts). */
  bodyOf(row: MessageRow, caps?: ReadonlySet<string>): FrameOf<'msg'>['body'] {
    const op = parseOp(row.op);
    if (op) return { text: '', op };
    return {
      text: row.text,
      ...(row.replyTo ? { replyTo: row.replyTo } : {}),
      ...(row.broadcast ? { broadcast: true } : {}),
      ...this.files?.body(row, caps),
    };
  }

  /** Tells the UI about a changed row: ops are not lines (their target is told instead). */
  announce(row: MessageRow, stateOverride?: MessageState): void {
    if (row.op !== null) return;
    this.emit('message', this.toInfo(row, stateOverride));
    if (row.broadcast && row.author === this.selfId) {
      const b = this.broadcastInfo(row.id);
      if (b) this.emit('broadcast', b);
    }
  }

  /** Messages as they are now: `fresh` ones were just stored (new), the others changed by ops. */
  private announceTouched(ids: Iterable<string>, fresh: ReadonlySet<string> = new Set()): void {
    for (const id of ids) {
      const row = this.store.getMessage(id);
      if (row) this.emit(fresh.has(id) ? 'message' : 'changed', this.toInfo(row));
    }
  }

  /** My broadcast that `messageId` was part of, with every recipient's state. */
  broadcastInfo(messageId: string): BroadcastInfo | undefined {
    const id = this.store.rich.broadcastOf(messageId);
    return id === undefined ? undefined : this.store.rich.getBroadcast(id);
  }

  retry(id: string): MessageInfo | undefined {
    const row = this.store.getMessage(id);
    if (!row) return undefined;
    const conv = this.store.getConversation(row.convId);
    if (conv?.kind === 'direct' && row.author === this.selfId && (row.state === 'pending' || row.state === 'sent' || row.state === 'stored')) {
      this.links.redialNow(conv.peerId);
      this.pump(conv.peerId);
    }
    return this.toInfo(row);
  }

  cancel(id: string): MessageInfo | undefined {
    const row = this.store.cancel(id) ?? this.store.getMessage(id);
    if (!row) return undefined;
    for (const s of this.linkStates.values()) s.inflight.delete(id);
    this.announce(row);
    return this.toInfo(row);
  }

  /** Writes what the outbox holds for this peer to its link, in order, within the window. */
  pump(peerId: PeerId): void {
    if (this.stopped) return;
    const state = this.linkStates.get(peerId);
    if (!state || state.link.closed) return;
    while (state.inflight.size < WINDOW && state.link.writable) {
      const rows = this.store.outbox(peerId, state.cursor, Math.min(2048, WINDOW - state.inflight.size));
      if (rows.length === 0) return;
      const sent: MessageRow[] = [];
      for (const row of rows) {
        state.cursor = row.outboxRowid;
        // An op to a peer without rich/1 stays in the outbox (skipped, not in flight) until a
        // link to an upgraded build: an older one would refuse a message without text.
        if (row.op !== null && !state.link.caps.has(RICH_CAP)) continue;
        state.inflight.add(row.id);
        state.link.send({ t: 'msg', id: row.id, conv: row.convId, author: row.author, seq: row.seq, lamport: row.lamport, ts: row.ts, body: this.bodyOf(row, state.link.caps) });
        if (row.state === 'pending') sent.push(row);
      }
      for (const row of sent) this.announce(row, 'sent');
    }
  }

  private onLinkUp(link: Link): void {
    this.linkStates.set(link.peerId, { link, cursor: 0, inflight: new Set() });
    // My read marker is a watermark: resending it on every link is harmless and heals losses.
    const convId = this.store.directConversationId(this.selfId, link.peerId);
    const conv = this.store.getConversation(convId);
    if (conv?.readUpTo) link.send({ t: 'read', conv: convId, upTo: conv.readUpTo });
    this.pump(link.peerId);
  }

  private onLinkDown(link: Link): void {
    const state = this.linkStates.get(link.peerId);
    if (state?.link !== link) return;
    this.linkStates.delete(link.peerId);
    // Whatever was in flight is unacknowledged: it is pending again and goes out on the next link.
    for (const id of state.inflight) {
      const row = this.store.getMessage(id);
      if (row && row.state === 'pending') this.announce(row, 'pending');
    }
  }

  private onAck(link: Link, frame: FrameOf<'ack'>): void {
    const state = this.linkStates.get(link.peerId);
    for (const id of frame.ids) {
      if (state?.link === link && state.inflight.has(id)) continue;
      // A late ack for something delivered before, or sent on an earlier link, is harmless;
      // an ack for a message this peer never received from us is a protocol violation.
      const row = this.store.getMessage(id);
      const conv = row ? this.store.getConversation(row.convId) : undefined;
      if (!row || row.author !== this.selfId || conv?.peerId !== link.peerId) {
        this.log.warn({ peer: link.peerId.slice(0, 7) }, 'ack for a message never sent to this peer');
        link.close('protocol error: ack for a message never sent');
        return;
      }
    }
    this.acked.push({ link, ids: frame.ids });
    this.scheduleFlush();
  }

  private onNack(link: Link, frame: FrameOf<'nack'>): void {
    const row = this.store.getMessage(frame.id);
    if (!row || row.author !== this.selfId) return;
    this.log.warn({ peer: link.peerId.slice(0, 7), code: frame.code, msg: frame.id }, 'peer rejected a message');
    this.linkStates.get(link.peerId)?.inflight.delete(frame.id);
    const changed = this.store.markRejected(frame.id);
    if (changed) this.announce(changed);
  }

  // ---- receiving -----------------------------------------------------------------------

  private onMsg(link: Link, frame: FrameOf<'msg'>): void {
    const expectedConv = this.store.directConversationId(this.selfId, link.peerId);
    if (frame.author !== link.peerId || frame.conv !== expectedConv) {
      // Not acked, not stored: the sender learns it was refused instead of retrying forever.
      this.log.warn({ peer: link.peerId.slice(0, 7), msg: frame.id }, 'message with foreign author or conversation');
      link.send({ t: 'nack', id: frame.id, code: 'invalid' });
      return;
    }
    this.incoming.push({ link, frame });
    this.scheduleFlush();
  }

  private onRead(link: Link, frame: FrameOf<'read'>): void {
    if (frame.conv !== this.store.directConversationId(this.selfId, link.peerId)) return;
    const changed = this.store.applyPeerRead(frame.conv, frame.upTo, this.selfId);
    const state = this.linkStates.get(link.peerId);
    for (const row of changed) {
      state?.inflight.delete(row.id);
      this.announce(row);
    }
    this.emit('read', { convId: frame.conv, peerId: link.peerId, upTo: frame.upTo });
  }

  /** Marks the peer's messages read up to `upTo` and tells the peer (now, or on the next link). */
  markRead(convId: string, upTo: string): { unread: number } {
    const result = this.store.markReadUpTo(convId, upTo, this.selfId);
    if (result.changed) {
      const conv = this.store.getConversation(convId);
      // A group has no read receipts on the wire (yet): the marker stays local.
      const link = conv?.kind === 'direct' ? this.links.get(conv.peerId) : undefined;
      if (link && conv?.readUpTo) link.send({ t: 'read', conv: convId, upTo: conv.readUpTo });
    }
    return { unread: result.unread };
  }

  // ---- group commit --------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    // After stop() the store is (about to be) closed: what is unacked stays in the outbox.
    if (this.stopped) {
      for (const s of this.sendQueue) s.reject(new Error('node is shutting down'));
      this.sendQueue = [];
      this.incoming = [];
      this.acked = [];
      return;
    }
    const sends = this.sendQueue;
    const incoming = this.incoming;
    const acked = this.acked;
    this.sendQueue = [];
    this.incoming = [];
    this.acked = [];

    if (sends.length > 0) {
      try {
        const { rows, touched } = this.store.insertOutgoingRich(
          sends.map((s) => ({ id: this.newId(), convId: s.convId, author: this.selfId, text: s.text, ts: Date.now(), peerId: s.peerId, ...(s.rich ? { rich: s.rich } : {}) })),
        );
        rows.forEach((row, i) => {
          sends[i]!.attach?.(row);
          this.announce(row);
          sends[i]!.resolve(this.toInfo(row));
        });
        this.announceTouched(touched);
        for (const peer of new Set(sends.map((s) => s.peerId))) this.pump(peer);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'could not store outgoing messages');
        for (const s of sends) s.reject(err as Error);
      }
    }

    if (incoming.length > 0) this.storeIncoming(incoming);

    if (acked.length > 0) {
      const ids = acked.flatMap((a) => a.ids);
      const changed = this.store.markDelivered(ids);
      for (const a of acked) {
        const state = this.linkStates.get(a.link.peerId);
        if (state?.link === a.link) for (const id of a.ids) state.inflight.delete(id);
      }
      for (const row of changed) this.announce(row);
      for (const peer of new Set(acked.map((a) => a.link.peerId))) this.pump(peer);
    }
  }

  private storeIncoming(incoming: Array<{ link: Link; frame: FrameOf<'msg'> }>): void {
    const clocks = new Map<string, number>();
    for (const peer of new Set(incoming.map((i) => i.link.peerId))) {
      const convId = this.store.directConversationId(this.selfId, peer);
      const conv = this.store.getConversation(convId) ?? this.store.ensureDirectConversation(this.selfId, peer);
      clocks.set(convId, conv.lamport);
    }
    incoming = incoming.filter(({ link, frame }) => {
      if (frame.lamport <= clocks.get(frame.conv)! + MAX_LAMPORT_JUMP) return true;
      this.log.warn({ peer: link.peerId.slice(0, 7), msg: frame.id }, 'message with an implausible Lamport clock');
      link.send({ t: 'nack', id: frame.id, code: 'invalid' });
      return false;
    });
    if (incoming.length === 0) return;
    let outcomes: IncomingOutcome[];
    let touched: string[];
    try {
      const done = this.store.insertIncomingRich(incoming.map((i) => i.frame));
      outcomes = done.outcomes;
      touched = done.touched;
      if (done.refused.length > 0) this.log.warn({ ops: done.refused.length }, 'dropped waiting ops on messages of another author');
    } catch (err) {
      // Not acked: the sender keeps them and tries again on the next link.
      this.log.error({ err: (err as Error).message }, 'could not store incoming messages');
      for (const link of new Set(incoming.map((i) => i.link))) link.close('receiver storage failure');
      return;
    }
    // Committed (synchronous=FULL): only now may the sender forget them.
    const acks = new Map<Link, string[]>();
    const fresh = new Set<string>();
    incoming.forEach(({ link, frame }, i) => {
      const outcome = outcomes[i];
      if (outcome === 'conflict') {
        this.log.warn({ peer: link.peerId.slice(0, 7), msg: frame.id }, 'message ID reused with different content');
        link.send({ t: 'nack', id: frame.id, code: 'conflict' });
        return;
      }
      if (outcome === 'invalid') {
        // An edit or deletion of a message the peer did not write (or an op on an op, or on
        // another conversation's message): not stored, and the sender is told.
        this.log.warn({ peer: link.peerId.slice(0, 7), msg: frame.id, op: frame.body.op?.k }, 'refused an op the peer may not do');
        link.send({ t: 'nack', id: frame.id, code: 'invalid' });
        return;
      }
      let list = acks.get(link);
      if (!list) acks.set(link, (list = []));
      list.push(frame.id);
      if (frame.body.file) this.files?.incoming(link.peerId, frame);
      if (outcome === 'stored') {
        const { id, conv, author, seq, lamport, ts, body } = frame;
        if (body.op) return; // an op is no line
        fresh.add(id);
        // A message that waiting ops just changed is told below, once, as it is now.
        if (touched.includes(id)) return;
        // The plain case without a lookup: most messages are nothing but text.
        if (!body.replyTo && !body.broadcast && !body.file) this.emit('message', { id, convId: conv, author, mine: false, seq, lamport, ts, text: body.text, state: 'delivered', overdue: false });
        else this.announceTouched([id], fresh);
      }
    });
    this.announceTouched(touched, fresh);
    for (const [link, ids] of acks) {
      for (let i = 0; i < ids.length; i += 1024) link.send({ t: 'ack', ids: ids.slice(i, i + 1024) });
    }
  }

  // ---- presentation --------------------------------------------------------------------

  /** Announces messages that crossed the delivery deadline since the previous sweep. */
  private checkOverdue(): void {
    const cutoff = Date.now() - this.timing.deliveryDeadlineMs;
    const rows = this.store.overdue(this.overdueSwept, cutoff, 2000);
    for (const row of rows) this.announce(row);
    // A full page resumes from its last enqueue time next sweep (a repeated event is harmless).
    this.overdueSwept = rows.length === 2000 ? rows.at(-1)!.createdAt : cutoff;
  }

  toInfo(row: MessageRow, stateOverride?: MessageState): MessageInfo {
    const mine = row.author === this.selfId;
    let state: MessageState = stateOverride ?? row.state;
    if (!stateOverride && mine && state === 'pending') {
      const peerId = this.peerOf(row.convId);
      if (peerId && this.linkStates.get(peerId)?.inflight.has(row.id)) state = 'sent';
    }
    const info: MessageInfo = {
      id: row.id,
      convId: row.convId,
      author: row.author,
      mine,
      seq: row.seq,
      lamport: row.lamport,
      ts: row.ts,
      text: row.text,
      state,
      // Not a 'stored' one: a relay holds it for a recipient who is online nowhere, so there is
      // nothing to retry, and canceling could not recall the sealed copy the recipient will
      // still receive. It stays 'stored' (and in the outbox) until the recipient acks it.
      overdue: mine && (state === 'pending' || state === 'sent') && Date.now() - row.createdAt > this.timing.deliveryDeadlineMs,
    };
    this.addRich(info, row);
    // A deleted message shows no attachment: the line stays, its content goes.
    const attachment = row.deleted ? undefined : this.files?.info(row.id);
    if (attachment) info.attachment = attachment;
    return info;
  }

  /** Replies, mentions, edits, deletion, reactions, broadcast mark (migration 0005). */
  private addRich(info: MessageInfo, row: MessageRow): void {
    if (row.replyTo) info.replyTo = this.replyRef(row.convId, row.replyTo);
    if (row.mentions) {
      const mentions = JSON.parse(row.mentions) as PeerId[];
      info.mentions = mentions;
      if (mentions.includes(this.selfId)) info.mentionsMe = true;
    }
    if (row.editedAt !== null) info.editedAt = row.editedAt;
    if (row.deleted) info.deleted = true;
    else if (row.reactions !== null) {
      info.reactions = reactionsOf(row.reactions).map((r) => ({ emoji: r.emoji, by: r.by, mine: r.by.includes(this.selfId) }));
    }
    if (row.broadcast) info.broadcast = true;
  }

  /** The quoted message as this node holds it; a message of another conversation is not shown here. */
  private replyRef(convId: string, id: string): ReplyRef {
    const t = this.store.getMessage(id);
    if (!t || t.convId !== convId || t.op !== null) return { id, author: null, excerpt: '' };
    if (t.deleted) return { id, author: t.author, excerpt: '', deleted: true };
    // A file sent without words is quoted by its name.
    return { id, author: t.author, excerpt: excerptOf(t.text || (this.files?.info(id)?.name ?? '')) };
  }

  private readonly convPeers = new Map<string, PeerId>();

  /** A conversation's peer never changes, so it is looked up once. */
  peerOf(convId: string): PeerId | undefined {
    let peer = this.convPeers.get(convId);
    if (!peer) {
      peer = this.store.getConversation(convId)?.peerId ?? undefined;
      if (peer) this.convPeers.set(convId, peer);
    }
    return peer;
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.flush();
    clearInterval(this.overdueTimer);
  }
}
