// Wires one Parley node: identity, store, links, messenger, and the contract API.
// Runs unchanged inside Electron's main process, the headless CLI, web mode and tests,
// so nothing here (or below) may import Electron.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import os from 'node:os';
import { DisplayNameSchema, LIMITS, type DiagnosticsInfo, type Events, type RelayInfo, type ParleyApi, type PeerId, type PeerInfo, type Presence, type SelfInfo } from '../contract/contract.ts';
import { createApi } from './api.ts';
import { AutoAway } from './auto-away.ts';
import { chooseInterfaces } from './discovery/interfaces.ts';
import { startDiscovery, type Discovery, type PeerCandidate } from './discovery/index.ts';
import { formatRelayAddress, parseRelayAddress } from './relay/address.ts';
import { attachRelay, type RelayAttachment } from './relay/attach.ts';
import { loadOrCreateIdentity, type Identity } from './identity/identity.ts';
import { displayId, shortId } from './identity/peer-id.ts';
import { formatAddress } from './links/address.ts';
import { addressesToAnnounce, dialableAnnounced } from './links/announce.ts';
import { LinkManager, DEFAULT_PORT } from './links/link-manager.ts';
import { defaultTiming, type Timing } from './links/timing.ts';
import { createLogger, type Logger } from './log.ts';
import { Messenger } from './messaging/messenger.ts';
import { GroupService } from './groups/service.ts';
import { openStore, type PeerRow, type PeerTrust, type PeerUpdate, type Store } from './store/store.ts';
import type { Member } from './relay/frames.ts';
import { KeyChangeWatch } from './trust/key-change-watch.ts';
import { NodeSettings, type CoreSettings, type SettingsChange } from './settings.ts';
import type { Attachments } from './attachments/service.ts';
import { wireFiles } from './attachments/node-files.ts';
import { FILE_ALPN } from './files/stream-frames.ts';

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
  /**
   * LAN discovery (mDNS + UDP beacons); off with `false` (tests that wire peers by hand).
   * `interfaces` overrides the stored setting for this run.
   */
  discovery?: false | { mdns?: boolean; beacon?: boolean; beaconPort?: number; interfaces?: string[] | 'auto' };
  /** Overrides the stored setting for this run: "away" after this long without user activity (reportActivity); 0 = never. */
  autoAwayMs?: number;
  /** Overrides the stored relays for this run (`parley-relay://host:port/?id=…`, each with an optional token). */
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
  readonly groups: GroupService;
  /** Files in conversations (main/core/attachments). */
  readonly attachments: Attachments;
  readonly events = new EventEmitter<{ [K in keyof Events]: [Events[K]] }>();
  readonly api: ParleyApi;
  readonly dataDir: string;
  readonly instance = randomBytes(8).toString('hex');
  readonly log: Logger;
  private profile: { name: string; presence: Exclude<Presence, 'offline'>; statusText: string };
  private stopped = false;
  discovery: Discovery | null = null;
  /** Stored settings, with this run's command-line overrides. */
  readonly settings: NodeSettings;
  private readonly away: AutoAway;
  private readonly keyChanges: KeyChangeWatch;
  /** The last interface change still being applied to discovery. */
  private rebinding: Promise<void> = Promise.resolve();
  /** The address the listener is bound to (all interfaces when absent). */
  private readonly listenHost: string | undefined;

  private constructor(opts: NodeOptions, identity: Identity, store: Store, log: Logger) {
    this.dataDir = opts.dataDir;
    this.listenHost = opts.host;
    this.identity = identity;
    this.store = store;
    this.log = log;
    this.keyChanges = new KeyChangeWatch({ selfId: identity.id, store, log });
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
    const discoveryOpts = opts.discovery === false ? undefined : opts.discovery;
    this.settings = new NodeSettings(store, log, {
      autoAwayMs: opts.autoAwayMs,
      relays: opts.relays,
      interfaces: Array.isArray(discoveryOpts?.interfaces) ? discoveryOpts.interfaces : undefined,
    });
    this.away = new AutoAway(this.settings.current.autoAwayMs, {
      presence: () => this.profile.presence,
      setPresence: (presence) => void this.setProfile({ presence }, true),
    });
    this.links = new LinkManager({
      identity,
      timing,
      log,
      hello: () => {
        const addrs = this.announcedAddresses();
        return { id: identity.id, instance: this.instance, ...this.profile, ...(this.links?.port ? { port: this.links.port } : {}), ...(addrs.length ? { addrs } : {}) };
      },
      protocols: { [FILE_ALPN]: (socket, peerId) => this.attachments.files.handleIncoming(socket, peerId) },
    });
    this.messenger = new Messenger({ store, links: this.links, selfId: identity.id, timing, log });
    this.messenger.on('message', (m) => this.events.emit('message', m));
    this.messenger.on('changed', (m) => this.events.emit('messageChanged', m));
    this.messenger.on('read', (r) => this.events.emit('read', r));
    this.messenger.on('broadcast', (b) => this.events.emit('broadcast', b));
    this.groups = new GroupService({
      identity,
      store,
      links: this.links,
      log: log.child({ part: 'groups' }),
      toInfo: (row) => this.messenger.toInfo(row),
      selfName: () => this.profile.name,
      events: {
        message: (m) => this.events.emit('message', m),
        changed: (m) => this.events.emit('messageChanged', m),
        conversation: (c) => this.events.emit('conversation', c),
        warning: (w) => this.events.emit('groupWarning', w),
        hidden: (h) => this.events.emit('messagesHidden', h),
      },
    });
    this.links.on('up', (link, hello) => {
      this.updatePeer({ id: link.peerId, name: hello.name, presence: hello.presence, statusText: hello.statusText, lastSeen: Date.now() });
      // An incoming link's source port is ephemeral; its Hello names the port to dial back.
      const address = link.direction === 'out' ? link.remoteAddress : hello.port ? formatAddress(link.remoteHost, hello.port) : undefined;
      // Remembered for the next start; while this link lives, the peer's own redialing suffices.
      // A relayed link's addresses are the relay's, which would answer a direct dial falsely.
      if (link.kind === 'direct') this.rememberAddress(link.peerId, address);
      // A relayed peer's own word on where it listens is the only way to find a direct path
      // (the relay's directory has no addresses); LinkManager keeps trying them while relayed.
      // In memory only: they are claims, not addresses that have worked.
      else if (hello.addrs?.length) {
        const own = localAddresses().map((a) => formatAddress(a, this.links.port));
        const addrs = dialableAnnounced(hello.addrs, own);
        if (addrs.length) this.links.addTarget(link.peerId, addrs, 'announced');
      }
      // So a message can be sealed to this peer for a relay's mailbox even when no relay knows
      // it (the store keeps only a certificate whose key hashes to the peer ID).
      const cert = link.peerCertificate();
      if (cert) this.store.setPeerCertificate(link.peerId, cert);
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
      this.updatePeer({ id: link.peerId, name: frame.name, presence: frame.presence, statusText: frame.statusText, lastSeen: Date.now() });
      this.emitPeer(link.peerId);
    });
    this.links.on('impostor', (peerId, address, reason) => {
      this.log.warn({ peer: peerId.slice(0, 7), address, reason }, 'address did not prove the expected ID');
      this.warnings.set(peerId, `${address} claimed to be this peer but could not prove it`);
      this.emitPeer(peerId);
    });
    this.attachments = wireFiles(this);
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
      await node.links.listen(opts.port ?? DEFAULT_PORT, opts.host);
      await node.attachments.start();
      const settings = node.settings.current;
      if (opts.discovery !== false) await node.startDiscovery({ ...opts.discovery, interfaces: settings.interfaces.length ? settings.interfaces : 'auto' });
      for (const r of settings.relays) node.attachRelay(r.address, r.token);
    } catch (err) {
      await node!?.attachments.close().catch(() => undefined);
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
      this.keyChanges.noteCandidate(c);
      if (!this.links.get(c.id)) this.emitPeer(c.id);
    });
    d.on('gone', (g) => {
      // Forgotten by discovery, so is a flag on an unproven candidate (it is re-evaluated if it comes back).
      this.keyChanges.forgetCandidate(g.id);
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
  private attachRelay(address: string, token: string | null): RelayAttachment {
    parseRelayAddress(address);
    const a = attachRelay(this, { address, token, log: this.log.child({ part: 'relay' }) });
    a.on('status', () => this.events.emit('relay', this.relayInfo()));
    a.on('directory', () => this.events.emit('relay', this.relayInfo()));
    this.relays.push(a);
    return a;
  }

  /** Drops a relay connection; its members are no longer reachable through it. */
  private detachRelay(a: RelayAttachment): void {
    this.relays.splice(this.relays.indexOf(a), 1);
    const members = a.directory.map((m) => m.id);
    void a
      .stop()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'relay did not stop cleanly'))
      .finally(() => {
        if (this.stopped) return;
        for (const id of members) if (id !== this.identity.id) this.emitPeer(id);
      });
  }

  /** Attaches to a relay and keeps it in the settings; the same address again replaces its token. */
  addRelay(address: string, token?: string): void {
    const relays = this.settings.current.relays.map((r) => ({ address: r.address }));
    const normalised = formatRelayAddress(parseRelayAddress(address));
    this.updateSettings({ relays: [...relays.filter((r) => r.address !== normalised), { address, token: token ?? null }] });
  }

  /**
   * Stores a settings change and applies it now: relays attach or detach, discovery moves to
   * the chosen interfaces (settingsApplied() tells when), the auto-away timer restarts.
   * Throws SettingsError, changing nothing, for a refused value.
   */
  updateSettings(update: unknown): SettingsChange {
    const change = this.settings.update(update);
    this.applySettings(change.before, change.after);
    if (change.changed.length || change.overrideEnded) this.events.emit('settings', this.settings.view());
    return change;
  }

  /** Resolves once discovery runs on the interfaces last chosen. */
  settingsApplied(): Promise<void> {
    return this.rebinding;
  }

  private applySettings(before: CoreSettings, after: CoreSettings): void {
    // Stored for the next start; nothing may attach or rebind on a node that is shutting down.
    if (this.stopped) return;
    if (before.autoAwayMs !== after.autoAwayMs) this.away.setAfter(after.autoAwayMs);
    const same = (a: { address: string; token: string | null }, b: { address: string; token: string | null }) => a.address === b.address && a.token === b.token;
    const gone = before.relays.filter((r) => !after.relays.some((n) => same(r, n)));
    const added = after.relays.filter((r) => !before.relays.some((o) => same(r, o)));
    for (const r of gone) {
      const a = this.relays.find((x) => x.status.address === r.address);
      if (a) this.detachRelay(a);
    }
    for (const r of added) this.attachRelay(r.address, r.token);
    if (gone.length || added.length) this.events.emit('relay', this.relayInfo());
    if (this.discovery && before.interfaces.join('\n') !== after.interfaces.join('\n')) {
      const d = this.discovery;
      const spec = after.interfaces.length ? after.interfaces : ('auto' as const);
      this.rebinding = this.rebinding.then(() => d.setInterfaces(spec)).catch((err: Error) => this.log.warn({ err: err.message }, 'discovery could not move to the chosen interfaces'));
    }
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

  /** The host reports how long the user has been idle; see auto-away.ts. */
  reportActivity(idleMs: number): SelfInfo {
    this.away.report(idleMs);
    return this.self;
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
    if (!automatic && change.presence !== undefined) this.away.chosenByPerson();
    if (change.name !== undefined) this.profile.name = change.name;
    if (change.presence !== undefined) this.profile.presence = change.presence;
    if (change.statusText !== undefined) this.profile.statusText = change.statusText;
    this.store.setMeta('profile.name', this.profile.name);
    // An automatic "away" is not kept: the next start is with the presence the person chose.
    if (!automatic) this.store.setMeta('profile.presence', this.profile.presence);
    this.store.setMeta('profile.statusText', this.profile.statusText);
    this.links.broadcast({ t: 'presence', ...this.profile });
    this.discovery?.updateSelf(this.profile);
    const self = this.self;
    this.events.emit('self', self);
    return self;
  }

  /** Where peers may dial this node directly, for Hellos (see links/announce.ts). */
  private announcedAddresses(): string[] {
    if (!this.links?.port) return [];
    try {
      return addressesToAnnounce({ port: this.links.port, host: this.listenHost, interfaces: this.settings.current.interfaces });
    } catch (err) {
      // Only a hint for peers: a failure to list interfaces must not stop a link.
      this.log.warn({ err: (err as Error).message }, 'could not list addresses to announce');
      return [];
    }
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
        skippedInterfaces: d?.skippedInterfaces ?? this.interfacesWithoutDiscovery(),
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

  /** With discovery off, every interface is "skipped", still named so that settings can list them. */
  private interfacesWithoutDiscovery(): Array<{ name: string; reason: string }> {
    const choice = chooseInterfaces('auto');
    return [...choice.chosen.map((i) => ({ name: i.name, reason: 'discovery is off' })), ...choice.skipped].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Verified contacts from the store, plus peers discovery has seen but no link has proven yet. */
  listPeers(): PeerInfo[] {
    const rows = this.store.listPeers().filter((p) => p.id !== this.identity.id);
    const known = new Set(rows.map((r) => r.id));
    const candidates = this.discovery?.peers() ?? [];
    const lan = new Set(candidates.map((c) => c.id));
    const trust = this.store.allPeerTrust();
    const infos = rows.map((r) => this.peerInfo(r, lan, trust.get(r.id)));
    for (const c of candidates) {
      if (known.has(c.id)) continue;
      known.add(c.id);
      infos.push(this.candidateInfo(c));
    }
    // Members of the same relay: the other office, reachable through a tunnel on first message.
    for (const r of this.relays) {
      for (const m of r.directory) {
        if (known.has(m.id) || m.id === this.identity.id) continue;
        known.add(m.id);
        infos.push({
          id: m.id,
          displayId: displayId(m.id),
          shortId: shortId(m.id),
          name: m.name,
          presence: m.presence,
          statusText: '',
          link: null,
          addresses: [],
          lastSeen: Date.now(),
          warning: null,
          seenVia: 'relay',
          verified: false,
          keyChange: null,
        });
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
      seenVia: 'lan',
      verified: false,
      keyChange: this.keyChanges.candidateKeyChange(c.id),
    };
  }

  /** `lan` and `trust` let listPeers look these up once for all rows. */
  peerInfo(row: PeerRow, lan?: ReadonlySet<PeerId>, trust?: PeerTrust): PeerInfo {
    const link = this.links.get(row.id);
    const onLan = lan ? lan.has(row.id) : (this.discovery?.peers().some((c) => c.id === row.id) ?? false);
    const member = this.relayMember(row.id);
    const t = trust ?? this.store.peerTrust(row.id);
    return {
      id: row.id,
      displayId: displayId(row.id),
      shortId: shortId(row.id),
      name: row.name || shortId(row.id),
      // Without a link, a relay's directory is the one source that knows the peer is there:
      // the relay checked its key when it joined.
      presence: link ? row.presence : (member?.presence ?? 'offline'),
      statusText: row.statusText,
      link: link ? link.kind : null,
      addresses: row.addresses,
      lastSeen: row.lastSeen,
      warning: this.warnings.get(row.id) ?? null,
      seenVia: onLan ? 'lan' : member ? 'relay' : null,
      verified: t?.verified ?? false,
      keyChange: t?.keyChange ?? null,
    };
  }

  private relayMember(peerId: PeerId): Member | undefined {
    for (const r of this.relays) {
      const m = r.client.member(peerId);
      if (m) return m;
    }
    return undefined;
  }

  /** Tells the UI hosts what is known about this peer now (stored or a discovery candidate). */
  emitPeer(peerId: PeerId): void {
    const row = this.store.getPeer(peerId);
    if (row) return void this.events.emit('peer', this.peerInfo(row));
    const c = this.discovery?.peers().find((p) => p.id === peerId);
    if (c) this.events.emit('peer', this.candidateInfo(c));
  }

  // ---- trust: verified IDs and the key-change rule (trust/key-change-watch.ts) -------------

  /** Stores what a peer says about itself, through the key-change rule. */
  updatePeer(p: PeerUpdate): PeerRow {
    return this.keyChanges.upsertPeer(p);
  }

  /** The person compared this peer's ID out of band (or takes that back). Null for an unknown peer. */
  setVerified(peerId: PeerId, verified: boolean): PeerInfo | null {
    if (!this.store.getPeer(peerId)) {
      const name = this.discovery?.peers().find((c) => c.id === peerId)?.name ?? this.relayMember(peerId)?.name;
      if (name === undefined) return null;
      if (!verified) return this.listPeers().find((p) => p.id === peerId) ?? null;
      // Vouched for by the person: worth remembering even before a link proves it.
      this.store.upsertPeer({ id: peerId, name });
      this.keyChanges.forgetCandidate(peerId);
    }
    this.store.setVerified(peerId, verified);
    this.log.info({ peer: peerId.slice(0, 7), verified }, 'peer verification changed');
    const info = this.peerInfo(this.store.getPeer(peerId)!);
    this.events.emit('peer', info);
    return info;
  }

  /** Hides a key-change warning without verifying. Null for an unknown peer. */
  dismissKeyChange(peerId: PeerId): PeerInfo | null {
    const row = this.store.getPeer(peerId);
    if (row) this.store.setKeyChange(peerId, null);
    else this.keyChanges.dismissCandidate(peerId);
    const info = row ? this.peerInfo(row) : this.listPeers().find((p) => p.id === peerId);
    if (!info) return null;
    this.log.info({ peer: peerId.slice(0, 7) }, 'key-change warning dismissed');
    this.events.emit('peer', info);
    return info;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.away.stop();
    this.messenger.stop();
    this.groups.stop();
    // Goodbyes first, so peers show us offline at once rather than after a timeout.
    await this.discovery?.stop().catch(() => undefined);
    await this.attachments.close().catch(() => undefined);
    await Promise.all(this.relays.map((r) => r.stop().catch(() => undefined)));
    await this.links.stop();
    this.store.close();
    this.log.info('node stopped');
  }
}

export function startNode(opts: NodeOptions): Promise<ParleyNode> {
  return ParleyNode.start(opts);
}
