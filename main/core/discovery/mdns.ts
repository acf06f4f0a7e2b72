// mDNS / DNS-SD through bonjour-service 1.4, with its known sharp edges filed off
// (design notes §3): one responder per interface because multicast-dns sends on only one;
// an instance name that embeds the short ID so it cannot collide (bonjour-service does
// not rename on conflict); static TXT; an explicit '<hostname>.local' SRV target so avahi
// and Apple's resolvers can resolve it; our own error handler (the default throws); our
// own periodic queries and last-seen tracking (its browser queries once); and goodbyes via
// unpublishAll(cb) before destroy().
import { Bonjour, type Browser, type Service } from 'bonjour-service';
import { EventEmitter } from 'node:events';
import { hostname as osHostname } from 'node:os';
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { LIMITS, PeerIdSchema, type PeerId } from '../../contract/contract.ts';
import { MAX_CLAIMED_ADDRESSES } from './beacon-packet.ts';
import { claimedAddresses } from './beacon.ts';
import { interfaceForAddress, normalizeAddress, unmapIpv4, zoneForSender, type ChosenInterface } from './interfaces.ts';
import { silentLogger, type GoodbyeNotice, type LoggerLike, type SelfAnnouncement, type Sighting } from './types.ts';

export const SERVICE_TYPE = 'parley';
export const SERVICE_PROTOCOL = 'tcp';
const TYPE_NAME = `_${SERVICE_TYPE}._${SERVICE_PROTOCOL}.local`;
const TXT_VERSION = '1';

export const TxtSchema = z.object({
  v: z.literal(TXT_VERSION),
  id: PeerIdSchema,
  port: z.string().regex(/^\d{1,5}$/).optional(),
});

export interface MdnsOptions {
  self: SelfAnnouncement;
  interfaces: ChosenInterface[];
  /** Defaults to os.hostname(); the SRV target becomes '<hostname>.local'. */
  hostname?: string;
  queryIntervalMs?: { min: number; max: number };
  maxServices?: number;
  log?: LoggerLike;
}

export interface MdnsInstanceStats {
  iface: string;
  address: string;
  published: boolean;
  error: string | null;
}

export interface MdnsStats {
  instanceName: string;
  host: string;
  instances: MdnsInstanceStats[];
  queriesSent: number;
  queriesSkipped: number;
  /** Announcements, answers and goodbyes we sent. */
  responsesSent: number;
  responsesReceived: number;
  accepted: number;
  /** `excessive`: packets with more records than any honest responder sends (see #admit). */
  dropped: { own: number; badService: number; limit: number; malformed: number; excessive: number };
  /** Most recent first. */
  lastBySource: { address: string; id: PeerId; at: number }[];
}

export interface MdnsEvents {
  sighting: [Sighting];
  goodbye: [GoodbyeNotice];
}

/** The parts of multicast-dns that we use (bonjour-service types it as any). */
interface MdnsSocket {
  respond: (...args: unknown[]) => void;
  emit: (event: string | symbol, ...args: unknown[]) => boolean;
  on(event: 'response', fn: (packet: DnsPacket, rinfo: { address: string }) => void): void;
  on(event: 'query', fn: (packet: DnsPacket, rinfo: { address: string }) => void): void;
  on(event: 'error' | 'warning', fn: (err: Error) => void): void;
}

interface DnsRecord {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}

interface DnsPacket {
  questions?: DnsRecord[];
  answers?: DnsRecord[];
  authorities?: DnsRecord[];
  additionals?: DnsRecord[];
}

interface Instance {
  iface: ChosenInterface;
  address: string;
  bonjour: Bonjour;
  browser: Browser;
  service: Service | null;
  timer: NodeJS.Timeout | null;
  stats: MdnsInstanceStats;
}

interface KnownService {
  id: PeerId;
  port: number;
  host: string;
  name: string;
  lastMentioned: number;
}

const MAX_LAST_BY_SOURCE = 64;
// An mDNS packet is at most 9000 bytes (RFC 6762 §17); honest responses carry a few dozen
// records. 32 services of ours in one response matches the directory's IDs-per-source cap.
const MAX_RESPONSE_RECORDS = 256;
const MAX_SERVICES_PER_RESPONSE = 32;

export class MdnsService extends EventEmitter<MdnsEvents> {
  readonly #log: LoggerLike;
  readonly #interval: { min: number; max: number };
  readonly #maxServices: number;
  readonly #host: string;
  #self: SelfAnnouncement;
  #ifaces: ChosenInterface[];
  #instances: Instance[] = [];
  /** Keyed by knownKey(fqdn, announcer address). */
  #known = new Map<string, KnownService>();
  #lastForeignQuery = new Map<string, number>();
  #localAddresses = new Set<string>();
  #running = false;
  #queue: Promise<void> = Promise.resolve();
  readonly #stats: Omit<MdnsStats, 'instances' | 'instanceName' | 'host'>;

  constructor(opts: MdnsOptions) {
    super();
    this.#self = opts.self;
    this.#ifaces = opts.interfaces;
    this.#log = opts.log ?? silentLogger;
    this.#interval = opts.queryIntervalMs ?? { min: 4000, max: 6000 };
    this.#maxServices = opts.maxServices ?? 256;
    this.#host = `${hostLabel(opts.hostname ?? osHostname(), opts.self.id)}.local`;
    this.#stats = {
      queriesSent: 0,
      queriesSkipped: 0,
      responsesSent: 0,
      responsesReceived: 0,
      accepted: 0,
      dropped: { own: 0, badService: 0, limit: 0, malformed: 0, excessive: 0 },
      lastBySource: [],
    };
  }

  get instanceName(): string {
    return instanceName(this.#self.name, this.#self.id);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#openAll();
  }

  setInterfaces(list: ChosenInterface[]): Promise<void> {
    this.#ifaces = list;
    return this.#serial(async () => {
      if (!this.#running) return;
      await this.#closeAll();
      this.#openAll();
    });
  }

  /** TXT and the instance name are static, so a new name or port means republishing. */
  updateSelf(self: SelfAnnouncement): Promise<void> {
    const republish = self.name !== this.#self.name || self.port !== this.#self.port;
    this.#self = self;
    if (!republish) return Promise.resolve();
    return this.#serial(async () => {
      if (!this.#running) return;
      for (const inst of this.#instances) {
        const old = inst.service;
        inst.service = null;
        if (old) await withTimeout(new Promise<void>((resolve) => old.stop(() => resolve())), 1000);
        this.#publish(inst);
      }
    });
  }

  /** Sends goodbyes (TTL 0) and releases the sockets. */
  stop(): Promise<void> {
    return this.#serial(async () => {
      if (!this.#running) return;
      this.#running = false;
      await this.#closeAll();
    });
  }

  stats(): MdnsStats {
    return {
      ...structuredClone(this.#stats),
      instanceName: this.instanceName,
      host: this.#host,
      instances: this.#instances.map((i) => ({ ...i.stats })),
    };
  }

  // ---- lifecycle -----------------------------------------------------------------------

  #serial(fn: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(fn, fn);
    return this.#queue;
  }

  #openAll(): void {
    this.#localAddresses = new Set(this.#ifaces.flatMap((i) => [...i.ipv4, ...i.ipv6].map((a) => normalizeAddress(a.address))));
    for (const iface of this.#ifaces) {
      // multicast-dns is IPv4 here (its IPv6 mode needs one socket per scope); beacons cover IPv6.
      const first = iface.ipv4[0];
      if (!first) continue;
      this.#instances.push(this.#open(iface, first.address));
    }
  }

  #open(iface: ChosenInterface, address: string): Instance {
    const stats: MdnsInstanceStats = { iface: iface.name, address, published: false, error: null };
    const fail = (err: unknown) => {
      stats.error = err instanceof Error ? err.message : String(err);
      this.#log.warn({ iface: iface.name, err: stats.error }, 'mdns error');
    };
    // bind 0.0.0.0: on Linux a socket bound to a unicast address never sees multicast.
    const bonjour = new Bonjour({ interface: address, bind: '0.0.0.0', reuseAddr: true } as never, fail);
    const mdns = (bonjour as unknown as { server: { mdns: MdnsSocket } }).server.mdns;
    // Counted for diagnostics; respond() is an own property of this multicast-dns instance.
    const respond = mdns.respond.bind(mdns);
    mdns.respond = (...args: unknown[]) => {
      this.#stats.responsesSent++;
      respond(...args);
    };
    // The gate sits in front of every listener, bonjour-service's included (emit is looked up
    // on the instance, like respond above).
    const emit = mdns.emit.bind(mdns);
    mdns.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if ((event === 'query' || event === 'response') && !this.#admit(event, args[0] as DnsPacket)) return false;
      return emit(event, ...args);
    };
    mdns.on('error', fail);
    mdns.on('warning', () => {
      this.#stats.dropped.malformed++;
    });
    mdns.on('response', (packet, rinfo) => this.#onResponse(packet, rinfo.address));
    mdns.on('query', (packet, rinfo) => this.#onQuery(packet, rinfo.address));
    const browser = bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL });
    this.#stats.queriesSent++;
    const inst: Instance = { iface, address, bonjour, browser, service: null, timer: null, stats };
    this.#watch(inst, browser);
    this.#publish(inst);
    this.#scheduleQuery(inst, [1000, 3000]);
    return inst;
  }

  #publish(inst: Instance): void {
    try {
      const service = inst.bonjour.publish({
        name: this.instanceName,
        type: SERVICE_TYPE,
        protocol: SERVICE_PROTOCOL,
        port: this.#self.port,
        host: this.#host,
        txt: { v: TXT_VERSION, id: this.#self.id, port: String(this.#self.port) },
        // The short ID in the name makes collisions impossible, and probing would make our
        // per-interface responders find each other and give up.
        probe: false,
      });
      service.on('up', () => {
        inst.stats.published = true;
      });
      service.on('error', (err: Error) => {
        inst.stats.error = err.message;
      });
      inst.service = service;
    } catch (err) {
      inst.stats.error = (err as Error).message;
      this.#log.warn({ iface: inst.iface.name, err: inst.stats.error }, 'mdns publish failed');
    }
  }

  #watch(inst: Instance, browser: Browser): void {
    browser.on('up', (s) => this.#onService(s));
    browser.on('srv-update', (s) => this.#onService(s));
    browser.on('txt-update', (s) => this.#onService(s));
  }

  async #closeAll(): Promise<void> {
    const instances = this.#instances;
    this.#instances = [];
    await Promise.all(instances.map((i) => this.#close(i)));
  }

  #close(inst: Instance): Promise<void> {
    if (inst.timer) clearTimeout(inst.timer);
    inst.browser.stop();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        resolve();
      };
      // A goodbye that cannot be sent (interface gone) must not hang stop().
      const guard = setTimeout(() => {
        try {
          inst.bonjour.destroy();
        } catch {
          // already closed
        }
        finish();
      }, 1000);
      try {
        inst.bonjour.unpublishAll(() => {
          try {
            inst.bonjour.destroy(finish);
          } catch {
            finish();
          }
        });
      } catch {
        finish();
      }
    });
  }

  #scheduleQuery(inst: Instance, early: number[] = []): void {
    const next = early.shift();
    const wait = next ?? randomInt(this.#interval.min, this.#interval.max + 1);
    inst.timer = setTimeout(() => {
      inst.timer = null;
      if (!this.#running) return;
      // Duplicate-question suppression (RFC 6762 §7.3): answers are multicast, so if
      // someone else on this link just asked, their answers refresh us too.
      const foreign = this.#lastForeignQuery.get(inst.iface.name) ?? -Infinity;
      if (next === undefined && Date.now() - foreign < this.#interval.min * 0.8) {
        this.#stats.queriesSkipped++;
      } else {
        inst.browser.update();
        this.#stats.queriesSent++;
      }
      this.#pruneBrowser(inst);
      this.#scheduleQuery(inst, early);
    }, wait);
  }

  // bonjour's browser remembers every service it ever saw; a flood of fake services would
  // grow it forever, so it is replaced when it gets too big.
  #pruneBrowser(inst: Instance): void {
    if (inst.browser.services.length <= this.#maxServices) return;
    inst.browser.stop();
    inst.browser = inst.bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL });
    this.#watch(inst, inst.browser);
  }

  // ---- receiving -----------------------------------------------------------------------

  /**
   * bonjour-service's browser compares every PTR of a response with every record (one 9 kB
   * packet of PTRs took ~60 ms, a 64 kB datagram seconds: a few packets a second froze the
   * node), and its responder answers each matching question separately (one 9 kB query of
   * repeated questions, 1,400 multicast answers). Such packets are dropped or trimmed here.
   */
  #admit(event: 'query' | 'response', packet: DnsPacket): boolean {
    if (event === 'query') {
      const questions = packet.questions ?? [];
      if (questions.length > 1) {
        const seen = new Set<string>();
        packet.questions = questions.filter((q) => {
          const key = `${q.type}|${String(q.name).toLowerCase()}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      }
      return true;
    }
    const records = [...(packet.answers ?? []), ...(packet.authorities ?? []), ...(packet.additionals ?? [])];
    const services = records.filter((rr) => rr.type === 'PTR' && typeof rr.name === 'string' && rr.name.toLowerCase() === TYPE_NAME).length;
    if (records.length > MAX_RESPONSE_RECORDS || services > MAX_SERVICES_PER_RESPONSE) {
      this.#stats.dropped.excessive++;
      return false;
    }
    return true;
  }

  #onQuery(packet: DnsPacket, address: string): void {
    const from = unmapIpv4(address);
    if (this.#localAddresses.has(normalizeAddress(from))) return;
    const asks = (packet.questions ?? []).some((q) => (q.type === 'PTR' || q.type === 'ANY') && q.name?.toLowerCase() === TYPE_NAME);
    if (!asks) return;
    const iface = interfaceForAddress(this.#ifaces, from);
    if (iface) this.#lastForeignQuery.set(iface, Date.now());
  }

  #onService(s: Service): void {
    const from = s.referer?.address ? unmapIpv4(s.referer.address) : null;
    if (!from || typeof s.fqdn !== 'string') return;
    const known = this.#validate(s.name, s.port, s.host, s.txt ? { ...s.txt } : {});
    if (!known || !this.#remember(knownKey(s.fqdn, from), known)) return;
    this.#emitSighting(known, from, Array.isArray(s.addresses) ? s.addresses : []);
  }

  /** A service as announced, or null (counted) when it is not a valid Parley service of someone else. */
  #validate(name: unknown, portValue: unknown, host: unknown, txtValue: Record<string, unknown>): KnownService | null {
    const txt = TxtSchema.safeParse(txtValue);
    const port = Number(portValue);
    if (!txt.success || !Number.isInteger(port) || port < 1 || port > 65535 || typeof name !== 'string') {
      this.#stats.dropped.badService++;
      return null;
    }
    if (txt.data.id === this.#self.id) {
      this.#stats.dropped.own++;
      return null;
    }
    return {
      id: txt.data.id,
      port,
      host: typeof host === 'string' ? host.toLowerCase() : '',
      name: displayNameFromInstance(name, txt.data.id),
      lastMentioned: Date.now(),
    };
  }

  // Services are remembered per announcer: whoever else answers for the same instance name
  // (a forger, or a stale cache) must not change the port or ID we heard from the real one.
  #onResponse(packet: DnsPacket, address: string): void {
    this.#stats.responsesReceived++;
    const from = unmapIpv4(address);
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    const alive = new Set<string>();
    const bye = new Set<string>();
    for (const rr of records) {
      if (typeof rr.name !== 'string') continue;
      const name = rr.name.toLowerCase();
      let fqdn: string | null = null;
      if (rr.type === 'PTR' && name === TYPE_NAME && typeof rr.data === 'string') fqdn = rr.data.toLowerCase();
      else if ((rr.type === 'SRV' || rr.type === 'TXT') && name.endsWith(`.${TYPE_NAME}`)) fqdn = name;
      if (!fqdn) continue;
      (rr.ttl === 0 ? bye : alive).add(fqdn);
    }
    const now = Date.now();
    for (const fqdn of bye) {
      const k = this.#known.get(knownKey(fqdn, from));
      if (k) this.emit('goodbye', { source: 'mdns', id: k.id, from });
    }
    for (const fqdn of alive) {
      if (bye.has(fqdn)) continue;
      const key = knownKey(fqdn, from);
      // This announcer's own SRV and TXT, when the packet has them, say what it claims now;
      // bonjour's browser reports a second announcer of a name only if its records differ.
      const fresh = this.#resolve(fqdn, records);
      if (fresh && !this.#remember(key, fresh)) continue;
      const k = fresh ?? this.#known.get(key);
      if (!k) continue;
      k.lastMentioned = now;
      const addrs = records
        .filter((rr) => (rr.type === 'A' || rr.type === 'AAAA') && (rr.ttl ?? 0) > 0 && rr.name?.toLowerCase() === k.host)
        .map((rr) => rr.data)
        .filter((d): d is string => typeof d === 'string');
      this.#emitSighting(k, from, addrs);
    }
  }

  /** The service from one packet's SRV and TXT for `fqdn`, as bonjour's browser would build it. */
  #resolve(fqdn: string, records: DnsRecord[]): KnownService | null {
    let srv: DnsRecord | undefined;
    let txt: DnsRecord | undefined;
    for (const rr of records) {
      if ((rr.ttl ?? 0) <= 0 || typeof rr.name !== 'string' || rr.name.toLowerCase() !== fqdn) continue;
      if (rr.type === 'SRV') srv = rr;
      else if (rr.type === 'TXT') txt = rr;
    }
    if (!srv || !txt || typeof srv.data !== 'object' || srv.data === null) return null;
    const data = srv.data as { port?: unknown; target?: unknown };
    return this.#validate(srv.name.split('.')[0], data.port, data.target, decodeTxt(txt.data));
  }

  #remember(key: string, known: KnownService): boolean {
    if (!this.#known.has(key) && this.#known.size >= this.#maxServices) {
      const cutoff = Date.now() - 10 * 60_000;
      for (const [k, v] of this.#known) if (v.lastMentioned < cutoff) this.#known.delete(k);
      if (this.#known.size >= this.#maxServices) {
        this.#stats.dropped.limit++;
        return false;
      }
    }
    this.#known.set(key, known);
    return true;
  }

  #emitSighting(k: KnownService, from: string, addresses: string[]): void {
    if (k.id === this.#self.id) return;
    this.#stats.accepted++;
    const list = this.#stats.lastBySource;
    const i = list.findIndex((e) => e.address === from);
    if (i >= 0) list.splice(i, 1);
    list.unshift({ address: from, id: k.id, at: Date.now() });
    if (list.length > MAX_LAST_BY_SOURCE) list.length = MAX_LAST_BY_SOURCE;
    this.emit('sighting', {
      source: 'mdns',
      id: k.id,
      from,
      port: k.port,
      claimed: claimedAddresses(addresses.slice(0, 4 * MAX_CLAIMED_ADDRESSES), from, zoneForSender(this.#ifaces, from)).slice(0, MAX_CLAIMED_ADDRESSES),
      hints: { name: k.name },
    });
  }
}

function knownKey(fqdn: string, from: string): string {
  return `${fqdn.toLowerCase()}\u0000${normalizeAddress(from)}`;
}

/** TXT strings as bonjour-service decodes them: 'key=value', the last of a repeated key wins. */
function decodeTxt(data: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (!Array.isArray(data)) return out;
  for (const item of data) {
    if (!Buffer.isBuffer(item) || item.length <= 1) continue;
    const text = item.toString();
    const eq = text.indexOf('=');
    if (eq > 0 && eq < text.length - 1) out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}

/** '<display name>-<short id>', within DNS's 63-byte label limit and without dots. */
export function instanceName(displayName: string, id: PeerId): string {
  const suffix = `-${id.slice(0, 7)}`;
  const clean = displayName.replace(/[\u0000-\u001f\u007f-\u009f.]/g, '-').trim() || 'Parley';
  return truncateUtf8(clean, 63 - suffix.length) + suffix;
}

export function displayNameFromInstance(name: string, id: PeerId): string {
  const suffix = `-${id.slice(0, 7)}`;
  const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  return (clean || id.slice(0, 7)).slice(0, LIMITS.displayName);
}

/** A DNS label from the OS hostname; a made-up one when it is empty or 'localhost'. */
export function hostLabel(hostname: string, id: PeerId): string {
  const label = (hostname.split('.')[0] ?? '').replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return label && label.toLowerCase() !== 'localhost' ? label : `parley-${id.slice(0, 7).toLowerCase()}`;
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

function truncateUtf8(s: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}
