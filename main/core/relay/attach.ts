// Connects a running ParleyNode to a relay: the relay's directory becomes a source of peers,
// peers we need to talk to and cannot reach directly get a tunnel (a Link of kind 'relay'),
// and messages for peers who are offline go to the relay's mailbox.
//
// When a tunnel is wanted: the peer is in the relay's directory (online), we have no live link
// to it, and we have something to say (outbox entries), a conversation with it, or a group in
// common. Invitations from the relay are accepted from any member unless a direct link is
// already up (then only for a file stream, parley-file/1: the peer may be unable to dial us).
// Direct dialing continues underneath (LinkManager), and a direct link replaces the relayed
// one. File streams are tunnels of their own (fileTunnel), never links.
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import { formatAddress } from '../links/address.ts';
import type { Link } from '../links/link.ts';
import type { Logger } from '../log.ts';
import { FILE_ALPN } from '../files/stream-frames.ts';
import { ALPN } from '../protocol/frames.ts';
import type { ParleyNode } from '../node.ts';
import { defaultRelayClientTiming, RelayClient, type RelayClientTiming, type RelayStatus } from './client.ts';
import type { Member, RelayFrameOf } from './frames.ts';
import { MailboxClient, type MailboxStats } from './mailbox-client.ts';

export interface RelayAttachOptions {
  /** parley-relay://host:port/?id=… */
  address: string;
  token?: string | null | undefined;
  timing?: Partial<RelayClientTiming> | undefined;
  /** How often wanted tunnels and pending deposits are re-checked (events also trigger it). */
  checkEveryMs?: number | undefined;
  /** Tunnel request backoff. */
  tunnelRetryMinMs?: number | undefined;
  tunnelRetryMaxMs?: number | undefined;
  /** Offline mailbox on (default) or off. */
  mailbox?: boolean | undefined;
  log?: Logger | undefined;
}

export interface RelayAttachEvents {
  status: [status: RelayStatus];
  directory: [members: Member[]];
}

interface TunnelState {
  /** Asked the relay for a tunnel and waiting for the invitation. */
  requested: boolean;
  /** Tunnels to this peer being set up right now. */
  opening: number;
  attempt: number;
  notBefore: number;
}

/** At most this many tunnels being set up at once (each is a TLS handshake). */
const MAX_TUNNELS_IN_PROGRESS = 16;

export class RelayAttachment extends EventEmitter<RelayAttachEvents> {
  readonly client: RelayClient;
  readonly mailbox: MailboxClient | null;
  readonly tunnelStats = { requested: 0, opened: 0, failed: 0, accepted: 0 };
  private readonly node: ParleyNode;
  private readonly log: Logger;
  private readonly tunnels = new Map<PeerId, TunnelState>();
  private lastDirectory = new Map<PeerId, Member>();
  private inProgress = 0;
  private readonly timer: NodeJS.Timeout;
  private checkScheduled = false;
  private stopped = false;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly pairWaitMs: number;
  private readonly detach: Array<() => void> = [];
  /**
   * What each of my tunnel requests to a peer was for, oldest first: the relay answers every
   * `connect` with one invite or connectFailed, in order, and neither says which request it
   * answers. A file request holds its waiter.
   */
  private readonly asked = new Map<PeerId, Array<'chat' | FileWaiter>>();

  constructor(node: ParleyNode, opts: RelayAttachOptions) {
    super();
    this.node = node;
    this.log = (opts.log ?? node.log).child({ part: 'relay' });
    this.retryMin = opts.tunnelRetryMinMs ?? 500;
    this.retryMax = opts.tunnelRetryMaxMs ?? 30_000;
    this.client = new RelayClient({
      address: opts.address,
      identity: node.identity,
      token: opts.token,
      profile: () => ({ name: node.self.name, presence: node.self.presence }),
      timing: opts.timing,
      log: this.log,
    });
    const timing = { ...defaultRelayClientTiming, ...opts.timing };
    this.pairWaitMs = timing.requestTimeoutMs + timing.pairTimeoutMs;
    this.mailbox = opts.mailbox === false ? null : new MailboxClient({ node, client: this.client, log: this.log });

    this.client.on('status', (s) => {
      this.emit('status', s);
      // Requests made on a control connection that is gone are answered by nobody.
      if (s.state !== 'connected') this.forgetRequests('the relay connection was lost');
      if (s.state === 'connected') this.scheduleCheck();
    });
    this.client.on('directory', (members) => this.onDirectory(members));
    this.client.on('invite', (inv) => this.onInvite(inv));
    this.client.on('connectFailed', (peer, reason) => {
      const asked = this.asked.get(peer)?.shift();
      if (asked && asked !== 'chat') return asked.reject(new Error(`relay: ${reason}`));
      const st = this.tunnels.get(peer);
      if (!st?.requested) return;
      st.requested = false;
      this.failed(st, `relay: ${reason}`);
    });
    this.client.on('mail', (items) => this.mailbox?.receive(items));

    const onDown = () => this.scheduleCheck();
    const onMessage = (m: { mine: boolean; state: string }) => {
      if (m.mine && m.state === 'pending') this.scheduleCheck();
    };
    const onSelf = () => this.client.updateProfile();
    // A group created, joined or grown may bring members only the relay reaches.
    const onConversation = () => this.scheduleCheck();
    node.links.on('down', onDown);
    node.events.on('message', onMessage);
    node.events.on('self', onSelf);
    node.events.on('conversation', onConversation);
    this.detach.push(
      () => node.links.off('down', onDown),
      () => node.events.off('message', onMessage),
      () => node.events.off('self', onSelf),
      () => node.events.off('conversation', onConversation),
    );
    this.timer = setInterval(() => this.check(), opts.checkEveryMs ?? 5000);
    this.timer.unref();
    this.client.start();
  }

  get status(): RelayStatus {
    return this.client.status;
  }

  get directory(): Member[] {
    return this.client.directory();
  }

  get mailboxStats(): MailboxStats | null {
    return this.mailbox?.stats ?? null;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.forgetRequests('stopped');
    for (const d of this.detach) d();
    await this.client.stop();
  }

  // ---- directory -----------------------------------------------------------------------

  private onDirectory(members: Member[]): void {
    const store = this.node.store;
    const previous = this.lastDirectory;
    this.lastDirectory = new Map(members.map((m) => [m.id, m]));
    for (const m of members) {
      const before = previous.get(m.id);
      if (before && before.name === m.name && before.presence === m.presence) continue;
      // The relay's directory is a source of peers like discovery: names only, never trust.
      const known = store.getPeer(m.id);
      if (!known || known.name !== m.name) {
        // Through the node: a new member may carry a known contact's name (the key-change rule).
        const row = this.node.updatePeer({ id: m.id, name: m.name, ...(this.node.links.get(m.id) ? {} : { presence: m.presence }) });
        this.node.events.emit('peer', this.node.peerInfo(row));
      } else this.node.emitPeer(m.id); // its presence, or that it is reachable through the relay again
    }
    // Left the relay: no longer reachable through it (the UI moves it out of "via relay").
    for (const id of previous.keys()) if (!this.lastDirectory.has(id)) this.node.emitPeer(id);
    this.emit('directory', members);
    this.scheduleCheck();
  }

  // ---- tunnels -------------------------------------------------------------------------

  private wantsTunnel(peerId: PeerId): boolean {
    const link = this.node.links.get(peerId);
    if (link && !link.closed) return false;
    if (!this.client.member(peerId)) return false;
    const store = this.node.store;
    return (
      store.outboxCount(peerId) > 0 ||
      store.getConversation(store.directConversationId(this.node.identity.id, peerId)) !== undefined ||
      // A fellow group member reachable only here: without a tunnel, nothing of the group flows between us.
      this.node.groups.sharesGroupWith(peerId)
    );
  }

  private state(peerId: PeerId): TunnelState {
    let st = this.tunnels.get(peerId);
    if (!st) this.tunnels.set(peerId, (st = { requested: false, opening: 0, attempt: 0, notBefore: 0 }));
    return st;
  }

  private scheduleCheck(): void {
    if (this.checkScheduled || this.stopped) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      this.check();
    });
  }

  private check(): void {
    if (this.stopped || !this.client.connected) return;
    const now = Date.now();
    for (const m of this.client.directory()) {
      if (this.inProgress >= MAX_TUNNELS_IN_PROGRESS) break;
      if (!this.wantsTunnel(m.id)) continue;
      const st = this.state(m.id);
      if (st.requested || st.opening > 0 || st.notBefore > now) continue;
      this.request(m.id, st);
    }
    if (this.mailbox) {
      for (const peer of this.node.store.outboxPeers()) {
        if (this.client.member(peer)) continue; // online: it gets a tunnel instead
        const link = this.node.links.get(peer);
        if (link && !link.closed) continue;
        void this.mailbox.depositFor(peer);
      }
    }
  }

  private request(peerId: PeerId, st: TunnelState): void {
    if (!this.client.requestTunnel(peerId)) return;
    this.askedOf(peerId).push('chat');
    st.requested = true;
    this.tunnelStats.requested++;
    const attempt = st.attempt;
    // If the relay never answers (a lost invitation), this attempt ends eventually.
    setTimeout(() => {
      if (st.requested && st.attempt === attempt) {
        st.requested = false;
        this.failed(st, 'no invitation in time');
      }
    }, this.pairWaitMs).unref();
  }

  /** A parley-file/1 stream to `peerId` through this relay (I am the TLS client). */
  fileTunnel(peerId: PeerId): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      if (this.stopped || !this.client.requestTunnel(peerId)) return reject(new Error('the relay is not connected'));
      this.askedOf(peerId).push({ resolve, reject });
    });
  }

  private askedOf(peerId: PeerId): Array<'chat' | FileWaiter> {
    let q = this.asked.get(peerId);
    if (!q) this.asked.set(peerId, (q = []));
    return q;
  }

  private forgetRequests(why: string): void {
    for (const q of this.asked.values()) for (const a of q) if (a !== 'chat') a.reject(new Error(why));
    this.asked.clear();
  }

  private onInvite(inv: RelayFrameOf<'invite'>): void {
    if (this.stopped) return;
    const peer = inv.peer;
    const existing = this.node.links.get(peer);
    const st = this.state(peer);
    const direct = existing !== undefined && !existing.closed && existing.kind === 'direct';
    if (!inv.server) {
      const asked = this.asked.get(peer)?.shift();
      if (asked && asked !== 'chat') {
        this.client.openTunnel(inv, { alpn: FILE_ALPN }).then(asked.resolve, asked.reject);
        return;
      }
    }
    // The answer to my own request (I am the TLS client of the tunnels I ask for).
    if (!inv.server && st.requested) st.requested = false;
    // A peer with a direct link may still need a file stream through the relay (it cannot
    // dial me): as TLS server I then accept parley-file/1 only.
    if (direct && !inv.server) return;
    if (direct) {
      this.client.openTunnel(inv, { protocols: [FILE_ALPN] }).then(
        (socket) => (this.stopped ? socket.destroy() : this.node.attachments.files.handleIncoming(socket, peer)),
        (err: Error) => this.log.info({ peer: peer.slice(0, 7), err: err.message }, 'file tunnel failed'),
      );
      return;
    }
    if (this.inProgress >= MAX_TUNNELS_IN_PROGRESS) return;
    if (inv.server) this.tunnelStats.accepted++;
    st.opening++;
    this.inProgress++;
    let settled = false;
    const settle = (ok: boolean, why: string) => {
      if (settled) return;
      settled = true;
      st.opening--;
      this.inProgress--;
      if (ok) {
        st.attempt = 0;
        st.notBefore = 0;
        this.scheduleCheck();
      } else this.failed(st, why);
    };
    this.client.openTunnel(inv, inv.server ? { protocols: [ALPN, FILE_ALPN] } : {}).then(
      (socket) => {
        if (this.stopped) {
          socket.destroy();
          return settle(false, 'stopped');
        }
        // The requester asked for a file stream: not a link.
        if (socket.alpnProtocol === FILE_ALPN) {
          this.node.attachments.files.handleIncoming(socket, peer);
          return settle(true, 'file stream');
        }
        const link = this.node.links.adoptRelayed(socket, peer, inv.server ? 'in' : 'out');
        if (!link) return settle(false, 'link manager refused the tunnel');
        this.tunnelStats.opened++;
        link.once('up', () => settle(true, 'up'));
        link.once('close', (reason) => {
          if (settled) {
            // Was up, went down: ask again soon, but not in a tight loop with a flapping relay.
            st.notBefore = Date.now() + this.backoff(0);
            this.scheduleCheck();
          } else settle(false, reason);
        });
      },
      (err: Error) => {
        this.log.info({ peer: peer.slice(0, 7), err: err.message }, 'tunnel failed');
        settle(false, err.message);
      },
    );
  }

  private failed(st: TunnelState, why: string): void {
    this.tunnelStats.failed++;
    st.notBefore = Date.now() + this.backoff(st.attempt++);
    this.log.debug({ why }, 'tunnel attempt failed');
    this.scheduleCheck();
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retryMax, this.retryMin * 2 ** Math.min(attempt, 16));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }
}

interface FileWaiter {
  resolve: (socket: tls.TLSSocket) => void;
  reject: (err: Error) => void;
}

export function attachRelay(node: ParleyNode, opts: RelayAttachOptions): RelayAttachment {
  return new RelayAttachment(node, opts);
}
