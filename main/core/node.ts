// Wires one Parley node: identity, store, links, messenger, and the contract API.
// Runs unchanged inside Electron's main process, the headless CLI, web mode and tests,
// so nothing here (or below) may import Electron.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import os from 'node:os';
import { DisplayNameSchema, LIMITS, type DiagnosticsInfo, type Events, type RelayInfo, type ParleyApi, type PeerId, type PeerInfo, type Presence, type SelfInfo } from '../contract/contract.ts';
import { createApi } from './api.ts';
import { startDiscovery, type Discovery, type PeerCandidate } from './discovery/index.ts';
import { parseRelayAddress } from './relay/address.ts';
import { attachRelay, type RelayAttachment } from './relay/attach.ts';
import { loadOrCreateIdentity, type Identity } from './identity/identity.ts';
import { displayId, shortId } from './identity/peer-id.ts';
import { formatAddress } from './links/address.ts';
import { LinkManager, DEFAULT_PORT } from './links/link-manager.ts';
import { defaultTiming, type Timing } from './links/timing.ts';
import { createLogger, type Logger } from './log.ts';
import { Messenger } from './messaging/messenger.ts';
import { openStore, type PeerRow, type Store } from './store/store.ts';

export interface NodeOptions {
  dataDir: string;
  /** Display name; required on first start, remembered afterwards. */
  name?: string;
  /** Listening port; the default is tried first, then any free port. 0 = any. */
  port?: number;
  /** Address to listen on (all interfaces when absent). */
  host?: string;
  timing?: Partial<Timing>;
  log?: Logger;
  /** LAN discovery (mDNS + UDP beacons); off with `false` (tests that wire peers by hand). */
  discovery?: false | { mdns?: boolean; beacon?: boolean; beaconPort?: number; interfaces?: string[] | 'auto' };
  /** Switch to "away" after this long without user activity (reportActivity); 0 = never. */
  autoAwayMs?: number;
  /** Relays to stay connected to (`parley-relay://host:port/?id=…`), each with an optional token. */
  relays?: Array<{ address: string; token?: string | undefined }>;
}

/** The UI re-sends "typing" while the user keeps typing; silence this long means stopped. */
const TYPING_EXPIRES_MS = 6000;

function localAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !a.address.startsWith('fe80'))
    .map((a) => a!.address);
}

export class ParleyNode {
  readonly identity: Identity;
  readonly store: Store;
  readonly links: LinkManager;
  readonly messenger: Messenger;
  readonly events = new EventEmitter<{ [K in keyof Events]: [Events[K]] }>();
  readonly api: ParleyApi;
  readonly dataDir: string;
  readonly instance = randomBytes(8).toString('hex');
  readonly log: Logger;
  private profile: { name: string; presence: Exclude<Presence, 'offline'>; statusText: string };
  private stopped = false;
  discovery: Discovery | null = null;
  /** Set while "away" was chosen by the idle timer rather than by the user. */
  private autoAway = false;
  private autoAwayMs = 0;

  private constructor(opts: NodeOptions, identity: Identity, store: Store, log: Logger) {
    this.dataDir = opts.dataDir;
    this.identity = identity;
    this.store = store;
    this.log = log;
    const timing = { ...defaultTiming, ...opts.timing };
    const storedName = store.getMeta('profile.name');
    let name = storedName;
    if (opts.name !== undefined) {
      const parsed = DisplayNameSchema.safeParse(opts.name);
      if (!parsed.success) throw new Error(`invalid display name: ${parsed.error.issues[0]?.message ?? 'rejected'} (1-${LIMITS.displayName} characters)`);
      name = parsed.data;
    }
    if (!name) throw new Error('a display name is needed on first start (--name)');
    if (name !== storedName) store.setMeta('profile.name', name);
    this.profile = {
      name,
      presence: (store.getMeta('profile.presence') as 'online' | 'away' | 'busy' | undefined) ?? 'online',
      statusText: store.getMeta('profile.statusText') ?? '',
    };
    this.links = new LinkManager({
      identity,
      timing,
      log,
      hello: () => ({ id: identity.id, instance: this.instance, ...this.profile, ...(this.links?.port ? { port: this.links.port } : {}) }),
    });
    this.messenger = new Messenger({ store, links: this.links, selfId: identity.id, timing, log });
    this.messenger.on('message', (m) => this.events.emit('message', m));
    this.messenger.on('read', (r) => this.events.emit('read', r));
    this.links.on('up', (link, hello) => {
      this.store.upsertPeer({ id: link.peerId, name: hello.name, presence: hello.presence, statusText: hello.statusText, lastSeen: Date.now() });
      // An incoming link's source port is ephemeral; its Hello names the port to dial back.
      const address = link.direction === 'out' ? link.remoteAddress : hello.port ? formatAddress(link.remoteHost, hello.port) : undefined;
      // Remembered for the next start; while this link lives, the peer's own redialing suffices.
      // A relayed link's addresses are the relay's, which would answer a direct dial falsely.
      if (link.kind === 'direct') this.rememberAddress(link.peerId, address);
      this.emitPeer(link.peerId);
    });
    this.links.on('down', (link, reason) => {
      if (this.stopped) return;
      const convId = this.store.directConversationId(this.identity.id, link.peerId);
      if (this.typingTimers.has(`${convId}/${link.peerId}`)) this.onTyping(link.peerId, convId, false);
      this.store.upsertPeer({ id: link.peerId, lastSeen: Date.now() });
      // The peer closed this link as the duplicate of one that is still coming up here: give
      // it a moment rather than show the peer offline for an instant.
      if (/duplicate/.test(reason)) {
        setTimeout(() => {
          if (!this.stopped && !this.links.get(link.peerId)) this.emitPeer(link.peerId);
        }, 1000).unref();
      } else this.emitPeer(link.peerId);
    });
    this.links.on('frame', (link, frame) => {
      if (frame.t === 'typing') return this.onTyping(link.peerId, frame.conv, frame.active);
      if (frame.t !== 'presence') return;
      this.store.upsertPeer({ id: link.peerId, name: frame.name, presence: frame.presence, statusText: frame.statusText, lastSeen: Date.now() });
      this.emitPeer(link.peerId);
    });
    this.links.on('impostor', (peerId, address, reason) => {
      this.log.warn({ peer: peerId.slice(0, 7), address, reason }, 'address did not prove the expected ID');
      this.warnings.set(peerId, `${address} claimed to be this peer but could not prove it`);
      this.emitPeer(peerId);
    });
    this.api = createApi(this);
  }

  /** A "typing" that is never followed by "stopped" (peer crashed, link cut) expires. */
  private readonly typingTimers = new Map<string, NodeJS.Timeout>();

  private onTyping(peerId: PeerId, convId: string, typing: boolean): void {
    if (convId !== this.store.directConversationId(this.identity.id, peerId)) return;
    const key = `${convId}/${peerId}`;
    clearTimeout(this.typingTimers.get(key));
    this.typingTimers.delete(key);
    if (typing) {
      const timer = setTimeout(() => {
        this.typingTimers.delete(key);
        this.events.emit('typing', { convId, peerId, typing: false });
      }, TYPING_EXPIRES_MS);
      timer.unref();
      this.typingTimers.set(key, timer);
    }
    this.events.emit('typing', { convId, peerId, typing });
  }

  /** Impostor warnings per peer, shown in the UI. */
  readonly warnings = new Map<PeerId, string>();

  static async start(opts: NodeOptions): Promise<ParleyNode> {
    const log = opts.log ?? createLogger('parley');
    const identity = loadOrCreateIdentity(opts.dataDir);
    const store = openStore(path.join(opts.dataDir, 'parley.db'));
    let node: ParleyNode;
    try {
      node = new ParleyNode(opts, identity, store, log);
      node.autoAwayMs = opts.autoAwayMs ?? Number(store.getMeta('profile.autoAwayMs') ?? 0);
      await node.links.listen(opts.port ?? DEFAULT_PORT, opts.host);
      if (opts.discovery !== false) await node.startDiscovery(opts.discovery ?? {});
      for (const r of opts.relays ?? []) node.addRelay(r.address, r.token);
    } catch (err) {
      await node!?.links.stop().catch(() => undefined);
      store.close();
      throw err;
    }
    // Reconnect to everyone we know, in particular those we still owe messages.
    for (const peer of store.listPeers()) node.links.addTarget(peer.id, peer.addresses);
    log.info({ id: identity.id.slice(0, 7), port: node.links.port }, 'node started');
    return node;
  }

  private async startDiscovery(opts: Exclude<NodeOptions['discovery'], false | undefined>): Promise<void> {
    const d = await startDiscovery({
      ...opts,
      self: { id: this.identity.id, port: this.links.port, ...this.profile },
      log: this.log.child({ part: 'discovery' }),
    });
    this.discovery = d;
    d.on('candidate', (c) => {
      // Only a hint: the link layer dials every address and TLS pinning decides who answered.
      const addresses = c.addresses.map((a) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
      this.links.addTarget(c.id, addresses);
      if (!this.links.get(c.id)) this.emitPeer(c.id);
    });
    d.on('gone', (g) => {
      if (!this.links.get(g.id)) this.emitPeer(g.id);
    });
    d.on('warning', (w) => {
      this.log.warn({ peer: w.id.slice(0, 7), address: w.address, reason: w.reason }, 'discovery warning');
      this.warnings.set(w.id, w.message);
      this.emitPeer(w.id);
    });
  }

  readonly relays: RelayAttachment[] = [];

  /** Connects to a relay and keeps that connection; LAN chat does not depend on it. */
  addRelay(address: string, token?: string): RelayAttachment {
    parseRelayAddress(address);
    const a = attachRelay(this, { address, token: token ?? null, log: this.log.child({ part: 'relay' }) });
    a.on('status', () => this.events.emit('relay', this.relayInfo()));
    a.on('directory', () => this.events.emit('relay', this.relayInfo()));
    this.relays.push(a);
    return a;
  }

  relayInfo(): RelayInfo[] {
    return this.relays.map((r) => ({
      address: r.status.address,
      state: r.status.state,
      detail: r.status.detail,
      retryAt: r.status.retryAt,
      members: r.directory.filter((m) => m.id !== this.identity.id).map((m) => ({ id: m.id, name: m.name, presence: m.presence })),
    }));
  }

  /** The UI reports user activity; after autoAwayMs without any, "online" becomes "away". */
  reportActivity(idleMs: number): SelfInfo {
    if (this.autoAwayMs > 0) {
      if (idleMs >= this.autoAwayMs && this.profile.presence === 'online') {
        this.autoAway = true;
        return this.setProfile({ presence: 'away' }, true);
      }
      if (idleMs < this.autoAwayMs && this.autoAway) {
        this.autoAway = false;
        return this.setProfile({ presence: 'online' }, true);
      }
    }
    return this.self;
  }

  setAutoAway(ms: number): void {
    this.autoAwayMs = ms;
    this.store.setMeta('profile.autoAwayMs', String(ms));
  }

  get self(): SelfInfo {
    return {
      id: this.identity.id,
      displayId: displayId(this.identity.id),
      shortId: shortId(this.identity.id),
      name: this.profile.name,
      presence: this.profile.presence,
      statusText: this.profile.statusText,
      port: this.links.port,
      addresses: localAddresses().map((a) => formatAddress(a, this.links.port)),
      dataDir: this.dataDir,
    };
  }

  setProfile(change: { name?: string | undefined; presence?: Exclude<Presence, 'offline'> | undefined; statusText?: string | undefined }, automatic = false): SelfInfo {
    if (!automatic && change.presence !== undefined) this.autoAway = false;
    if (change.name !== undefined) this.profile.name = change.name;
    if (change.presence !== undefined) this.profile.presence = change.presence;
    if (change.statusText !== undefined) this.profile.statusText = change.statusText;
    this.store.setMeta('profile.name', this.profile.name);
    this.store.setMeta('profile.presence', this.profile.presence);
    this.store.setMeta('profile.statusText', this.profile.statusText);
    this.links.broadcast({ t: 'presence', ...this.profile });
    this.discovery?.updateSelf(this.profile);
    const self = this.self;
    this.events.emit('self', self);
    return self;
  }

  /** A peer we were told about (by hand, discovery or relay): remember it and link to it. */
  addCandidate(peerId: PeerId, addresses: string[]): void {
    if (peerId === this.identity.id) return;
    const known = this.store.getPeer(peerId);
    const merged = [...new Set([...addresses, ...(known?.addresses ?? [])])].slice(0, 16);
    this.store.upsertPeer({ id: peerId, addresses: merged });
    this.links.addTarget(peerId, addresses);
  }

  private rememberAddress(peerId: PeerId, address: string | undefined): void {
    if (!address) return;
    const known = this.store.getPeer(peerId);
    if (known?.addresses[0] === address) return;
    this.store.upsertPeer({ id: peerId, addresses: [address, ...(known?.addresses ?? []).filter((a) => a !== address)] });
  }

  diagnostics(): DiagnosticsInfo {
    const d = this.discovery?.diagnostics();
    return {
      self: { id: this.identity.id, port: this.links.port, addresses: localAddresses() },
      discovery: {
        enabled: d !== undefined,
        interfaces: d?.interfaces ?? [],
        skippedInterfaces: d?.skippedInterfaces ?? [],
        beacon: d?.beacon
          ? { sent: d.beacon.sent, received: d.beacon.received, accepted: d.beacon.accepted, dropped: Object.values(d.beacon.dropped).reduce((a, b) => a + b, 0) }
          : null,
        mdns: d?.mdns ? { received: d.mdns.responsesReceived, sent: d.mdns.responsesSent } : null,
        warnings: d?.warnings.map((w) => ({ id: w.id, address: w.address, message: w.message, at: w.at })) ?? [],
        hints: d?.hints ?? ['discovery is off: peers can only be added by address'],
      },
      links: this.links.linkedPeers().map((id) => {
        const l = this.links.get(id)!;
        return { peerId: id, kind: l.kind, direction: l.direction, remote: l.remoteAddress };
      }),
    };
  }

  /** Verified contacts from the store, plus peers discovery has seen but no link has proven yet. */
  listPeers(): PeerInfo[] {
    const rows = this.store.listPeers().filter((p) => p.id !== this.identity.id);
    const known = new Set(rows.map((r) => r.id));
    const infos = rows.map((r) => this.peerInfo(r));
    for (const c of this.discovery?.peers() ?? []) {
      if (known.has(c.id)) continue;
      known.add(c.id);
      infos.push(this.candidateInfo(c));
    }
    // Members of the same relay: the other office, reachable through a tunnel on first message.
    for (const r of this.relays) {
      for (const m of r.directory) {
        if (known.has(m.id) || m.id === this.identity.id) continue;
        known.add(m.id);
        infos.push({ id: m.id, displayId: displayId(m.id), shortId: shortId(m.id), name: m.name, presence: m.presence, statusText: '', link: null, addresses: [], lastSeen: Date.now(), warning: null });
      }
    }
    return infos;
  }

  private candidateInfo(c: PeerCandidate): PeerInfo {
    return {
      id: c.id,
      displayId: displayId(c.id),
      shortId: shortId(c.id),
      name: c.name || shortId(c.id),
      // Not proven yet: shown, but not as reachable.
      presence: 'offline',
      statusText: c.statusText ?? '',
      link: null,
      addresses: c.addresses.map((a) => `${a.address}:${a.port}`),
      lastSeen: c.lastSeen,
      warning: this.warnings.get(c.id) ?? c.warning,
    };
  }

  peerInfo(row: PeerRow): PeerInfo {
    const link = this.links.get(row.id);
    return {
      id: row.id,
      displayId: displayId(row.id),
      shortId: shortId(row.id),
      name: row.name || shortId(row.id),
      presence: link ? row.presence : 'offline',
      statusText: row.statusText,
      link: link ? link.kind : null,
      addresses: row.addresses,
      lastSeen: row.lastSeen,
      warning: this.warnings.get(row.id) ?? null,
    };
  }

  private emitPeer(peerId: PeerId): void {
    const row = this.store.getPeer(peerId);
    if (row) return void this.events.emit('peer', this.peerInfo(row));
    const c = this.discovery?.peers().find((p) => p.id === peerId);
    if (c) this.events.emit('peer', this.candidateInfo(c));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.messenger.stop();
    // Goodbyes first, so peers show us offline at once rather than after a timeout.
    await this.discovery?.stop().catch(() => undefined);
    await Promise.all(this.relays.map((r) => r.stop().catch(() => undefined)));
    await this.links.stop();
    this.store.close();
    this.log.info('node stopped');
  }
}

export function startNode(opts: NodeOptions): Promise<ParleyNode> {
  return ParleyNode.start(opts);
}
