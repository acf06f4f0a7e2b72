// Idle relay members for the relay load bench, in their own process so the crowd's own work
// (1,000 TLS clients, each keeping the whole directory) neither shares the relay's event loop
// nor the bench's. Each member is a real RelayClient, as a node runs it, with the production
// timing (a ping after 20 s without sending) and its own identity from the bench's cache.
// argv: relay URL, first index into the identity cache, count, joins in flight at once.
// stdout: {"type":"joined","n":…,"ms":…} once all have joined; SIGTERM or stdin closed: leave and exit.
import { RelayClient } from '../main/core/relay/client.ts';
import { testLogger } from '../main/core/log.ts';
import { readIdentityCache } from './identity-pool.ts';

const [url, fromArg, countArg, inFlightArg] = process.argv.slice(2);
const from = Number(fromArg);
const count = Number(countArg);
const inFlight = Number(inFlightArg ?? 32);
const ids = readIdentityCache().slice(from, from + count);
if (!url || ids.length !== count) {
  console.error(`relay-crowd: need ${count} cached identities from ${from}, have ${ids.length}`);
  process.exit(2);
}

const log = testLogger('crowd');
const clients: RelayClient[] = [];
const t0 = performance.now();
const leave = () => void Promise.all(clients.map((c) => c.stop())).then(() => setTimeout(() => process.exit(0), 200));
process.on('SIGTERM', leave);
// stdin is the bench's pipe: if the bench dies without a SIGTERM, the crowd goes with it.
process.stdin.on('end', leave).resume();

function join(i: number): Promise<void> {
  const c = new RelayClient({ address: url!, identity: ids[i]!, profile: () => ({ name: `idle ${from + i}`, presence: 'online' }), log });
  clients.push(c);
  return new Promise((resolve) => {
    const on = () => {
      if (c.status.state !== 'connected') return;
      c.off('status', on);
      resolve();
    };
    c.on('status', on);
    c.start();
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(inFlight, count) }, async () => {
    while (next < count) await join(next++);
  }),
);
process.stdout.write(`${JSON.stringify({ type: 'joined', n: clients.filter((c) => c.connected).length, ms: performance.now() - t0 })}\n`);

