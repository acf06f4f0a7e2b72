// Keeps at most one verified link per peer, dials known peers with backoff, and accepts
// incoming links. Both sides may dial at once; each applies the same rule (keep the link
// whose dialer has the smaller peer ID) so both keep the same one without talking about it.
// Links through a relay tunnel are adopted too (adoptRelayed); a direct link always wins over
// a relayed one, and direct dialing goes on while a peer is only reachable through a relay.
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import type { Logger } from '../log.ts';
import type { Frame, FrameOf } from '../protocol/frames.ts';
import { parseAddress } from './address.ts';
import { Link, type HelloFields } from './link.ts';
import { createListener, dial, LinkError } from './tls.ts';
import type { Timing } from './timing.ts';

export { formatAddress, parseAddress } from './address.ts';

export const DEFAULT_PORT = 47_474;
/** Addresses kept per peer to dial, at most. */
const MAX_TARGET_ADDRESSES = 16;

export interface LinkManagerEvents {
  up: [link: Link, hello: FrameOf<'hello'>];
  down: [link: Link, reason: string];
  frame: [link: Link, frame: Frame];
  drain: [link: Link];
  /** Something at an address claimed a peer's ID and failed to prove it. */
  impostor: [peerId: PeerId, address: string, reason: string];
}

interface DialTarget {
  addresses: string[];
  /**
   * Addresses only the peer itself announced (Hello `addrs`), typically in a network of its
   * own: another node answering there is a neighbour reusing the same private range, not an
   * impostor, so it raises no warning.
   */
  announced: Set<string>;
  attempt: number;
  timer: NodeJS.Timeout | null;
  dialing: boolean;
}

export interface LinkManagerOptions {
  identity: Identity;
  timing: Timing;
  log: Logger;
  hello: () => HelloFields;
  /** Further ALPNs of the listener and their handlers (file streams: createListener). */
  protocols?: Readonly<Record<string, (socket: tls.TLSSocket, peerId: PeerId) => void>>;
}

export class LinkManager extends EventEmitter<LinkManagerEvents> {
  private readonly links = new Map<PeerId, Link>();
  private readonly targets = new Map<PeerId, DialTarget>();
  private readonly pendingLinks = new Set<Link>();
  private server: tls.Server | null = null;
  private stopped = false;
  port = 0;

  private readonly opts: LinkManagerOptions;

  constructor(opts: LinkManagerOptions) {
    super();
    this.opts = opts;
  }

  async listen(port = DEFAULT_PORT, host?: string): Promise<number> {
    const server = createListener({
      identity: this.opts.identity,
      handshakeTimeoutMs: this.opts.timing.handshakeTimeoutMs,
      onPeer: (socket, peerId) => this.adopt(socket, peerId, 'in'),
      onReject: (reason, remote) => this.opts.log.info({ remote, reason }, 'rejected incoming connection'),
      ...(this.opts.protocols ? { protocols: this.opts.protocols } : {}),
    });
    this.server = server;
    const tryListen = (p: number) =>
      new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(p, host, () => {
          server.off('error', onError);
          resolve((server.address() as { port: number }).port);
        });
      });
    try {
      this.port = await tryListen(port);
    } catch (err) {
      // The default port is a convenience (stable addresses for contacts), not a requirement.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw err;
      this.opts.log.info({ port }, 'preferred port busy; using a free one');
      this.port = await tryListen(0);
    }
    server.on('error', (err) => this.opts.log.error({ err: err.message }, 'listener error'));
    return this.port;
  }

  get(peerId: PeerId): Link | undefined {
    return this.links.get(peerId);
  }

  linkedPeers(): PeerId[] {
    return [...this.links.keys()];
  }

  /**
   * Remember where a peer may be and keep a link to it up from now on. `announced`: the
   * addresses come from the peer's own Hello, not from discovery or a person; they never
   * displace addresses from those sources.
   */
  addTarget(peerId: PeerId, addresses: string[], source: 'hint' | 'announced' = 'hint'): void {
    if (peerId === this.opts.identity.id || addresses.length === 0) return;
    const announced = source === 'announced';
    const t = this.targets.get(peerId);
    if (t) {
      if (!announced) for (const a of addresses) t.announced.delete(a);
      const fresh = addresses.filter((a) => !t.addresses.includes(a));
      if (fresh.length === 0) return;
      t.addresses = (announced ? [...t.addresses, ...fresh] : [...fresh, ...t.addresses]).slice(0, MAX_TARGET_ADDRESSES);
      for (const a of fresh) if (announced && t.addresses.includes(a)) t.announced.add(a);
      for (const a of t.announced) if (!t.addresses.includes(a)) t.announced.delete(a);
      // New addresses deserve an attempt now rather than at the end of a long backoff.
      if (fresh.some((a) => t.addresses.includes(a)) && !this.hasDirect(peerId) && !t.dialing) this.schedule(peerId, 0);
      return;
    }
    const kept = addresses.slice(0, MAX_TARGET_ADDRESSES);
    this.targets.set(peerId, { addresses: kept, announced: new Set(announced ? kept : []), attempt: 0, timer: null, dialing: false });
    if (!this.hasDirect(peerId)) this.schedule(peerId, 0);
  }

  /** Dial now, forgetting the backoff (the user pressed "retry"). */
  redialNow(peerId: PeerId): void {
    const t = this.targets.get(peerId);
    if (!t || this.hasDirect(peerId)) return;
    t.attempt = 0;
    if (!t.dialing) this.schedule(peerId, 0);
  }

  private schedule(peerId: PeerId, delayMs: number): void {
    const t = this.targets.get(peerId);
    if (!t || this.stopped) return;
    if (t.timer) clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      t.timer = null;
      void this.dialTarget(peerId);
    }, delayMs);
    t.timer.unref();
  }

  private backoff(attempt: number): number {
    const { redialMinMs, redialMaxMs } = this.opts.timing;
    const base = Math.min(redialMaxMs, redialMinMs * 2 ** Math.min(attempt, 16));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private async dialTarget(peerId: PeerId): Promise<void> {
    const t = this.targets.get(peerId);
    if (!t || t.dialing || this.stopped || this.hasDirect(peerId)) return;
    t.dialing = true;
    try {
      // All addresses in parallel: the first verified connection wins.
      const attempts = t.addresses.map(async (address) => {
        const { host, port } = parseAddress(address);
        try {
          return await dial({
            identity: this.opts.identity,
            host,
            port,
            expectedId: peerId,
            timeoutMs: this.opts.timing.handshakeTimeoutMs,
          });
        } catch (err) {
          if (err instanceof LinkError && err.code === 'wrong-peer' && !t.announced.has(address)) this.emit('impostor', peerId, address, err.message);
          throw err;
        }
      });
      const socket = await Promise.any(attempts);
      void Promise.allSettled(attempts).then((all) => {
        for (const r of all) if (r.status === 'fulfilled' && r.value !== socket) r.value.destroy();
      });
      // The peer's own dial may have come up meanwhile. Drop ours only if the duplicate rule
      // would drop it anyway (the peer has the smaller ID); otherwise let register() apply the
      // rule, as the peer does, so that both always keep the smaller ID's connection and a
      // half-finished connection of ours never races the peer's choice.
      if (this.stopped || (this.hasDirect(peerId) && !(this.opts.identity.id < peerId))) {
        socket.destroy();
        return;
      }
      await this.adoptAndWait(socket, peerId);
    } catch {
      // Unreachable right now; the backoff decides when to look again.
    } finally {
      t.dialing = false;
      if (!this.hasDirect(peerId) && !this.stopped) this.schedule(peerId, this.backoff(t.attempt++));
    }
  }

  private adoptAndWait(socket: tls.TLSSocket, peerId: PeerId): Promise<void> {
    return new Promise((resolve) => {
      const link = this.adopt(socket, peerId, 'out');
      link.once('up', () => resolve());
      link.once('close', () => resolve());
    });
  }

  /** True when the peer has a live link that does not go through a relay. */
  private hasDirect(peerId: PeerId): boolean {
    const link = this.links.get(peerId);
    return link !== undefined && !link.closed && link.kind === 'direct';
  }

  /**
   * Adopts a TLS socket that runs inside a relay tunnel and whose peer already proved `peerId`
   * in the handshake (main/core/relay/tunnel.ts). `direction` is 'out' for the side that asked
   * the relay for the tunnel (TLS client), 'in' for the other, so the duplicate rule works as
   * for direct links.
   */
  adoptRelayed(socket: tls.TLSSocket, peerId: PeerId, direction: 'in' | 'out'): Link | null {
    if (this.stopped || peerId === this.opts.identity.id) {
      socket.destroy();
      return null;
    }
    return this.adopt(socket, peerId, direction, 'relay');
  }

  private adopt(socket: tls.TLSSocket, peerId: PeerId, direction: 'in' | 'out', kind: 'direct' | 'relay' = 'direct'): Link {
    if (this.stopped) socket.destroy();
    const link = new Link({ socket, peerId, direction, kind, hello: this.opts.hello(), timing: this.opts.timing, log: this.opts.log });
    this.pendingLinks.add(link);
    link.once('up', (hello) => {
      this.pendingLinks.delete(link);
      this.register(link, hello);
    });
    link.once('close', (reason) => {
      this.pendingLinks.delete(link);
      if (this.links.get(peerId) === link) {
        this.links.delete(peerId);
        this.opts.log.info({ peer: peerId.slice(0, 7), reason }, 'link down');
        this.emit('down', link, reason);
        const t = this.targets.get(peerId);
        if (t && !this.stopped) {
          t.attempt = 0;
          this.schedule(peerId, this.backoff(0) / 4);
        }
      }
    });
    return link;
  }

  private register(link: Link, hello: FrameOf<'hello'>): void {
    const existing = this.links.get(link.peerId);
    if (existing && !existing.closed) {
      const self = this.opts.identity.id;
      const dialer = (l: Link) => (l.direction === 'out' ? self : l.peerId);
      const preferred = self < link.peerId ? self : link.peerId;
      // A direct link beats a relayed one whichever came first; both sides see both kinds, so
      // they agree. Between equals: same dialer on both means the older one is a stale
      // connection the peer already replaced.
      const keepNew =
        existing.kind !== link.kind ? link.kind === 'direct' : dialer(existing) === dialer(link) || dialer(link) === preferred;
      if (!keepNew) {
        link.close('duplicate');
        return;
      }
      // The new link takes the slot first, so nobody sees the peer offline for an instant.
      this.links.set(link.peerId, link);
      existing.close('duplicate');
      this.emit('down', existing, 'replaced by a newer link');
    }
    this.links.set(link.peerId, link);
    const t = this.targets.get(link.peerId);
    // A relayed link leaves the direct redial running: a direct path may come back.
    if (t && link.kind === 'direct') {
      t.attempt = 0;
      if (t.timer) clearTimeout(t.timer);
      t.timer = null;
    }
    link.on('frame', (frame) => this.emit('frame', link, frame));
    link.on('drain', () => this.emit('drain', link));
    this.opts.log.info({ peer: link.peerId.slice(0, 7), dir: link.direction, kind: link.kind, remote: link.remoteAddress }, 'link up');
    // A profile change made while this link was still handshaking was broadcast to the links
    // that were up then, not to this one: catch the peer up now.
    const sent = link.sentHello;
    const now = this.opts.hello();
    if (sent.name !== now.name || sent.presence !== now.presence || sent.statusText !== now.statusText) {
      link.send({ t: 'presence', name: now.name, presence: now.presence, statusText: now.statusText });
    }
    this.emit('up', link, hello);
  }

  /** Sends to every linked peer (presence changes). */
  broadcast(frame: Frame): void {
    for (const link of this.links.values()) link.send(frame);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.targets.values()) if (t.timer) clearTimeout(t.timer);
    // Stop accepting first, or a peer redialing during shutdown keeps the server open forever.
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    const open = [...this.links.values(), ...this.pendingLinks];
    for (const link of open) link.close('shutting down');
    this.links.clear();
    // Goodbyes get a moment to leave; a peer that does not answer is cut off.
    const grace = setTimeout(() => open.forEach((l) => l.destroy('shutdown')), 500);
    await closed;
    clearTimeout(grace);
  }
}
