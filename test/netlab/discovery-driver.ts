// Runs startDiscovery() in one netlab host with a fresh, real key-derived peer ID and
// speaks the headless CLI's JSON-lines dialect, so tests can drive it the same way:
//   stdout: {"type":"ready","self":{...}}  then  {"type":"event","event":"candidate"|"gone"|"warning","payload":...}
//   stdin:  {"id":1,"cmd":"diagnostics"|"peers"|"updateSelf"|"stop","args":{...}}
//           answered by {"type":"result","id":1,"ok":true,"result":...}
// Flags: --name N --port P --mdns on|off --beacon on|off --beacon-port N --interfaces a,b --quiet-after-ms MS
import { generateKeyPairSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';
import { startDiscovery } from '../../main/core/discovery/index.ts';
import { createLogger } from '../../main/core/log.ts';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'node' },
    port: { type: 'string', default: '47900' },
    mdns: { type: 'string', default: 'on' },
    beacon: { type: 'string', default: 'on' },
    'beacon-port': { type: 'string' },
    interfaces: { type: 'string' },
    'quiet-after-ms': { type: 'string' },
  },
});

const spki = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
const self = {
  id: peerIdFromSpki(spki),
  name: values.name,
  port: Number(values.port),
  presence: 'online' as const,
  statusText: '',
};

function out(msg: unknown): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

const discovery = await startDiscovery({
  self,
  mdns: values.mdns !== 'off',
  beacon: values.beacon !== 'off',
  beaconPort: values['beacon-port'] ? Number(values['beacon-port']) : undefined,
  interfaces: values.interfaces ? values.interfaces.split(',') : 'auto',
  quietAfterMs: values['quiet-after-ms'] ? Number(values['quiet-after-ms']) : undefined,
  log: createLogger('discovery-driver'),
});
for (const event of ['candidate', 'gone', 'warning'] as const) {
  discovery.on(event, (payload: unknown) => out({ type: 'event', event, payload }));
}
out({ type: 'ready', self });

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await discovery.stop();
  process.exit(code);
}
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: { id?: unknown; cmd?: unknown; args?: Record<string, unknown> };
  try {
    req = JSON.parse(line) as typeof req;
  } catch {
    out({ type: 'result', id: null, ok: false, error: 'not JSON' });
    return;
  }
  const id = req.id ?? null;
  try {
    switch (req.cmd) {
      case 'diagnostics':
        out({ type: 'result', id, ok: true, result: discovery.diagnostics() });
        break;
      case 'peers':
        out({ type: 'result', id, ok: true, result: discovery.peers() });
        break;
      case 'updateSelf':
        discovery.updateSelf(req.args ?? {});
        out({ type: 'result', id, ok: true, result: null });
        break;
      case 'stop':
        void discovery.stop().then(() => {
          out({ type: 'result', id, ok: true, result: null });
          process.exit(0);
        });
        break;
      default:
        out({ type: 'result', id, ok: false, error: `unknown command ${String(req.cmd)}` });
    }
  } catch (err) {
    out({ type: 'result', id, ok: false, error: (err as Error).message });
  }
});
rl.on('close', () => void stop(0));
