// The receiving side of the file bench, in its own process like a colleague's machine: a full
// node (chat link, SQLite) and its file transfers, on one identity and one event loop, so chat
// latency during a transfer is measured between the same two processes.
//
// stdin (JSON lines): {"accept": {"transferId", "from", "port", "windowBytes", "manifest"}}
// stdout (JSON lines): {"type":"ready", ...self} then per transfer {"type":"done", "verifiedMs", "doneMs", "loopP99Ms", "loopMaxMs"}
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import readline from 'node:readline';
import type { PeerId } from '../main/contract/contract.ts';
import { FILE_ALPN } from '../main/core/files/stream-frames.ts';
import { MemoryTransferStore } from '../main/core/files/transfer-store.ts';
import { TransferManager } from '../main/core/files/transfers.ts';
import { dial } from '../main/core/links/tls.ts';
import { createLogger } from '../main/core/log.ts';
import { startNode } from '../main/core/node.ts';
import { manifestFromJson, type ManifestJson } from '../test/integration/files-manifest-json.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-files-peer-'));
const downloads = mkdtempSync(path.join(process.env.BENCH_FILES_DL_DIR ?? os.tmpdir(), 'parley-bench-files-dl-'));
const log = createLogger('bench-files-peer', 'warn');
const node = await startNode({ dataDir, name: 'bench-files-peer', port: 0, host: '127.0.0.1', discovery: false, log });
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

interface Accept {
  transferId: string;
  from: PeerId;
  port: number;
  windowBytes: number;
  manifest: ManifestJson;
}

async function receive(a: Accept): Promise<void> {
  const manager = new TransferManager({
    selfId: node.identity.id,
    store: new MemoryTransferStore(),
    connect: (peer) => dial({ identity: node.identity, host: '127.0.0.1', port: a.port, expectedId: peer, timeoutMs: 10_000, alpn: FILE_ALPN }),
    log,
    timing: { windowBytes: a.windowBytes },
  });
  const t0 = performance.now();
  // How long this process's event loop (which also carries the chat link) was held up.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let verifiedMs = 0;
  // When every chunk is durable the download turns to 'verifying' (a read-back if one is
  // needed, then publishing).
  const poll = setInterval(() => {
    if (!verifiedMs && manager.list()[0]?.state === 'verifying') verifiedMs = performance.now() - t0;
  }, 5);
  const done = new Promise<string>((resolve, reject) => {
    manager.once('done', (d) => resolve(d.received!.path));
    manager.once('failed', (f) => reject(new Error(`failed: ${f.code}`)));
  });
  await manager.accept(a.transferId, manifestFromJson(a.manifest), a.from, downloads);
  const file = await done;
  const doneMs = performance.now() - t0;
  loop.disable();
  clearInterval(poll);
  await manager.close();
  // Without a read-back the download may pass through 'verifying' between two polls.
  out({ type: 'done', verifiedMs: verifiedMs || doneMs, doneMs, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 });
  // After reporting, and off the loop: unlinking a 1 GiB file takes ~0.5 s here, which on the
  // loop would be counted against the chat probes still running.
  await rm(file);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line) as { accept?: Accept };
  if (msg.accept) receive(msg.accept).catch((err: Error) => out({ type: 'error', message: err.message }));
});
const stop = () =>
  void node.stop().then(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
    process.exit(0);
  });
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
out({ type: 'ready', ...node.self });
