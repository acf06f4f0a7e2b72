// Reliable 1:1 delivery. The sender commits message + outbox entry before the first byte
// leaves; the receiver commits before it acks; unacked messages go out again, in outbox
// order, on every new link. Writes are group-committed: everything that arrives in one
// event-loop turn shares one transaction (one fsync), which is what makes durability cheap.
import { EventEmitter } from 'node:events';
import { monotonicFactory } from 'ulid';
import type { MessageInfo, MessageState, PeerId } from '../../contract/contract.ts';
import type { Link } from '../links/link.ts';
import type { LinkManager } from '../links/link-manager.ts';
import type { Timing } from '../links/timing.ts';
import type { Logger } from '../log.ts';
import type { FrameOf } from '../protocol/frames.ts';
import type { MessageRow, Store } from '../store/store.ts';

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
  read: [{ convId: string; peerId: PeerId; upTo: string }];
}

export class Messenger extends EventEmitter<MessengerEvents> {
  private readonly newId = monotonicFactory();
  private readonly linkStates = new Map<PeerId, LinkState>();
  private sendQueue: Array<{ convId: string; peerId: PeerId; text: string; resolve: (m: MessageInfo) => void; reject: (e: Error) => void }> = [];
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

  send(convId: string, peerId: PeerId, text: string): Promise<MessageInfo> {
    return new Promise((resolve, reject) => {
      this.sendQueue.push({ convId, peerId, text, resolve, reject });
      this.scheduleFlush();
    });
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
    const info = this.toInfo(row);
    this.emit('message', info);
    return info;
  }

  /** Writes what the outbox holds for this peer to its link, in order, within the window. */
  pump(peerId: PeerId): void {
    if (this.stopped) return;
    const state = this.linkStates.get(peerId);
    if (!state || state.link.closed) return;
    while (state.inflight.size < WINDOW && state.link.writable) {
      const rows = this.store.outbox(peerId, state.cursor, Math.min(2048, WINDOW - state.inflight.size));
      if (rows.length === 0) return;
      const sent: MessageInfo[] = [];
      for (const row of rows) {
        state.cursor = row.outboxRowid;
        state.inflight.add(row.id);
        state.link.send({ t: 'msg', id: row.id, conv: row.convId, author: row.author, seq: row.seq, lamport: row.lamport, ts: row.ts, body: { text: row.text } });
        if (row.state === 'pending') sent.push(this.toInfo(row, 'sent'));
      }
      for (const info of sent) this.emit('message', info);
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
      if (row && row.state === 'pending') this.emit('message', this.toInfo(row, 'pending'));
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
    if (changed) this.emit('message', this.toInfo(changed));
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
      this.emit('message', this.toInfo(row));
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
        const rows = this.store.insertOutgoing(
          sends.map((s) => ({ id: this.newId(), convId: s.convId, author: this.selfId, text: s.text, ts: Date.now(), peerId: s.peerId })),
        );
        rows.forEach((row, i) => {
          const info = this.toInfo(row);
          this.emit('message', info);
          sends[i]!.resolve(info);
        });
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
      for (const row of changed) this.emit('message', this.toInfo(row));
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
    let outcomes: Array<'stored' | 'duplicate' | 'conflict'>;
    try {
      outcomes = this.store.insertIncoming(incoming.map((i) => i.frame));
    } catch (err) {
      // Not acked: the sender keeps them and tries again on the next link.
      this.log.error({ err: (err as Error).message }, 'could not store incoming messages');
      for (const link of new Set(incoming.map((i) => i.link))) link.close('receiver storage failure');
      return;
    }
    // Committed (synchronous=FULL): only now may the sender forget them.
    const acks = new Map<Link, string[]>();
    incoming.forEach(({ link, frame }, i) => {
      const outcome = outcomes[i];
      if (outcome === 'conflict') {
        this.log.warn({ peer: link.peerId.slice(0, 7), msg: frame.id }, 'message ID reused with different content');
        link.send({ t: 'nack', id: frame.id, code: 'conflict' });
        return;
      }
      let list = acks.get(link);
      if (!list) acks.set(link, (list = []));
      list.push(frame.id);
      if (outcome === 'stored') {
        const { id, conv, author, seq, lamport, ts, body } = frame;
        this.emit('message', { id, convId: conv, author, mine: false, seq, lamport, ts, text: body.text, state: 'delivered', overdue: false });
      }
    });
    for (const [link, ids] of acks) {
      for (let i = 0; i < ids.length; i += 1024) link.send({ t: 'ack', ids: ids.slice(i, i + 1024) });
    }
  }

  // ---- presentation --------------------------------------------------------------------

  /** Announces messages that crossed the delivery deadline since the previous sweep. */
  private checkOverdue(): void {
    const cutoff = Date.now() - this.timing.deliveryDeadlineMs;
    const rows = this.store.overdue(this.overdueSwept, cutoff, 2000);
    for (const row of rows) this.emit('message', this.toInfo(row));
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
    return {
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
