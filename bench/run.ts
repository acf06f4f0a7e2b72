// `npm run bench`: every figure next to a baseline measured in the same run.
import os from 'node:os';
import { messagingBench } from './messaging.bench.ts';

console.log(`# Parley benchmarks — ${new Date().toISOString()}`);
console.log(`node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, data in ${os.tmpdir()}`);
await messagingBench();
