// dns-packet (a dependency of multicast-dns, which bonjour-service uses) ships no types; this
// is the small part the netlab mDNS tools need. createRequire keeps tsc from asking for them.
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';

export interface DnsAnswer {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  flush?: boolean;
  data?: unknown;
}

export interface DnsMessage {
  type?: 'query' | 'response';
  id?: number;
  flags?: number;
  questions?: Array<{ name: string; type: string }>;
  answers?: DnsAnswer[];
  additionals?: DnsAnswer[];
  authorities?: DnsAnswer[];
}

interface DnsPacketLib {
  encode(msg: DnsMessage): Buffer;
  decode(buf: Buffer): DnsMessage;
  AUTHORITATIVE_ANSWER: number;
}

const require = createRequire(import.meta.url);
export const dnsPacket = require('dns-packet') as DnsPacketLib;

export const MDNS_GROUP = '224.0.0.251';
export const MDNS_PORT = 5353;

/** The first non-internal IPv4 address: a netlab host has exactly one (eth0). */
export function ownIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no IPv4 interface');
}
