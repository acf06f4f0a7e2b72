// The receiving node for the messaging benchmark, in its own process like a colleague's
// machine: a full node (TLS, SQLite with synchronous=FULL) that prints its identity once and
// then only works. (The JSON CLI would also print every event, which is the UI's cost, not
// the messenger's.)
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../main/core/log.ts';
import { startNode } from '../main/core/node.ts';

const node = await startNode({
  dataDir: mkdtempSync(path.join(os.tmpdir(), 'parley-bench-peer-')),
  name: 'bench-peer',
  port: 0,
  host: '127.0.0.1',
  discovery: false,
  log: createLogger('bench-peer', 'warn'),
});
process.stdout.write(`${JSON.stringify(node.self)}\n`);
process.on('SIGTERM', () => void node.stop().then(() => process.exit(0)));
