// Shared vocabulary of the discovery modules. Everything here is a hint from the network:
// only a completed, pinned TLS handshake proves who a peer is.
import type { PeerId, Presence } from '../../contract/contract.ts';

export type DiscoverySource = 'beacon' | 'mdns';

/** What this node announces about itself. */
export interface SelfAnnouncement {
  id: PeerId;
  name: string;
  /** TCP port of the link listener. */
  port: number;
  presence: Presence;
  statusText: string;
}

/** What one announcement from the network claims, as the source modules pass it on. */
export interface Sighting {
  source: DiscoverySource;
  id: PeerId;
  /** Source address of the packet (IPv6 link-local carries its %zone). */
  from: string;
  port: number;
  /** Further addresses the announcer lists for itself (zones resolved where possible). */
  claimed: string[];
  hints: { name?: string; presence?: Presence; statusText?: string };
  /** Random per start of the announcing process (beacon only). */
  instance?: string;
}

export interface GoodbyeNotice {
  source: DiscoverySource;
  id: PeerId;
  from: string;
  instance?: string;
}

/** Subset of pino's logger that discovery uses; a pino Logger fits. */
export interface LoggerLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: LoggerLike = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
