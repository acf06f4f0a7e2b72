// Minimal UDP tool for netlab tests.
//   listen --port P            prints {"type":"ready"} then {"type":"packet","from":ADDR,"text":T} per datagram
//   send --to ADDR --port P --text T [--count N]
// Listens on 0.0.0.0 so it sees unicast and broadcast alike.
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    to: { type: 'string' },
    text: { type: 'string', default: 'ping' },
    count: { type: 'string', default: '3' },
  },
});
const port = Number(values.port);

if (positionals[0] === 'listen') {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  s.on('message', (msg, rinfo) => process.stdout.write(`${JSON.stringify({ type: 'packet', from: rinfo.address, text: msg.toString() })}\n`));
  s.bind(port, '0.0.0.0', () => process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`));
} else if (positionals[0] === 'send') {
  const s = createSocket({ type: 'udp4' });
  s.bind(0, () => {
    s.setBroadcast(true);
    let left = Number(values.count);
    const next = () => {
      if (left-- <= 0) return s.close();
      s.send(values.text, port, values.to, () => setTimeout(next, 20));
    };
    next();
  });
} else {
  process.stderr.write('usage: udp-probe.ts listen|send ...\n');
  process.exit(2);
}
