// A receiving node's transfer side as its own OS process, for tests and the bench that kill and
// restart it: identity and transfer state live in --data, so a restarted process resumes its
// downloads from the store and the sinks' journals.
//
//   node files-receiver-process.ts --data DIR --dl DIR --port N [--window-bytes N]
// stdin (JSON lines):  {"accept": {"transferId", "from", "manifest": <manifestToJson>}}
// stdout (JSON lines): {"type":"ready","id"} {"type":"progress",...} {"type":"done","path","ms"} {"type":"failed",...}
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { PeerId } from '../../main/contract/contract.ts';
import { FILE_ALPN } from '../../main/core/files/stream-frames.ts';
import { FolderTransferStore } from '../../main/core/files/transfer-store.ts';
import { TransferManager } from '../../main/core/files/transfers.ts';
import { loadOrCreateIdentity } from '../../main/core/identity/identity.ts';
import { dial } from '../../main/core/links/tls.ts';
import { createLogger } from '../../main/core/log.ts';
import { manifestFromJson, type ManifestJson } from './files-manifest-json.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    dl: { type: 'string' },
    port: { type: 'string' },
    'window-bytes': { type: 'string' },
  },
});
const dataDir = values.data!;
const identity = loadOrCreateIdentity(dataDir);
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const started = performance.now();

const manager = new TransferManager({
  selfId: identity.id,
  store: new FolderTransferStore(path.join(dataDir, 'transfers')),
  connect: (peerId) => dial({ identity, host: '127.0.0.1', port: Number(values.port), expectedId: peerId, timeoutMs: 10_000, alpn: FILE_ALPN }),
  log: createLogger('receiver', process.env.PARLEY_LOG ?? 'warn'),
  timing: {
    retryMinMs: 100,
    retryMaxMs: 1000,
    progressEveryMs: 50,
    ...(values['window-bytes'] ? { windowBytes: Number(values['window-bytes']) } : {}),
  },
});
manager.on('progress', (p) => out({ type: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSec: p.bytesPerSec, etaMs: p.etaMs }));
manager.on('done', (d) => out({ type: 'done', path: d.received?.path, ms: performance.now() - started }));
manager.on('failed', (f) => out({ type: 'failed', ...f }));
manager.on('canceled', (c) => out({ type: 'canceled', ...c }));
await manager.start();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line) as { accept?: { transferId: string; from: PeerId; manifest: ManifestJson } };
  if (msg.accept) {
    const a = msg.accept;
    manager.accept(a.transferId, manifestFromJson(a.manifest), a.from, values.dl!).catch((err: Error) => out({ type: 'error', message: err.message }));
  }
});
process.stdin.on('end', () => void manager.close().then(() => process.exit(0)));
out({ type: 'ready', id: identity.id });
