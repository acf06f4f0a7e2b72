// One peer directory for every discovery source, keyed by peer ID.
//
// Discovery is a hint, never proof (LocalSend CVE-2025-54792, KDE Connect's spoofed UDP):
// the first announcer of an ID owns the entry's name and liveness. Anyone else announcing
// the same ID only adds an untrusted candidate address and a warning; the link layer's TLS
// pinning decides who is real. Memory stays bounded whatever the LAN sends: the table, the
// addresses per peer, the IDs per source address and the warning list all have caps.
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import type { PeerId, Presence } from '../../contract/contract.ts';
import { normalizeAddress } from './interfaces.ts';
import type { DiscoverySource, GoodbyeNotice, Sighting } from './types.ts';

export interface CandidateAddress {
  /** IP literal; IPv6 link-local carries its %zone so it can be dialled. */
  address: string;
  port: number;
  sources: DiscoverySource[];
  /** A packet arrived from this address (rather than it only being listed by the announcer). */
  observed: boolean;
  /** False when the address came from an announcer that contradicts the first one for this ID. */
  trusted: boolean;
  lastSeen: number;
}

export interface PeerCandidate {
  id: PeerId;
  name: string;
  presence: Presence | null;
  statusText: string | null;
  /** Best first: trusted, observed, IPv4, most recent. */
  addresses: CandidateAddress[];
  sources: DiscoverySource[];
  firstSeen: number;
  lastSeen: number;
  /** Set while another address also announces this ID. */
  warning: string | null;
}

export interface CandidateEvent extends PeerCandidate {
  change: 'new' | 'addresses' | 'hints';
}

export interface GoneEvent {
  id: PeerId;
  reason: 'goodbye' | 'expired';
  at: number;
}

export type WarningReason = 'conflicting-announcer' | 'source-id-limit' | 'own-id';

export interface DiscoveryWarning {
  id: PeerId;
  address: string;
  reason: WarningReason;
  message: string;
  at: number;
}

export interface DirectoryEvents {
  candidate: [CandidateEvent];
  gone: [GoneEvent];
  warning: [DiscoveryWarning];
}

export interface DirectoryOptions {
  selfId: PeerId;
  /** How long a source keeps an address alive without hearing from it again. */
  expireAfterMs?: Partial<Record<DiscoverySource, number>>;
  maxPeers?: number;
  maxAddressesPerPeer?: number;
  /** How many different IDs one source address may announce (terminal servers host several). */
  maxIdsPerSource?: number;
  maxWarnings?: number;
  /**
   * How long an unvouched claim must persist before it is reported. A dual-stack peer whose
   * IPv4 address changed vouches for the new one in its next IPv6 beacon; no false alarm then.
   */
  warnAfterMs?: number;
  now?: () => number;
}

export interface DirectoryStats {
  peers: number;
  dropped: { tableFull: number; sourceLimit: number; addressLimit: number; afterGoodbye: number; ownId: number };
}

type Hints = Sighting['hints'];

interface AddressState {
  address: string;
  key: string;
  port: number;
  trusted: boolean;
  observed: boolean;
  seen: Map<DiscoverySource, number>;
  /** What the (untrusted) announcer at this address claims; used if it is ever promoted. */
  claim: { source: DiscoverySource; hints: Hints; instance: string | undefined } | null;
  firstSeen: number;
}

interface Entry {
  id: PeerId;
  firstSeen: number;
  owner: Set<string>;
  instance: string | undefined;
  addresses: Map<string, AddressState>;
  hints: Map<DiscoverySource, Hints>;
  warned: Set<string>;
}

const DEFAULT_EXPIRY: Record<DiscoverySource, number> = { beacon: 16_000, mdns: 17_000 };
const TOMBSTONE_MS = 3_000;
const REWARN_MS = 60_000;

export class PeerDirectory extends EventEmitter<DirectoryEvents> {
  readonly #selfId: PeerId;
  readonly #expiry: Record<DiscoverySource, number>;
  readonly #maxPeers: number;
  readonly #maxAddresses: number;
  readonly #maxIdsPerSource: number;
  readonly #maxWarnings: number;
  readonly #warnAfter: number;
  readonly #now: () => number;
  readonly #entries = new Map<PeerId, Entry>();
  readonly #idsBySource = new Map<string, Set<PeerId>>();
  readonly #tombstones = new Map<PeerId, { at: number; instance: string | undefined }>();
  readonly #rewarn = new Map<string, number>();
  readonly #warnings: DiscoveryWarning[] = [];
  #local = new Set<string>();
  readonly #dropped = { tableFull: 0, sourceLimit: 0, addressLimit: 0, afterGoodbye: 0, ownId: 0 };

  constructor(opts: DirectoryOptions) {
    super();
    this.#selfId = opts.selfId;
    this.#expiry = { ...DEFAULT_EXPIRY, ...opts.expireAfterMs };
    this.#maxPeers = opts.maxPeers ?? 512;
    this.#maxAddresses = opts.maxAddressesPerPeer ?? 16;
    this.#maxIdsPerSource = opts.maxIdsPerSource ?? 32;
    this.#maxWarnings = opts.maxWarnings ?? 100;
    this.#warnAfter = opts.warnAfterMs ?? 1500;
    this.#now = opts.now ?? Date.now;
  }

  /** Our own addresses: our own announcements looping back from them are not a conflict. */
  setLocalAddresses(addresses: string[]): void {
    this.#local = new Set(addresses.map(normalizeAddress));
  }

  sight(s: Sighting): void {
    const now = this.#now();
    const fromKey = normalizeAddress(s.from);
    if (s.id === this.#selfId) {
      // Beacons only get here from another instance; mDNS cannot tell, so our own
      // addresses are assumed to be our own responder looping back.
      if (s.source === 'beacon' || !this.#local.has(fromKey)) {
        this.#dropped.ownId++;
        this.#warnOnce(s.id, s.from, 'own-id', 'another device announces this node\u2019s own ID', now);
      }
      return;
    }
    const tomb = this.#tombstones.get(s.id);
    if (tomb && now - tomb.at < TOMBSTONE_MS && (s.source !== 'beacon' || s.instance === tomb.instance)) {
      // Stragglers of a peer that just said goodbye must not resurrect it.
      this.#dropped.afterGoodbye++;
      return;
    }
    const entry = this.#entries.get(s.id);
    if (!entry) {
      this.#create(s, fromKey, now);
      return;
    }
    if (entry.owner.has(fromKey)) this.#updateTrusted(entry, s, now);
    else this.#updateUntrusted(entry, s, fromKey, now);
  }

  goodbye(g: GoodbyeNotice): void {
    const now = this.#now();
    const entry = this.#entries.get(g.id);
    if (!entry) return;
    const key = normalizeAddress(g.from);
    if (!entry.owner.has(key)) {
      // Someone else's goodbye retracts only their own claim.
      let removed = false;
      for (const a of entry.addresses.values()) {
        if (!a.trusted && normalizeAddress(a.address) === key) {
          this.#removeAddress(entry, a);
          removed = true;
        }
      }
      if (removed) this.#emitCandidate(entry, 'addresses');
      return;
    }
    if (g.source === 'beacon') {
      if (g.instance && entry.instance && g.instance !== entry.instance) return;
      this.#tombstones.set(g.id, { at: now, instance: g.instance });
      this.#delete(entry, 'goodbye', now);
      return;
    }
    // An mDNS goodbye may just be a rename (republish); other sources may still vouch.
    let changed = false;
    for (const a of entry.addresses.values()) {
      if (a.trusted && a.seen.delete(g.source)) changed = true;
      if (a.seen.size === 0) this.#removeAddress(entry, a);
    }
    if (![...entry.addresses.values()].some((a) => a.trusted)) {
      // No tombstone: the renamed service's announcement follows right behind.
      this.#delete(entry, 'goodbye', now);
    } else if (changed) {
      this.#emitCandidate(entry, 'addresses');
    }
  }

  /** Expires silent addresses and peers; call about once a second. */
  sweep(): void {
    const now = this.#now();
    for (const [id, t] of this.#tombstones) if (now - t.at >= TOMBSTONE_MS) this.#tombstones.delete(id);
    for (const [key, at] of this.#rewarn) if (now - at >= REWARN_MS) this.#rewarn.delete(key);
    for (const entry of [...this.#entries.values()]) {
      let changed = false;
      for (const a of [...entry.addresses.values()]) {
        for (const [source, at] of a.seen) {
          if (now - at > this.#expiry[source]) a.seen.delete(source);
        }
        if (a.seen.size === 0) {
          this.#removeAddress(entry, a);
          changed = true;
        }
      }
      this.#warnConflicts(entry, now);
      if (entry.addresses.size === 0) {
        this.#delete(entry, 'expired', now);
      } else if (![...entry.addresses.values()].some((a) => a.trusted)) {
        this.#promote(entry);
        this.#emitCandidate(entry, 'addresses');
      } else if (changed) {
        this.#emitCandidate(entry, 'addresses');
      }
    }
  }

  get(id: PeerId): PeerCandidate | null {
    const entry = this.#entries.get(id);
    return entry ? this.#view(entry) : null;
  }

  list(): PeerCandidate[] {
    return [...this.#entries.values()].map((e) => this.#view(e));
  }

  warnings(): DiscoveryWarning[] {
    return [...this.#warnings];
  }

  stats(): DirectoryStats {
    return { peers: this.#entries.size, dropped: { ...this.#dropped } };
  }

  // ---- internals -----------------------------------------------------------------------

  #create(s: Sighting, fromKey: string, now: number): void {
    if (this.#entries.size >= this.#maxPeers) {
      this.sweep();
      if (this.#entries.size >= this.#maxPeers) {
        this.#dropped.tableFull++;
        return;
      }
    }
    if (!this.#sourceMayAnnounce(fromKey, s, now)) return;
    const entry: Entry = {
      id: s.id,
      firstSeen: now,
      owner: new Set([fromKey, ...s.claimed.map(normalizeAddress)]),
      instance: s.instance,
      addresses: new Map(),
      hints: new Map([[s.source, s.hints]]),
      warned: new Set(),
    };
    this.#entries.set(s.id, entry);
    this.#upsert(entry, s.from, s.port, s.source, { trusted: true, observed: true }, now, null);
    for (const c of s.claimed) this.#upsert(entry, c, s.port, s.source, { trusted: true, observed: false }, now, null);
    this.#emitCandidate(entry, 'new');
  }

  #updateTrusted(entry: Entry, s: Sighting, now: number): void {
    const before = this.#hintsKey(entry);
    let changed = this.#upsert(entry, s.from, s.port, s.source, { trusted: true, observed: true }, now, null);
    for (const c of s.claimed) {
      entry.owner.add(normalizeAddress(c));
      changed = this.#upsert(entry, c, s.port, s.source, { trusted: true, observed: false }, now, null) || changed;
    }
    if (s.source === 'beacon' && s.instance) entry.instance = s.instance;
    entry.hints.set(s.source, s.hints);
    if (changed) this.#emitCandidate(entry, 'addresses');
    else if (this.#hintsKey(entry) !== before) this.#emitCandidate(entry, 'hints');
  }

  #updateUntrusted(entry: Entry, s: Sighting, fromKey: string, now: number): void {
    const known = [...entry.addresses.values()].some((a) => !a.trusted && a.key === s.from.toLowerCase());
    if (!known && !this.#sourceMayAnnounce(fromKey, s, now)) return;
    const claim = { source: s.source, hints: s.hints, instance: s.instance };
    const changed = this.#upsert(entry, s.from, s.port, s.source, { trusted: false, observed: true }, now, claim);
    if (changed) this.#emitCandidate(entry, 'addresses');
    this.#warnConflicts(entry, now);
  }

  #warnConflicts(entry: Entry, now: number): void {
    for (const a of entry.addresses.values()) {
      const key = a.address.toLowerCase();
      if (a.trusted || !a.observed || entry.warned.has(key) || now - a.firstSeen < this.#warnAfter) continue;
      entry.warned.add(key);
      this.#warn(entry.id, a.address, 'conflicting-announcer', 'another address announces this ID; it stays an unverified candidate', now);
    }
  }

  /** Adds or refreshes one address; true when the candidate list visibly changed. */
  #upsert(
    entry: Entry,
    address: string,
    port: number,
    source: DiscoverySource,
    flags: { trusted: boolean; observed: boolean },
    now: number,
    claim: AddressState['claim'],
  ): boolean {
    const key = address.toLowerCase();
    const existing = entry.addresses.get(key);
    if (existing) {
      let changed = false;
      // An untrusted announcer never changes what the owner said about an address.
      if (existing.trusted && !flags.trusted) {
        existing.seen.set(source, now);
        return false;
      }
      if (existing.port !== port) changed = true;
      if (flags.trusted && !existing.trusted) changed = true;
      if (flags.observed && !existing.observed) {
        changed = true;
        this.#trackSource(existing.key, entry.id);
      }
      existing.port = port;
      existing.trusted = existing.trusted || flags.trusted;
      existing.observed = existing.observed || flags.observed;
      existing.seen.set(source, now);
      if (!flags.trusted) existing.claim = claim;
      else existing.claim = null;
      return changed;
    }
    if (entry.addresses.size >= this.#maxAddresses) {
      const victim = flags.trusted ? this.#oldestUntrusted(entry) : undefined;
      if (!victim) {
        this.#dropped.addressLimit++;
        return false;
      }
      this.#removeAddress(entry, victim);
    }
    const state: AddressState = {
      address,
      key: normalizeAddress(address),
      port,
      trusted: flags.trusted,
      observed: flags.observed,
      seen: new Map([[source, now]]),
      claim,
      firstSeen: now,
    };
    entry.addresses.set(key, state);
    if (state.observed) this.#trackSource(state.key, entry.id);
    return true;
  }

  #oldestUntrusted(entry: Entry): AddressState | undefined {
    let victim: AddressState | undefined;
    for (const a of entry.addresses.values()) {
      if (a.trusted) continue;
      if (!victim || lastSeen(a) < lastSeen(victim)) victim = a;
    }
    return victim;
  }

  #removeAddress(entry: Entry, a: AddressState): void {
    entry.addresses.delete(a.address.toLowerCase());
    entry.warned.delete(a.address.toLowerCase());
    if (a.observed && ![...entry.addresses.values()].some((o) => o.observed && o.key === a.key)) {
      this.#untrackSource(a.key, entry.id);
    }
  }

  #delete(entry: Entry, reason: GoneEvent['reason'], now: number): void {
    for (const a of [...entry.addresses.values()]) this.#removeAddress(entry, a);
    this.#entries.delete(entry.id);
    this.emit('gone', { id: entry.id, reason, at: now });
  }

  /** The owner fell silent but someone else still announces the ID: they take over (unverified, like any newcomer). */
  #promote(entry: Entry): void {
    let best: AddressState | undefined;
    for (const a of entry.addresses.values()) if (!best || lastSeen(a) > lastSeen(best)) best = a;
    if (!best) return;
    entry.owner = new Set([best.key]);
    entry.hints = new Map(best.claim ? [[best.claim.source, best.claim.hints]] : []);
    entry.instance = best.claim?.instance;
    for (const a of entry.addresses.values()) {
      if (a.key === best.key) {
        a.trusted = true;
        a.claim = null;
        entry.warned.delete(a.address.toLowerCase());
      }
    }
  }

  #sourceMayAnnounce(fromKey: string, s: Sighting, now: number): boolean {
    const ids = this.#idsBySource.get(fromKey);
    if (!ids || ids.has(s.id) || ids.size < this.#maxIdsPerSource) return true;
    this.#dropped.sourceLimit++;
    this.#warnOnce(s.id, s.from, 'source-id-limit', `one address announces more than ${this.#maxIdsPerSource} IDs; ignoring new ones`, now, fromKey);
    return false;
  }

  #trackSource(key: string, id: PeerId): void {
    let ids = this.#idsBySource.get(key);
    if (!ids) this.#idsBySource.set(key, (ids = new Set()));
    ids.add(id);
  }

  #untrackSource(key: string, id: PeerId): void {
    const ids = this.#idsBySource.get(key);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.#idsBySource.delete(key);
  }

  #warnOnce(id: PeerId, address: string, reason: WarningReason, message: string, now: number, key = `${id}|${address}`): void {
    const k = `${reason}|${key}`;
    if (this.#rewarn.has(k)) return;
    if (this.#rewarn.size >= 256) return;
    this.#rewarn.set(k, now);
    this.#warn(id, address, reason, message, now);
  }

  #warn(id: PeerId, address: string, reason: WarningReason, message: string, now: number): void {
    const w: DiscoveryWarning = { id, address, reason, message, at: now };
    this.#warnings.push(w);
    if (this.#warnings.length > this.#maxWarnings) this.#warnings.splice(0, this.#warnings.length - this.#maxWarnings);
    this.emit('warning', w);
  }

  #emitCandidate(entry: Entry, change: CandidateEvent['change']): void {
    this.emit('candidate', { ...this.#view(entry), change });
  }

  #hintsKey(entry: Entry): string {
    const h = effectiveHints(entry);
    return `${h.name}\u0000${h.presence}\u0000${h.statusText}`;
  }

  #view(entry: Entry): PeerCandidate {
    const addresses = [...entry.addresses.values()]
      .map(
        (a): CandidateAddress => ({
          address: a.address,
          port: a.port,
          sources: [...a.seen.keys()].sort(),
          observed: a.observed,
          trusted: a.trusted,
          lastSeen: lastSeen(a),
        }),
      )
      .sort(
        (a, b) =>
          Number(b.trusted) - Number(a.trusted) ||
          Number(b.observed) - Number(a.observed) ||
          Number(isIPv4(b.address)) - Number(isIPv4(a.address)) ||
          b.lastSeen - a.lastSeen,
      );
    const sources = new Set<DiscoverySource>();
    for (const a of entry.addresses.values()) if (a.trusted) for (const s of a.seen.keys()) sources.add(s);
    const untrusted = addresses.filter((a) => !a.trusted);
    const h = effectiveHints(entry);
    return {
      id: entry.id,
      name: h.name ?? entry.id.slice(0, 7),
      presence: h.presence ?? null,
      statusText: h.statusText ?? null,
      addresses,
      sources: [...sources].sort(),
      firstSeen: entry.firstSeen,
      lastSeen: Math.max(0, ...addresses.filter((a) => a.trusted).map((a) => a.lastSeen)),
      warning: untrusted.length > 0 ? `also announced from ${untrusted.map((a) => a.address).join(', ')}` : null,
    };
  }
}

function lastSeen(a: AddressState): number {
  return Math.max(0, ...a.seen.values());
}

// Beacons carry the full name and presence; mDNS instance names may be truncated.
function effectiveHints(entry: Entry): Hints {
  const b = entry.hints.get('beacon');
  const m = entry.hints.get('mdns');
  return {
    name: b?.name ?? m?.name,
    presence: b?.presence ?? m?.presence,
    statusText: b?.statusText ?? m?.statusText,
  };
}
