// The baseline for relay throughput, in its own process like the relay: the least a relay can
// do. It speaks just enough of the data-connection handshake (PRLYDATA + 32-byte key, answered
// with [0x50, 0]) that the same client code opens a tunnel through it, pairs two connections
// that present the same key, and then pipe()s them together: no limits, no accounting, no
// idle timers. Prints its port on stdout; exits when stdin closes.
import net from 'node:net';
import { DATA_HELLO_BYTES, DATA_MAGIC, DATA_REPLY, DATA_REPLY_TAG } from '../main/core/relay/frames.ts';

const waiting = new Map<string, net.Socket>();
const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  let buf = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.byteLength < DATA_HELLO_BYTES) return;
    s.off('data', onData);
    s.pause();
    if (!buf.subarray(0, DATA_MAGIC.length).equals(DATA_MAGIC)) return void s.destroy();
    const key = buf.subarray(DATA_MAGIC.length, DATA_HELLO_BYTES).toString('hex');
    if (buf.byteLength > DATA_HELLO_BYTES) s.unshift(buf.subarray(DATA_HELLO_BYTES));
    const other = waiting.get(key);
    if (!other) {
      waiting.set(key, s);
      s.once('close', () => waiting.get(key) === s && waiting.delete(key));
      return;
    }
    waiting.delete(key);
    const ok = Buffer.from([DATA_REPLY_TAG, DATA_REPLY.ok]);
    other.write(ok);
    s.write(ok);
    other.pipe(s);
    s.pipe(other);
    other.once('close', () => s.destroy());
    s.once('close', () => other.destroy());
  };
  s.on('data', onData);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`));
// stdin is the bench's pipe: the forwarder never outlives the bench.
process.stdin.on('end', () => process.exit(0)).resume();
