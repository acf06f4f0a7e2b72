// `npm run bench`: every figure next to a baseline measured in the same run.
// `npm run bench -- messaging relay` runs only the named benches.
import os from 'node:os';
import { discoveryBench } from './discovery.bench.ts';
import { filesBench } from './files.bench.ts';
import { groupsBench } from './groups.bench.ts';
import { messagingBench } from './messaging.bench.ts';
import { relayBench } from './relay.bench.ts';
import { webBench } from './web.bench.ts';

const benches: Record<string, () => Promise<void>> = {
  messaging: messagingBench,
  relay: relayBench,
  files: filesBench,
  groups: groupsBench,
  discovery: discoveryBench,
  web: webBench,
};

const wanted = process.argv.slice(2);
console.log(`# Parley benchmarks — ${new Date().toISOString()}`);
console.log(`node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, data in ${os.tmpdir()}, load ${os.loadavg()[0]!.toFixed(1)}`);
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) await bench();
}
