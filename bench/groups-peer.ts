// Group members for the fan-out bench, several full nodes per process (TLS listener, SQLite
// with synchronous=FULL each), like colleagues' machines squeezed into a few processes.
//
// argv: <count> <name prefix>
// stdout (JSON lines): {"type":"ready","members":[{id,port}]}, then for each run
//   {"type":"done","run","at"} once every node here has stored `count` messages of that run
//   (`at` in epoch ms, performance.timeOrigin + performance.now(): comparable across processes).
// stdin (JSON lines): {"expect":{"run","count"}}
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createLogger } from '../main/core/log.ts';
import { startNode, type ParleyNode } from '../main/core/node.ts';

const [count, prefix] = [Number(process.argv[2]), process.argv[3] ?? 'member'];
const dirs: string[] = [];
const nodes: ParleyNode[] = [];
const log = createLogger('bench-groups-peer', 'warn');
for (let i = 0; i < count; i++) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-groups-'));
  dirs.push(dataDir);
  nodes.push(await startNode({ dataDir, name: `${prefix}-${i}`, port: 0, host: '127.0.0.1', discovery: false, log }));
}
const now = () => performance.timeOrigin + performance.now();
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** Per run: the messages each node stored (by ID: a changed message is emitted again), and how many the run sends. */
const got = new Map<number, Array<Set<string>>>();
const fresh = () => Array.from({ length: nodes.length }, () => new Set<string>());
const expected = new Map<number, number>();
const reported = new Set<number>();

function check(run: number): void {
  const want = expected.get(run);
  const counts = got.get(run);
  if (want === undefined || reported.has(run) || !counts) return;
  if (counts.length === nodes.length && counts.every((c) => c.size >= want)) {
    reported.add(run);
    out({ type: 'done', run, at: now() });
  }
}

nodes.forEach((n, k) => {
  n.api.on('message', (m) => {
    if (m.mine) return;
    const match = /^fanout (\d+) /.exec(m.text);
    if (!match) return;
    const run = Number(match[1]);
    const counts = got.get(run) ?? fresh();
    got.set(run, counts);
    counts[k]!.add(m.id);
    check(run);
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line) as { expect?: { run: number; count: number } };
  if (msg.expect) {
    expected.set(msg.expect.run, msg.expect.count);
    got.set(msg.expect.run, got.get(msg.expect.run) ?? fresh());
    check(msg.expect.run);
  }
});
const stop = () =>
  void Promise.allSettled(nodes.map((n) => n.stop())).then(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    process.exit(0);
  });
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
out({ type: 'ready', members: nodes.map((n) => ({ id: n.self.id, port: n.self.port })) });
