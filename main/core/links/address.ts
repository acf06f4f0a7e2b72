// Peer addresses as people and configs write them: host:port, IPv6 in brackets.
import { isIP } from 'node:net';

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1]!, port };
}

/** host:port, with IPv6 in brackets and IPv4-mapped IPv6 shown as plain IPv4. */
export function formatAddress(host: string, port: number): string {
  const h = host.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * The form a peer announces its own listening addresses in (Hello `addrs`): an IP literal
 * (never a DNS name, which would make the receiver resolve what a peer chose) without an
 * IPv6 zone, and a port, written exactly as formatAddress writes it.
 */
export function isAnnouncedAddress(address: string): boolean {
  let parsed;
  try {
    parsed = parseAddress(address);
  } catch {
    return false;
  }
  return isIP(parsed.host) !== 0 && !parsed.host.includes('%') && formatAddress(parsed.host, parsed.port) === address;
}
