// A hostile LAN neighbour for netlab tests: sends forged Parley beacons to one address.
//   --to ADDR          destination (the lab's broadcast address; never anything outside the lab)
//   --port N           beacon port
//   --claim ID         announce this peer ID (default: a fresh random ID per packet)
//   --name NAME        display name to claim
//   --rate N           packets per second (default 10)
//   --seconds S        how long (default 1)
//   --service-port N   TCP port announced in the forged beacon (default 47999)
// Prints {"type":"done","sent":N} when finished.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { encodeBeacon } from '../../main/core/discovery/beacon-packet.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string', default: '47800' },
    claim: { type: 'string' },
    name: { type: 'string', default: 'Mallory' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '1' },
    // The TCP port the forged beacon points at: a real listener there makes the victim try TLS.
    'service-port': { type: 'string', default: '47999' },
  },
});
if (!values.to) throw new Error('--to is required');
const to = values.to;
const port = Number(values.port);
const rate = Number(values.rate);
const total = Math.max(1, Math.round(rate * Number(values.seconds)));
const instance = randomBytes(9).toString('base64url');

const socket = createSocket({ type: 'udp4' });
await new Promise<void>((resolve) => socket.bind(0, resolve));
socket.setBroadcast(true);

function packet(): Buffer {
  return encodeBeacon({
    t: 'hello',
    id: values.claim ?? peerIdFromSpki(randomBytes(44)),
    instance,
    port: Number(values['service-port']),
    name: values.name,
    presence: 'online',
    statusText: 'forged',
  });
}

// Sends in 10 ms slices so that high rates are smooth rather than one burst per second.
let sent = 0;
const started = Date.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
    while (sent < due) {
      socket.send(packet(), port, to);
      sent++;
    }
    if (sent >= total) resolve();
    else setTimeout(tick, 10);
  };
  tick();
});
await new Promise((r) => setTimeout(r, 50));
socket.close();
process.stdout.write(`${JSON.stringify({ type: 'done', sent })}\n`);
