// A Parley node attached to a relay, as its own process, for tests that run nodes where the
// test process cannot (inside network namespaces). Until the headless CLI has a --relay flag
// this is the only way to do that. JSON lines like the headless CLI's --json mode:
//   stdout: {"type":"ready","self":…} {"type":"event","event":"message","payload":…}
//           {"type":"relay","status":…} {"type":"result","id":…,"ok":…,"result"|"error":…}
//   stdin:  {"id":1,"cmd":"send","args":{…}} (contract commands), plus
//           {"id":2,"cmd":"linkKind","args":{"peerId":…}} and {"id":3,"cmd":"relayStatus"}
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { eventNames, type PeerId } from '../../main/contract/contract.ts';
import { attachRelay } from '../../main/core/relay/attach.ts';
import { startNode } from '../../main/core/node.ts';
import { fastTiming } from '../helpers/nodes.ts';
import { fastClientTiming } from './relay-harness.ts';

const { values } = parseArgs({
  options: { data: { type: 'string' }, name: { type: 'string' }, relay: { type: 'string' }, token: { type: 'string' }, host: { type: 'string' } },
});
if (!values.data || !values.name || !values.relay) {
  console.error('usage: relay-node-process.ts --data DIR --name NAME --relay URL [--token T] [--host ADDR]');
  process.exit(2);
}
const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const node = await startNode({ dataDir: values.data, name: values.name, port: 0, host: values.host ?? '0.0.0.0', timing: fastTiming });
const relay = attachRelay(node, { address: values.relay, token: values.token ?? null, timing: fastClientTiming, checkEveryMs: 200, tunnelRetryMinMs: 50, tunnelRetryMaxMs: 500 });
for (const event of eventNames) node.api.on(event, (payload) => write({ type: 'event', event, payload }));
relay.on('status', (status) => write({ type: 'relay', status }));

const shutdown = async () => {
  await relay.stop();
  await node.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  let req: { id?: number; cmd?: string; args?: Record<string, unknown> };
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  try {
    let result: unknown;
    if (req.cmd === 'linkKind') result = node.links.get(req.args?.peerId as PeerId)?.kind ?? null;
    else if (req.cmd === 'relayStatus') result = { status: relay.status, directory: relay.directory, tunnels: relay.tunnelStats };
    else result = await node.api.call(req.cmd as never, (req.args ?? {}) as never);
    write({ type: 'result', id: req.id, ok: true, result });
  } catch (err) {
    write({ type: 'result', id: req.id, ok: false, error: { message: (err as Error).message } });
  }
});
write({ type: 'ready', self: node.self });
