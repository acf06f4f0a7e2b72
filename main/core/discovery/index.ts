// LAN discovery: UDP beacons and mDNS feed one peer directory. Everything it reports is a
// hint for the link layer to dial; only a pinned TLS handshake proves who answered.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { LIMITS, PeerIdSchema, PresenceSchema, type PeerId } from '../../contract/contract.ts';
import { BeaconService, DEFAULT_BEACON_PORT, type BeaconStats } from './beacon.ts';
import {
  PeerDirectory,
  type CandidateEvent,
  type DirectoryStats,
  type DiscoveryWarning,
  type GoneEvent,
  type PeerCandidate,
} from './directory.ts';
import { chooseInterfaces, interfacesSignature, type ChosenInterface, type InterfaceSpec, type SkippedInterface } from './interfaces.ts';
import { MdnsService, type MdnsStats } from './mdns.ts';
import { silentLogger, type DiscoverySource, type LoggerLike, type SelfAnnouncement } from './types.ts';

export type { CandidateAddress, CandidateEvent, DiscoveryWarning, GoneEvent, PeerCandidate } from './directory.ts';
export type { DiscoverySource, LoggerLike, SelfAnnouncement } from './types.ts';
export { DEFAULT_BEACON_PORT } from './beacon.ts';

const SelfSchema = z.object({
  id: PeerIdSchema,
  name: z.string().trim().min(1).max(LIMITS.displayName),
  port: z.number().int().min(1).max(65535),
  presence: PresenceSchema,
  statusText: z.string().max(LIMITS.statusText),
});

export interface DiscoveryOptions {
  self: SelfAnnouncement;
  /** mDNS / DNS-SD publish and browse (default true). */
  mdns?: boolean;
  /** UDP beacons (default true). */
  beacon?: boolean;
  beaconPort?: number;
  /** 'auto' skips loopback and virtual adapters (docker*, veth*, virbr*, vmnet*, tun*, wg*, ...) unless named. */
  interfaces?: InterfaceSpec;
  log?: LoggerLike;
  /** How often os.networkInterfaces() is polled for changes (default 3000 ms). */
  interfacePollMs?: number;
  /** Overrides for tests and tuning. */
  expireAfterMs?: Partial<Record<DiscoverySource, number>>;
  hostname?: string;
  /** How long after start silence on an interface is reported as a hint (default 20 s). */
  quietAfterMs?: number;
}

export interface DiscoveryDiagnostics {
  self: { id: PeerId; name: string; port: number };
  startedAt: number;
  interfaces: { name: string; addresses: string[]; beacon: boolean; mdns: boolean }[];
  skippedInterfaces: SkippedInterface[];
  beacon: BeaconStats | null;
  mdns: MdnsStats | null;
  directory: DirectoryStats;
  /** Most recent first, across sources. */
  lastReceived: { source: DiscoverySource; address: string; id: PeerId; at: number }[];
  peers: PeerCandidate[];
  warnings: DiscoveryWarning[];
  /** Plain-language reasons why peers may be invisible. */
  hints: string[];
}

export interface DiscoveryEvents {
  candidate: [CandidateEvent];
  gone: [GoneEvent];
  warning: [DiscoveryWarning];
}


export class Discovery extends EventEmitter<DiscoveryEvents> {
  readonly #opts: DiscoveryOptions;
  readonly #log: LoggerLike;
  readonly #directory: PeerDirectory;
  readonly #beacon: BeaconService | null;
  readonly #mdns: MdnsService | null;
  readonly #startedAt = Date.now();
  #self: SelfAnnouncement;
  #spec: InterfaceSpec;
  #ifaces: ChosenInterface[];
  #skipped: SkippedInterface[];
  #signature: string;
  #timers: NodeJS.Timeout[] = [];
  #stopped: Promise<void> | null = null;

  /** Use startDiscovery(); the constructor binds nothing. */
  constructor(opts: DiscoveryOptions) {
    super();
    const self = SelfSchema.safeParse(opts.self);
    if (!self.success) {
      const issue = self.error.issues[0];
      throw new TypeError(`invalid discovery self: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
    }
    this.#opts = opts;
    this.#self = self.data;
    this.#log = opts.log ?? silentLogger;
    this.#spec = opts.interfaces ?? 'auto';
    const choice = chooseInterfaces(this.#spec);
    this.#ifaces = choice.chosen;
    this.#skipped = choice.skipped;
    this.#signature = interfacesSignature(choice.chosen);
    this.#directory = new PeerDirectory({ selfId: this.#self.id, expireAfterMs: opts.expireAfterMs });
    this.#directory.setLocalAddresses(localAddresses(this.#ifaces));
    this.#beacon =
      opts.beacon === false
        ? null
        : new BeaconService({ self: this.#self, interfaces: this.#ifaces, port: opts.beaconPort ?? DEFAULT_BEACON_PORT, log: this.#log });
    this.#mdns =
      opts.mdns === false ? null : new MdnsService({ self: this.#self, interfaces: this.#ifaces, hostname: opts.hostname, log: this.#log });

    this.#directory.on('candidate', (c) => {
      if (c.change === 'new') {
        this.#log.info({ peer: c.id.slice(0, 7), sources: c.sources, addresses: c.addresses.length }, 'peer discovered');
        // A newcomer learns about us at once instead of waiting for our next period.
        this.#beacon?.reply();
      }
      this.emit('candidate', c);
    });
    this.#directory.on('gone', (g) => {
      this.#log.info({ peer: g.id.slice(0, 7), reason: g.reason }, 'peer gone');
      this.emit('gone', g);
    });
    this.#directory.on('warning', (w) => {
      this.#log.warn({ peer: w.id.slice(0, 7), address: w.address, reason: w.reason }, 'discovery warning');
      this.emit('warning', w);
    });
    for (const source of [this.#beacon, this.#mdns]) {
      source?.on('sighting', (s) => this.#directory.sight(s));
      source?.on('goodbye', (g) => this.#directory.goodbye(g));
    }
  }

  async start(): Promise<void> {
    this.#log.info(
      { interfaces: this.#ifaces.map((i) => i.name), skipped: this.#skipped.map((s) => s.name), beacon: !!this.#beacon, mdns: !!this.#mdns },
      'discovery starting',
    );
    await this.#beacon?.start();
    this.#mdns?.start();
    const sweep = setInterval(() => this.#directory.sweep(), 1000);
    const poll = setInterval(() => void this.#pollInterfaces(), this.#opts.interfacePollMs ?? 3000);
    sweep.unref();
    poll.unref();
    this.#timers.push(sweep, poll);
  }

  /** Name, presence, status text or port changed: re-announce (mDNS republishes on name/port). */
  updateSelf(partial: Partial<Omit<SelfAnnouncement, 'id'>>): void {
    const next = SelfSchema.safeParse({ ...this.#self, ...partial, id: this.#self.id });
    if (!next.success) {
      const issue = next.error.issues[0];
      throw new TypeError(`invalid discovery self: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'schema'}`);
    }
    this.#self = next.data;
    this.#beacon?.updateSelf(this.#self);
    this.#mdns?.updateSelf(this.#self).catch((err: Error) => this.#log.warn({ err: err.message }, 'mdns republish failed'));
  }

  peers(): PeerCandidate[] {
    return this.#directory.list();
  }

  /** Announce and listen on other interfaces from now on (a settings change): rebinds at once. */
  setInterfaces(spec: InterfaceSpec): Promise<void> {
    this.#spec = spec;
    return this.#pollInterfaces();
  }

  diagnostics(): DiscoveryDiagnostics {
    const beacon = this.#beacon?.stats() ?? null;
    const mdns = this.#mdns?.stats() ?? null;
    const peers = this.#directory.list();
    const warnings = this.#directory.warnings();
    const lastReceived = [
      ...(beacon?.lastBySource.map((e) => ({ source: 'beacon' as const, ...e })) ?? []),
      ...(mdns?.lastBySource.map((e) => ({ source: 'mdns' as const, ...e })) ?? []),
    ].sort((a, b) => b.at - a.at);
    const mdnsIfaces = new Set(mdns?.instances.map((i) => i.iface) ?? []);
    return {
      self: { id: this.#self.id, name: this.#self.name, port: this.#self.port },
      startedAt: this.#startedAt,
      interfaces: this.#ifaces.map((i) => ({
        name: i.name,
        addresses: [...i.ipv4.map((a) => a.address), ...i.ipv6.map((a) => a.address)],
        beacon: !!this.#beacon,
        mdns: mdnsIfaces.has(i.name),
      })),
      skippedInterfaces: this.#skipped,
      beacon,
      mdns,
      directory: this.#directory.stats(),
      lastReceived,
      peers,
      warnings,
      hints: this.#hints(beacon, mdns, peers, warnings),
    };
  }

  /** Sends goodbyes over every enabled source and releases sockets and timers. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      this.#timers = [];
      // One source failing to say goodbye must not keep the other from closing.
      const results = await Promise.allSettled([this.#beacon?.stop(), this.#mdns?.stop()]);
      for (const r of results) if (r.status === 'rejected') this.#log.warn({ err: String(r.reason) }, 'discovery stop incomplete');
      this.#log.info({}, 'discovery stopped');
    })();
    return this.#stopped;
  }

  async #pollInterfaces(): Promise<void> {
    if (this.#stopped) return;
    const choice = chooseInterfaces(this.#spec);
    const signature = interfacesSignature(choice.chosen);
    this.#skipped = choice.skipped;
    if (signature === this.#signature) return;
    this.#signature = signature;
    this.#ifaces = choice.chosen;
    this.#directory.setLocalAddresses(localAddresses(this.#ifaces));
    this.#log.info({ interfaces: this.#ifaces.map((i) => i.name) }, 'network interfaces changed; rebinding discovery');
    try {
      await Promise.all([this.#beacon?.setInterfaces(this.#ifaces), this.#mdns?.setInterfaces(this.#ifaces)]);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'discovery rebind failed');
    }
  }

  #hints(beacon: BeaconStats | null, mdns: MdnsStats | null, peers: PeerCandidate[], warnings: DiscoveryWarning[]): string[] {
    const hints: string[] = [];
    const now = Date.now();
    const settled = now - this.#startedAt >= (this.#opts.quietAfterMs ?? 20_000);
    if (this.#ifaces.length === 0) hints.push('no usable network interface: this node cannot announce itself or see anyone');
    if (beacon) {
      if (beacon.error) hints.push(`beacons cannot be received: ${beacon.error}`);
      for (const iface of this.#ifaces) {
        const s = beacon.perInterface[iface.name];
        if (!s) continue;
        if (s.sendErrors > 0 && s.lastError) hints.push(`beacons fail to go out on ${iface.name}: ${s.lastError}`);
        if (settled && s.received === 0) {
          hints.push(
            `no beacons received on ${iface.name} for ${Math.round((now - this.#startedAt) / 1000)} s: no other Parley there, or a firewall or Wi-Fi AP isolation blocks UDP ${beacon.port}`,
          );
        }
      }
      if (beacon.dropped.rate > 0) hints.push(`${beacon.dropped.rate} beacons dropped by the rate limit: a device is flooding the network`);
    }
    if (mdns) {
      for (const inst of mdns.instances) if (inst.error) hints.push(`mDNS on ${inst.iface}: ${inst.error}`);
      if (mdns.dropped.excessive > 0) hints.push(`${mdns.dropped.excessive} mDNS responses dropped for carrying absurdly many records: a device is sending hostile DNS`);
    }
    const via = (s: DiscoverySource) => peers.filter((p) => p.sources.includes(s)).length;
    if (settled && beacon && mdns && via('mdns') > 0 && via('beacon') === 0) {
      hints.push(`peers answer mDNS but no beacons arrive: UDP ${beacon.port} is probably filtered`);
    }
    if (settled && beacon && mdns && via('beacon') > 0 && via('mdns') === 0) {
      hints.push('beacons arrive but mDNS finds nobody: multicast to 224.0.0.251:5353 is probably filtered');
    }
    if (warnings.length > 0) {
      hints.push(`${warnings.length} discovery warning(s): an ID was announced from an unexpected address; only a verified connection tells who is real`);
    }
    return hints;
  }
}

export async function startDiscovery(opts: DiscoveryOptions): Promise<Discovery> {
  const discovery = new Discovery(opts);
  await discovery.start();
  return discovery;
}

function localAddresses(list: ChosenInterface[]): string[] {
  return list.flatMap((i) => [...i.ipv4.map((a) => a.address), ...i.ipv6.map((a) => a.address)]);
}
