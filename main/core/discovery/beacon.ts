// UDP beacons for networks that filter mDNS, after Syncthing's local discovery v4 and
// LocalSend's start-up burst. Each chosen interface gets its directed IPv4 broadcast, an
// IPv4 multicast group (TTL 1) and an IPv6 ff12:: group (hop limit 1): whichever one the
// network lets through is enough. Receiving is paranoid and cheap: rate limit per source
// before decoding, drop anything odd silently, and count it for the diagnostics view.
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { PeerId } from '../../contract/contract.ts';
import { decodeBeacon, encodeBeacon, MAX_CLAIMED_ADDRESSES, type BeaconDropReason, type BeaconPayload } from './beacon-packet.ts';
import {
  interfaceForAddress,
  isLinkLocal6,
  isLoopback,
  isMulticastOrBroadcast,
  isUnspecified,
  normalizeAddress,
  unmapIpv4,
  zoneFor,
  zoneForSender,
  type ChosenInterface,
} from './interfaces.ts';
import { SourceRateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { silentLogger, type GoodbyeNotice, type LoggerLike, type SelfAnnouncement, type Sighting } from './types.ts';

export const DEFAULT_BEACON_PORT = 47800;
export const BEACON_GROUP4 = '239.255.77.77';
export const BEACON_GROUP6 = 'ff12::5052:4c59';

export interface BeaconOptions {
  self: SelfAnnouncement;
  interfaces: ChosenInterface[];
  port?: number;
  group4?: string;
  group6?: string;
  /** Delays of the start-up burst (LocalSend: 100, 500, 2000 ms after the first). */
  burstMs?: number[];
  /** Steady-state period per interface, uniformly jittered between min and max. */
  intervalMs?: { min: number; max: number };
  /** Minimum gap between reply beacons triggered by newcomers. */
  replyGapMs?: number;
  rate?: Partial<RateLimitOptions>;
  log?: LoggerLike;
}

export type BeaconDrop = BeaconDropReason | 'own' | 'loopback' | 'rate';

export interface BeaconInterfaceStats {
  sent: number;
  sendErrors: number;
  received: number;
  lastReceivedAt: number | null;
  lastError: string | null;
}

export interface BeaconStats {
  port: number;
  /** Whether the receive sockets are bound (IPv4, IPv6). */
  bound: { ipv4: boolean; ipv6: boolean };
  error: string | null;
  startedAt: number;
  sent: number;
  received: number;
  accepted: number;
  dropped: Record<BeaconDrop, number>;
  perInterface: Record<string, BeaconInterfaceStats>;
  /** Most recent first. */
  lastBySource: { address: string; id: PeerId; at: number }[];
}

export interface BeaconEvents {
  sighting: [Sighting];
  goodbye: [GoodbyeNotice];
}

const MAX_KNOWN = 1024;
const MAX_LAST_BY_SOURCE = 64;

export class BeaconService extends EventEmitter<BeaconEvents> {
  readonly instance = randomBytes(9).toString('base64url');
  readonly #port: number;
  readonly #group4: string;
  readonly #group6: string;
  readonly #burst: number[];
  readonly #interval: { min: number; max: number };
  readonly #replyGap: number;
  readonly #limiter: SourceRateLimiter;
  readonly #log: LoggerLike;
  #self: SelfAnnouncement;
  #ifaces: ChosenInterface[];
  #recv4: Socket | null = null;
  #recv6: Socket | null = null;
  #send4 = new Map<string, Socket>();
  #timers = new Set<NodeJS.Timeout>();
  #replyTimer: NodeJS.Timeout | null = null;
  #lastReplyAt = -Infinity;
  #known = new Map<PeerId, string>();
  #running = false;
  // start/setInterfaces/stop run one at a time, so a stop during a rebind cannot leave sockets open.
  #queue: Promise<void> = Promise.resolve();
  readonly #stats: BeaconStats;

  constructor(opts: BeaconOptions) {
    super();
    this.#self = opts.self;
    this.#ifaces = opts.interfaces;
    this.#port = opts.port ?? DEFAULT_BEACON_PORT;
    this.#group4 = opts.group4 ?? BEACON_GROUP4;
    this.#group6 = opts.group6 ?? BEACON_GROUP6;
    this.#burst = opts.burstMs ?? [0, 100, 500, 2000];
    this.#interval = opts.intervalMs ?? { min: 5000, max: 5500 };
    this.#replyGap = opts.replyGapMs ?? 1000;
    this.#limiter = new SourceRateLimiter({ perSecond: 10, burst: 20, maxSources: 4096, ...opts.rate });
    this.#log = opts.log ?? silentLogger;
    this.#stats = {
      port: this.#port,
      bound: { ipv4: false, ipv6: false },
      error: null,
      startedAt: Date.now(),
      sent: 0,
      received: 0,
      accepted: 0,
      dropped: { oversize: 0, magic: 0, version: 0, malformed: 0, own: 0, loopback: 0, rate: 0 },
      perInterface: {},
      lastBySource: [],
    };
  }

  start(): Promise<void> {
    return this.#serial(async () => {
      if (this.#running) return;
      this.#running = true;
      this.#stats.startedAt = Date.now();
      await this.#open();
      this.#scheduleBursts();
    });
  }

  /** Rebinds to a new interface set and announces again at once. */
  setInterfaces(list: ChosenInterface[]): Promise<void> {
    return this.#serial(async () => {
      this.#ifaces = list;
      if (!this.#running) return;
      this.#clearTimers();
      await this.#close();
      await this.#open();
      this.#scheduleBursts();
    });
  }

  updateSelf(self: SelfAnnouncement): void {
    this.#self = self;
    this.reply();
  }

  /** An extra beacon soon, at most one per replyGapMs however often it is asked for. */
  reply(): void {
    if (!this.#running || this.#replyTimer) return;
    const wait = Math.max(0, this.#lastReplyAt + this.#replyGap - Date.now()) + randomInt(0, 50);
    this.#replyTimer = setTimeout(() => {
      this.#replyTimer = null;
      this.#lastReplyAt = Date.now();
      for (const iface of this.#ifaces) void this.#sendOn(iface, 'hello');
    }, wait);
  }

  /** Says goodbye on every interface (twice, against loss) and closes the sockets. */
  stop(): Promise<void> {
    return this.#serial(async () => {
      if (!this.#running) return;
      this.#running = false;
      this.#clearTimers();
      await Promise.all(this.#ifaces.map((i) => this.#sendOn(i, 'bye')));
      await delay(50);
      await Promise.all(this.#ifaces.map((i) => this.#sendOn(i, 'bye')));
      await this.#close();
    });
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(fn, fn);
    return this.#queue;
  }

  stats(): BeaconStats {
    return structuredClone(this.#stats);
  }

  // ---- sockets -------------------------------------------------------------------------

  async #open(): Promise<void> {
    this.#stats.error = null;
    for (const iface of this.#ifaces) {
      this.#stats.perInterface[iface.name] ??= { sent: 0, sendErrors: 0, received: 0, lastReceivedAt: null, lastError: null };
    }
    const want4 = this.#ifaces.some((i) => i.ipv4.length > 0);
    const want6 = this.#ifaces.some((i) => i.ipv6.length > 0);
    if (want4) this.#recv4 = await this.#bindReceiver('udp4');
    if (want6) this.#recv6 = await this.#bindReceiver('udp6');
    this.#stats.bound = { ipv4: this.#recv4 !== null, ipv6: this.#recv6 !== null };
    for (const iface of this.#ifaces) {
      const first = iface.ipv4[0];
      if (this.#recv4 && first) this.#tryJoin(this.#recv4, this.#group4, first.address, iface.name);
      if (this.#recv6 && iface.ipv6.length > 0) this.#tryJoin(this.#recv6, this.#group6, `::%${zoneFor(iface)}`, iface.name);
      if (first) {
        const s = await this.#bindSender(first.address, iface.name);
        if (s) this.#send4.set(iface.name, s);
      }
    }
  }

  async #bindReceiver(type: 'udp4' | 'udp6'): Promise<Socket | null> {
    const socket = createSocket({ type, reuseAddr: true, ipv6Only: type === 'udp6' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: this.#port, address: type === 'udp4' ? '0.0.0.0' : '::', exclusive: false }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#stats.error = `cannot bind UDP ${this.#port} (${type}): ${(err as Error).message}`;
      this.#log.warn({ port: this.#port, type, err: (err as Error).message }, 'beacon receiver not bound');
      socket.close();
      return null;
    }
    socket.on('error', (err) => this.#log.warn({ type, err: err.message }, 'beacon socket error'));
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    if (type === 'udp6') {
      socket.setMulticastTTL(1);
      socket.setMulticastLoopback(true);
    }
    return socket;
  }

  async #bindSender(address: string, name: string): Promise<Socket | null> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address, port: 0 }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.setBroadcast(true);
      socket.setMulticastTTL(1);
      socket.setMulticastLoopback(true);
      socket.setMulticastInterface(address);
    } catch (err) {
      this.#ifaceStats(name).lastError = (err as Error).message;
      this.#log.warn({ iface: name, err: (err as Error).message }, 'beacon sender not bound');
      socket.close();
      return null;
    }
    socket.on('error', (err) => {
      this.#ifaceStats(name).lastError = err.message;
    });
    return socket;
  }

  #tryJoin(socket: Socket, group: string, ifaceAddr: string, name: string): void {
    try {
      socket.addMembership(group, ifaceAddr);
    } catch (err) {
      this.#ifaceStats(name).lastError = `join ${group}: ${(err as Error).message}`;
      this.#log.warn({ iface: name, group, err: (err as Error).message }, 'multicast join failed');
    }
  }

  async #close(): Promise<void> {
    const sockets = [this.#recv4, this.#recv6, ...this.#send4.values()].filter((s): s is Socket => s !== null);
    this.#recv4 = null;
    this.#recv6 = null;
    this.#send4 = new Map();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  // ---- sending -------------------------------------------------------------------------

  #scheduleBursts(): void {
    for (const iface of this.#ifaces) {
      for (const ms of this.#burst) this.#after(ms, () => void this.#sendOn(iface, 'hello'));
      const last = Math.max(0, ...this.#burst);
      const tick = () => {
        void this.#sendOn(iface, 'hello');
        this.#after(randomInt(this.#interval.min, this.#interval.max + 1), tick);
      };
      this.#after(last + randomInt(this.#interval.min, this.#interval.max + 1), tick);
    }
  }

  #after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#replyTimer) clearTimeout(this.#replyTimer);
    this.#replyTimer = null;
  }

  #payload(t: BeaconPayload['t']): Buffer {
    const addresses: string[] = [];
    for (const i of this.#ifaces) for (const a of i.ipv4) addresses.push(a.address);
    for (const i of this.#ifaces) for (const a of i.ipv6) if (a.linkLocal) addresses.push(normalizeAddress(a.address));
    for (const i of this.#ifaces) for (const a of i.ipv6) if (!a.linkLocal) addresses.push(normalizeAddress(a.address));
    return encodeBeacon({
      t,
      id: this.#self.id,
      instance: this.instance,
      port: this.#self.port,
      name: this.#self.name,
      presence: this.#self.presence,
      statusText: this.#self.statusText,
      addresses: [...new Set(addresses)].slice(0, MAX_CLAIMED_ADDRESSES),
    });
  }

  async #sendOn(iface: ChosenInterface, t: BeaconPayload['t']): Promise<void> {
    let packet: Buffer;
    try {
      packet = this.#payload(t);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'cannot encode own beacon');
      return;
    }
    const sends: Promise<void>[] = [];
    const s4 = this.#send4.get(iface.name);
    if (s4) {
      const targets = new Set(iface.ipv4.map((a) => a.broadcast ?? '255.255.255.255'));
      targets.add(this.#group4);
      for (const to of targets) sends.push(this.#send(s4, packet, to, iface.name));
    }
    if (this.#recv6 && iface.ipv6.length > 0) sends.push(this.#send(this.#recv6, packet, `${this.#group6}%${zoneFor(iface)}`, iface.name));
    if (sends.length > 0) {
      this.#stats.sent++;
      this.#ifaceStats(iface.name).sent++;
    }
    await Promise.all(sends);
  }

  #send(socket: Socket, packet: Buffer, to: string, name: string): Promise<void> {
    return new Promise((resolve) => {
      try {
        socket.send(packet, this.#port, to, (err) => {
          if (err) this.#sendFailed(name, to, err);
          resolve();
        });
      } catch (err) {
        this.#sendFailed(name, to, err as Error);
        resolve();
      }
    });
  }

  #sendFailed(name: string, to: string, err: Error): void {
    const s = this.#ifaceStats(name);
    s.sendErrors++;
    s.lastError = `send to ${to}: ${err.message}`;
    this.#log.debug({ iface: name, to, err: err.message }, 'beacon send failed');
  }

  // ---- receiving -----------------------------------------------------------------------

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const now = Date.now();
    this.#stats.received++;
    const from = unmapIpv4(rinfo.address);
    if (isLoopback(from) || isUnspecified(from)) {
      this.#stats.dropped.loopback++;
      return;
    }
    if (!this.#limiter.allow(normalizeAddress(from), now)) {
      this.#stats.dropped.rate++;
      return;
    }
    const result = decodeBeacon(msg);
    if (!result.ok) {
      this.#stats.dropped[result.reason]++;
      return;
    }
    const b = result.beacon;
    if (b.id === this.#self.id && b.instance === this.instance) {
      this.#stats.dropped.own++;
      return;
    }
    // Our ID with another instance goes on to the directory, which warns about it.
    this.#stats.accepted++;
    const iface = interfaceForAddress(this.#ifaces, from);
    if (iface) {
      const s = this.#ifaceStats(iface);
      s.received++;
      s.lastReceivedAt = now;
    }
    this.#noteSource(from, b.id, now);
    if (b.t === 'bye') {
      this.#known.delete(b.id);
      this.emit('goodbye', { source: 'beacon', id: b.id, from, instance: b.instance });
      return;
    }
    if (this.#known.get(b.id) !== b.instance) {
      if (this.#known.size >= MAX_KNOWN) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(b.id, b.instance);
      this.reply();
    }
    this.emit('sighting', {
      source: 'beacon',
      id: b.id,
      from,
      port: b.port,
      claimed: claimedAddresses(b.addresses ?? [], from, zoneForSender(this.#ifaces, from)),
      hints: { name: b.name, presence: b.presence, statusText: b.statusText },
      instance: b.instance,
    });
  }

  #noteSource(address: string, id: PeerId, at: number): void {
    const list = this.#stats.lastBySource;
    const i = list.findIndex((e) => e.address === address);
    if (i >= 0) list.splice(i, 1);
    list.unshift({ address, id, at });
    if (list.length > MAX_LAST_BY_SOURCE) list.length = MAX_LAST_BY_SOURCE;
  }

  #ifaceStats(name: string): BeaconInterfaceStats {
    return (this.#stats.perInterface[name] ??= { sent: 0, sendErrors: 0, received: 0, lastReceivedAt: null, lastError: null });
  }
}

/**
 * The addresses an announcer lists, minus ones nobody could dial. Link-local IPv6 needs a
 * zone to be dialled: that of the interface the packet arrived on, or the address is dropped.
 */
export function claimedAddresses(list: string[], from: string, zone: string | null): string[] {
  const seen = new Set([normalizeAddress(from)]);
  const out: string[] = [];
  for (const a of list) {
    const key = normalizeAddress(a);
    if (seen.has(key) || isLoopback(a) || isUnspecified(a) || isMulticastOrBroadcast(a)) continue;
    seen.add(key);
    if (isLinkLocal6(key)) {
      if (zone) out.push(`${key}%${zone}`);
    } else {
      out.push(key);
    }
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
