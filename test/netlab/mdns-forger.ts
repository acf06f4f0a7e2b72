// A hostile LAN neighbour for netlab tests: publishes a forged `_parley._tcp` service over
// mDNS whose TXT claims someone else's peer ID, pointing at this host's own address and port.
//   --claim ID          the peer ID to claim (required)
//   --name NAME         display name; the default instance name is '<NAME>-<short id>'
//   --instance LABEL    instance name(s) to publish, repeatable. Passing the victim's own
//                       instance name makes the forged SRV/TXT collide with the real ones.
//   --host NAME         SRV target (default 'mallory-forged.local'); its A record is this host's address
//   --port N            the TCP port in SRV and TXT: a real Parley node there makes the victim try TLS
//   --every MS          unsolicited announcements this often (default 1000)
//   --seconds S         how long (default 5); a goodbye is not sent, the forger just falls silent
// Answers PTR/ANY queries for _parley._tcp.local as well, like a real responder.
// Prints {"type":"ready"} once listening and {"type":"done","sent":N} when finished.
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { dnsPacket, MDNS_GROUP, MDNS_PORT, ownIpv4, type DnsAnswer, type DnsMessage } from './dns-lib.ts';

const TYPE_NAME = '_parley._tcp.local';

const { values } = parseArgs({
  options: {
    claim: { type: 'string' },
    name: { type: 'string', default: 'Mallory' },
    instance: { type: 'string', multiple: true },
    host: { type: 'string', default: 'mallory-forged.local' },
    port: { type: 'string', default: '47474' },
    every: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
  },
});
if (!values.claim) throw new Error('--claim is required');
const claim = values.claim;
const port = Number(values.port);
const address = ownIpv4();
const instances = values.instance?.length ? values.instance : [`${values.name}-${claim.slice(0, 7)}`];

function records(): DnsAnswer[] {
  const out: DnsAnswer[] = [];
  for (const label of instances) {
    const fqdn = `${label}.${TYPE_NAME}`;
    out.push(
      { name: TYPE_NAME, type: 'PTR', ttl: 4500, data: fqdn },
      { name: fqdn, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port, target: values.host } },
      { name: fqdn, type: 'TXT', ttl: 4500, flush: true, data: ['v=1', `id=${claim}`, `port=${port}`] },
    );
  }
  out.push({ name: values.host, type: 'A', ttl: 120, flush: true, data: address });
  return out;
}

const socket = createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(MDNS_PORT, '0.0.0.0', resolve));
socket.addMembership(MDNS_GROUP, address);
socket.setMulticastInterface(address);
socket.setMulticastTTL(255);
socket.setMulticastLoopback(false);

let sent = 0;
function announce(): void {
  const msg: DnsMessage = { type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: records() };
  socket.send(dnsPacket.encode(msg), MDNS_PORT, MDNS_GROUP);
  sent++;
}

socket.on('message', (buf) => {
  let msg: DnsMessage;
  try {
    msg = dnsPacket.decode(buf);
  } catch {
    return;
  }
  const asks = msg.type === 'query' && (msg.questions ?? []).some((q) => (q.type === 'PTR' || q.type === 'ANY') && q.name.toLowerCase() === TYPE_NAME);
  if (asks) announce();
});

process.stdout.write(`${JSON.stringify({ type: 'ready', address })}\n`);
announce();
const timer = setInterval(announce, Number(values.every));
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
clearInterval(timer);
socket.close();
process.stdout.write(`${JSON.stringify({ type: 'done', sent })}\n`);
