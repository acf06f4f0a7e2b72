// Which network interfaces discovery announces on. Users most often complain that the
// wrong adapter was picked (VPN, Docker, Hyper-V), so 'auto' skips the usual virtual ones
// and says why; naming an interface explicitly always wins.
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface Ipv4Address {
  address: string;
  netmask: string;
  prefix: number;
  /** Directed broadcast address, or null for /31 and /32 where there is none. */
  broadcast: string | null;
}

export interface Ipv6Address {
  address: string;
  scopeid: number;
  linkLocal: boolean;
}

export interface ChosenInterface {
  name: string;
  ipv4: Ipv4Address[];
  ipv6: Ipv6Address[];
}

export interface SkippedInterface {
  name: string;
  reason: string;
}

export interface InterfaceChoice {
  chosen: ChosenInterface[];
  skipped: SkippedInterface[];
}

export type InterfaceSpec = string[] | 'auto';

/** Adapters that are rarely the LAN the user means: containers, VMs, VPNs, tunnels. */
const VIRTUAL = /^(docker|veth|virbr|vmnet|vboxnet|tun|tap|wg|utun|zt|tailscale|br-|vEthernet)/i;

export function chooseInterfaces(
  spec: InterfaceSpec,
  all: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): InterfaceChoice {
  const chosen: ChosenInterface[] = [];
  const skipped: SkippedInterface[] = [];
  const named = spec === 'auto' ? null : new Set(spec);
  for (const [name, infos] of Object.entries(all)) {
    if (!infos) continue;
    if (named && !named.has(name)) continue;
    if (!named && infos.some((i) => i.internal)) {
      skipped.push({ name, reason: 'loopback' });
      continue;
    }
    if (!named && VIRTUAL.test(name)) {
      skipped.push({ name, reason: 'virtual adapter (name it in the interface list to use it)' });
      continue;
    }
    const iface = describe(name, infos);
    if (iface.ipv4.length === 0 && iface.ipv6.length === 0) {
      skipped.push({ name, reason: 'no usable address' });
      continue;
    }
    chosen.push(iface);
  }
  if (named) {
    for (const name of named) {
      if (!all[name]) skipped.push({ name, reason: 'not present' });
    }
  }
  chosen.sort((a, b) => a.name.localeCompare(b.name));
  return { chosen, skipped };
}

function describe(name: string, infos: NetworkInterfaceInfo[]): ChosenInterface {
  const ipv4: Ipv4Address[] = [];
  const ipv6: Ipv6Address[] = [];
  for (const info of infos) {
    if (info.family === 'IPv4') {
      const prefix = prefixLength(info.netmask);
      ipv4.push({ address: info.address, netmask: info.netmask, prefix, broadcast: directedBroadcast(info.address, prefix) });
    } else if (info.family === 'IPv6') {
      ipv6.push({ address: info.address, scopeid: info.scopeid ?? 0, linkLocal: isLinkLocal6(info.address) });
    }
  }
  return { name, ipv4, ipv6 };
}

/** A stable fingerprint: discovery rebinds only when this changes. */
export function interfacesSignature(list: ChosenInterface[]): string {
  return list
    .map((i) => `${i.name}=${i.ipv4.map((a) => `${a.address}/${a.prefix}`).join(',')};${i.ipv6.map((a) => a.address).join(',')}`)
    .join('|');
}

/** The local interface a packet from `address` most likely arrived on (subnet or zone match). */
export function interfaceForAddress(list: ChosenInterface[], address: string): string | null {
  const zone = zoneOf(address);
  if (zone) return list.find((i) => i.name === zone || zoneFor(i) === zone)?.name ?? null;
  const plain = unmapIpv4(address);
  if (isIPv4(plain)) {
    const n = ipv4ToInt(plain);
    for (const iface of list) {
      for (const a of iface.ipv4) {
        const mask = prefixMask(a.prefix);
        if ((ipv4ToInt(a.address) & mask) === (n & mask)) return iface.name;
      }
    }
  }
  return null;
}

export function prefixLength(netmask: string): number {
  if (isIPv4(netmask)) {
    let n = ipv4ToInt(netmask);
    let bits = 0;
    while (n & 0x80000000) {
      bits++;
      n = (n << 1) >>> 0;
    }
    return bits;
  }
  return 0;
}

function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function directedBroadcast(address: string, prefix: number): string | null {
  if (!isIPv4(address) || prefix >= 31 || prefix <= 0) return null;
  const host = (~prefixMask(prefix)) >>> 0;
  return intToIpv4(((ipv4ToInt(address) | host) >>> 0));
}

export function ipv4ToInt(address: string): number {
  const parts = address.split('.').map(Number);
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The IPv6 zone that names this interface in socket addresses: its name, except on
 * Windows where libuv only understands the numeric scope ID.
 */
export function zoneFor(iface: ChosenInterface, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    const ll = iface.ipv6.find((a) => a.linkLocal);
    if (ll) return String(ll.scopeid);
  }
  return iface.name;
}

/** The zone to attach to link-local addresses learnt from a packet sent by `from`. */
export function zoneForSender(list: ChosenInterface[], from: string): string | null {
  const zone = zoneOf(from);
  if (zone) return zone;
  const name = interfaceForAddress(list, from);
  const iface = list.find((i) => i.name === name);
  return iface ? zoneFor(iface) : null;
}

export function zoneOf(address: string): string | null {
  const i = address.indexOf('%');
  return i >= 0 ? address.slice(i + 1) : null;
}

/** The address without its IPv6 zone and without IPv4-mapped wrapping: the form we compare. */
export function normalizeAddress(address: string): string {
  const i = address.indexOf('%');
  const bare = i >= 0 ? address.slice(0, i) : address;
  return unmapIpv4(bare).toLowerCase();
}

export function unmapIpv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isLinkLocal6(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address);
}

export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a.startsWith('127.') || a === '::1';
}

export function isUnspecified(address: string): boolean {
  const a = normalizeAddress(address);
  return a === '0.0.0.0' || a === '::';
}

export function isMulticastOrBroadcast(address: string): boolean {
  const a = normalizeAddress(address);
  if (isIPv4(a)) {
    const first = Number(a.split('.')[0]);
    return (first >= 224 && first <= 239) || a === '255.255.255.255';
  }
  return /^ff/i.test(a);
}

/** True when `address` is an IP literal (IPv6 may carry a zone). */
export function isIpLiteral(address: string): boolean {
  return isIPv4(address) || isIPv6(address);
}
