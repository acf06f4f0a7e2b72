// The listening addresses a node tells its peers in its Hello (`addrs`), and which of a peer's
// announced addresses are worth dialing. Across a relay this is how two peers learn where a
// direct path could be: the relay's directory carries IDs and names only, and the Hello travels
// inside the end-to-end TLS, so the relay never learns these addresses.
import { isIP } from 'node:net';
import {
  chooseInterfaces,
  isLinkLocal6,
  isLoopback,
  isMulticastOrBroadcast,
  isUnspecified,
  normalizeAddress,
  type ChosenInterface,
} from '../discovery/interfaces.ts';
import { MAX_HELLO_ADDRS } from '../protocol/frames.ts';
import { formatAddress, isAnnouncedAddress, parseAddress } from './address.ts';

/** Loopback, unspecified, multicast and zone-less link-local addresses reach nobody else. */
function reachesOthers(host: string): boolean {
  return !(isLoopback(host) || isUnspecified(host) || isMulticastOrBroadcast(host) || isLinkLocal6(normalizeAddress(host)));
}

/**
 * What this node announces: the address it listens on when that is one specific address,
 * otherwise the addresses of the interfaces discovery would use (`interfaces`: the setting;
 * empty = automatic, which skips Docker, VPN and other virtual adapters whose addresses
 * would only mislead a peer).
 */
export function addressesToAnnounce(opts: { port: number; host?: string | undefined; interfaces: string[]; available?: ChosenInterface[] }): string[] {
  if (!opts.port) return [];
  const hosts =
    opts.host !== undefined && !isUnspecified(opts.host)
      ? [opts.host]
      : (opts.available ?? chooseInterfaces(opts.interfaces.length ? opts.interfaces : 'auto').chosen).flatMap((i) => [
          ...i.ipv4.map((a) => a.address),
          ...i.ipv6.map((a) => a.address),
        ]);
  const out = new Set<string>();
  for (const host of hosts) {
    if (isIP(host) === 0 || !reachesOthers(host)) continue;
    const address = formatAddress(normalizeAddress(host), opts.port);
    if (isAnnouncedAddress(address)) out.add(address);
    if (out.size >= MAX_HELLO_ADDRS) break;
  }
  return [...out];
}

/**
 * The addresses from a peer's Hello worth a direct dial. The peer proved its ID, but what it
 * says about its addresses is still only a hint: nothing that reaches no one else (loopback,
 * multicast, ...) and never one of this node's own listening addresses.
 */
export function dialableAnnounced(addrs: readonly string[], own: readonly string[]): string[] {
  const mine = new Set(own.map((a) => a.toLowerCase()));
  const out = new Set<string>();
  for (const address of addrs.slice(0, MAX_HELLO_ADDRS)) {
    if (!isAnnouncedAddress(address)) continue;
    const { host, port } = parseAddress(address);
    const canonical = formatAddress(normalizeAddress(host), port);
    if (reachesOthers(host) && !mine.has(canonical)) out.add(canonical);
  }
  return [...out];
}
