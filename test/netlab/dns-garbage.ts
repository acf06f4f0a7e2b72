// Sends malformed and hostile mDNS packets, for netlab tests: what a buggy or malicious
// device on the LAN could put on UDP 5353.
//   --to ADDR        destination, repeatable (a lab host's address and/or 224.0.0.251); packets alternate
//   --port N         destination port (default 5353)
//   --count N        packets in all (default 3000), spread round-robin over the kinds
//   --rate N         packets per second (default 1000)
//   --seed N         for the pseudo-random generator (default: random); printed, so a failure can be replayed
//   --kinds a,b      only these kinds (default: all, see KINDS)
// Prints {"type":"done","sent":N,"seed":S,"byKind":{...}} when finished.
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { dnsPacket, MDNS_PORT, ownIpv4, type DnsAnswer, type DnsMessage } from './dns-lib.ts';

const TYPE_NAME = '_parley._tcp.local';
// Syntactically valid peer IDs that no real node has (FAKE_IDS): what services with a
// well-formed TXT claim. The second one is only ever a repeated 'id=' key in a huge TXT.
const FAKE_ID = 'A'.repeat(52);
const FAKE_ID_2 = 'B'.repeat(52);

const { values } = parseArgs({
  options: {
    to: { type: 'string', multiple: true },
    port: { type: 'string', default: String(MDNS_PORT) },
    count: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    kinds: { type: 'string' },
  },
});
const targets = values.to ?? [];
if (targets.length === 0) throw new Error('--to is required');
const seed = values.seed ? Number(values.seed) : randomInt(2 ** 31);

// mulberry32: small, seedable, good enough to make garbage.
let state = seed >>> 0;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(rand() * n);
function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

function service(label: string, txt: Array<string | Buffer>, opts: { host?: string; port?: number } = {}): DnsAnswer[] {
  const fqdn = `${label}.${TYPE_NAME}`;
  const host = opts.host ?? 'garbage.local';
  return [
    { name: TYPE_NAME, type: 'PTR', ttl: 4500, data: fqdn },
    { name: fqdn, type: 'SRV', ttl: 120, data: { priority: 0, weight: 0, port: opts.port ?? 47474, target: host } },
    { name: fqdn, type: 'TXT', ttl: 4500, data: txt },
    { name: host, type: 'A', ttl: 120, data: ownIpv4() },
  ];
}
const response = (answers: DnsAnswer[]): Buffer => dnsPacket.encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers } satisfies DnsMessage);
const goodTxt = () => ['v=1', `id=${FAKE_ID}`, 'port=47474'];

/** Header: id 0, flags, then the four counts. */
function header(flags: number, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return h;
}

/** One resource record whose owner name is a compression pointer to offset 12. */
function rrAt12(type: number, rdata: Buffer, ttl = 4500): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0);
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4);
  fixed.writeUInt32BE(ttl, 6);
  fixed.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([fixed, rdata]);
}

const PTR = 12;
const typeName = dnsPacket.encode({ type: 'query', questions: [{ name: TYPE_NAME, type: 'PTR' }] }).subarray(12, 12 + TYPE_NAME.length + 2);

const KINDS: Record<string, () => Buffer> = {
  // Anything at all, from empty to a full Ethernet frame.
  random: () => bytes(int(1500)),
  // A plausible header (response, small counts) in front of random bytes: gets deeper into the parser.
  'random-body': () => Buffer.concat([header(0x8400, [int(3), 1 + int(8), int(3), int(8)]), bytes(int(600))]),
  // A valid Parley answer cut short anywhere.
  truncated: () => {
    const full = response(service(`Cut-${int(1e6)}`, goodTxt()));
    return full.subarray(0, 1 + int(full.length - 1));
  },
  // ~9000 bytes (the mDNS maximum, so fragmented on the wire): random, or valid records padded out.
  oversize: () => {
    if (int(2) === 0) return bytes(9000 + int(100));
    const filler = Array.from({ length: 34 }, (_, i) => `f${i}=${'x'.repeat(250)}`);
    return response(service(`Big-${int(1e6)}`, [...goodTxt(), ...filler]));
  },
  // A valid packet whose header claims 65535 of everything.
  'absurd-counts': () => {
    const full = response(service(`Counts-${int(1e6)}`, goodTxt()));
    const counts: [number, number, number, number] = [0xffff, 0xffff, 0xffff, 0xffff];
    if (int(2) === 0) counts[0] = 0; // a response with no questions but endless answers
    return Buffer.concat([header(0x8400, counts), full.subarray(12)]);
  },
  // Valid DNS with hundreds of records: ~470 PTRs for our service type in 9000 bytes, each to a
  // different instance. Not malformed, but nobody honest sends it.
  'many-records': () => {
    const n = 470;
    const parts = [header(0x8400, [0, n, 0, 0])];
    for (let i = 0; i < n; i++) {
      const label = Buffer.from(`x${(int(36 ** 4) + i).toString(36)}`);
      const rdata = Buffer.concat([Buffer.from([label.length]), label, Buffer.from([0xc0, 0x0c])]);
      if (i === 0) {
        // The first record spells the type name out; all others point back at it.
        const fixed = Buffer.alloc(10);
        fixed.writeUInt16BE(PTR, 0);
        fixed.writeUInt16BE(1, 2);
        fixed.writeUInt32BE(4500, 4);
        fixed.writeUInt16BE(rdata.length, 8);
        parts.push(typeName, fixed, rdata);
      } else {
        parts.push(rrAt12(PTR, rdata));
      }
    }
    return Buffer.concat(parts);
  },
  // A query repeating the same question hundreds of times: each one would be answered separately.
  'many-questions': () => {
    const n = 1400;
    const parts = [header(0, [n, 0, 0, 0]), typeName, Buffer.from([0, PTR, 0, 1])];
    for (let i = 1; i < n; i++) parts.push(Buffer.from([0xc0, 0x0c, 0, PTR, 0, 1]));
    return Buffer.concat(parts);
  },
  // Compression pointers to themselves, forward, and past the end.
  'bad-pointers': () => {
    const ptr = [0xc00c, 0xc0ff, 0xffff, 0xc00e][int(4)]!;
    const name = Buffer.alloc(2);
    name.writeUInt16BE(ptr, 0);
    return Buffer.concat([header(0x8400, [0, 1, 0, 0]), name, Buffer.from([0, PTR, 0, 1, 0, 0, 0x11, 0x94, 0, 2]), name]);
  },
  // Label length bytes 64..191 are reserved; names longer than 255 bytes are illegal.
  'bad-labels': () =>
    int(2) === 0
      ? Buffer.concat([header(0x8400, [0, 1, 0, 0]), Buffer.from([0x50]), bytes(0x50), Buffer.from([0, 0, PTR, 0, 1, 0, 0, 0, 1, 0, 0])])
      : Buffer.concat([header(0x8400, [0, 1, 0, 0]), ...Array.from({ length: 6 }, () => Buffer.concat([Buffer.from([63]), bytes(63).fill(0x61)])), Buffer.from([0, 0, PTR, 0, 1, 0, 0, 0, 1, 0, 0])]),
  // Well-formed Parley answers whose TXT id is no peer ID.
  'bad-id': () => {
    const ids = ['', 'not-a-peer-id', FAKE_ID.toLowerCase(), FAKE_ID.slice(1), 'A'.repeat(240), '\u0000'.repeat(52), `${FAKE_ID}=`];
    return response(service(`BadId-${int(1e6)}`, ['v=1', `id=${ids[int(ids.length)]!}`, 'port=47474']));
  },
  // Well-formed, but a TXT version we do not speak, or a missing or absurd port.
  'wrong-version': () => {
    const txts = [
      ['v=2', `id=${FAKE_ID}`, 'port=47474'],
      ['v=', `id=${FAKE_ID}`],
      [`id=${FAKE_ID}`],
      ['v=1', `id=${FAKE_ID}`, 'port=999999'],
      ['v=1', `id=${FAKE_ID}`, `port=${'9'.repeat(200)}`],
    ];
    return response(service(`Version-${int(1e6)}`, txts[int(txts.length)]!, { port: [0, 47474, 65535][int(3)]! }));
  },
  // Huge TXT: hundreds of strings, maximum-length strings, binary values, duplicate and hostile keys.
  'huge-txt': () => {
    const txt: Array<string | Buffer> = [...goodTxt()];
    const n = 30 + int(30);
    for (let i = 0; i < n; i++) {
      const pick = int(5);
      if (pick === 0) txt.push(`k${i}=${'y'.repeat(200)}`);
      else if (pick === 1) txt.push(bytes(1 + int(250)));
      else if (pick === 2) txt.push(`id=${FAKE_ID_2}`);
      else if (pick === 3) txt.push(['__proto__=x', 'constructor=y', 'toString=z', '=', '==='][int(5)]!);
      else txt.push(`v=${int(10)}`);
    }
    return response(service(`HugeTxt-${int(1e6)}`, txt));
  },
  // Instance and host labels that are not UTF-8 (overlong, lone continuation bytes, 0xff, NUL).
  'invalid-utf8': () => {
    const bad = Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0x80, 0xed, 0xa0, 0x80, 0x00, 0xf8, 0x88, 0x80]);
    const marker = 'Q'.repeat(bad.length);
    const buf = response(service(marker, goodTxt(), { host: `${marker}.local` }));
    for (let at = buf.indexOf(marker); at >= 0; at = buf.indexOf(marker, at + 1)) bad.copy(buf, at);
    return buf;
  },
};

const chosen = values.kinds ? values.kinds.split(',') : Object.keys(KINDS);
for (const k of chosen) if (!KINDS[k]) throw new Error(`unknown kind ${k}; known: ${Object.keys(KINDS).join(', ')}`);

const socket = createSocket({ type: 'udp4' });
await new Promise<void>((resolve) => socket.bind(0, resolve));
socket.setMulticastInterface(ownIpv4());
socket.setMulticastTTL(255);

const total = Number(values.count);
const rate = Number(values.rate);
const byKind: Record<string, number> = {};
let sent = 0;
let failed = 0;
const started = Date.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
    while (sent < due) {
      const kind = chosen[sent % chosen.length]!;
      const to = targets[Math.floor(sent / chosen.length) % targets.length]!;
      socket.send(KINDS[kind]!(), Number(values.port), to, (err) => {
        if (err) failed++;
      });
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      sent++;
    }
    if (sent >= total) resolve();
    else setTimeout(tick, 10);
  };
  tick();
});
await new Promise((r) => setTimeout(r, 100));
socket.close();
process.stdout.write(`${JSON.stringify({ type: 'done', sent, failed, seed, byKind })}\n`);
