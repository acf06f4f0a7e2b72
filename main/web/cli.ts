// `npm run web -- --data DIR [--name NAME] [--port N] [--web-port N]`: a Parley node plus
// the web UI in any browser. Prints one JSON line on stdout, {"type":"web","url":…,"self":…},
// for scripts and tests; logs go to stderr. The URL carries this start's secret token.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../core/log.ts';
import { startNode, type ParleyNode } from '../core/node.ts';
import { parseTiming } from '../headless/timing-flag.ts';
import { startBridge, type Bridge } from './bridge.ts';
import { needsName, planName, trackNameChoice } from './name-setup.ts';

const USAGE = `usage: npm run web -- --data DIR [--name NAME] [--port N] [--host ADDR] [--web-port N] [--web-host ADDR --allow-remote] [--static DIR] [--no-discovery]`;
const DEFAULT_STATIC = path.resolve(import.meta.dirname, '../../dist/renderer');

function portOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be 0..65535`);
  return n;
}

async function main(): Promise<void> {
  let values;
  let port: number | undefined;
  let webPort: number | undefined;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        name: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'web-port': { type: 'string' },
        'web-host': { type: 'string' },
        'allow-remote': { type: 'boolean', default: false },
        static: { type: 'string' },
        timing: { type: 'string' },
        'no-discovery': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
    port = portOption(values.port, '--port');
    webPort = portOption(values['web-port'], '--web-port');
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help || !values.data) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const staticDir = path.resolve(values.static ?? DEFAULT_STATIC);
  if (!existsSync(path.join(staticDir, 'index.html'))) {
    console.error(`parley: no built UI in ${staticDir}; run \`npm run build\` first`);
    process.exit(1);
  }
  const dataDir = path.resolve(values.data);
  const log = createLogger('parley-web');

  let node: ParleyNode;
  let bridge: Bridge;
  try {
    const plan = planName(dataDir, values.name);
    node = await startNode({
      dataDir,
      ...(plan.name ? { name: plan.name } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(values.timing ? { timing: parseTiming(values.timing) } : {}),
      ...(values['no-discovery'] ? { discovery: false as const } : {}),
      log,
    });
  } catch (err) {
    console.error(`parley: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  try {
    bridge = await startBridge({
      api: trackNameChoice(node.api, dataDir),
      staticDir,
      ...(webPort !== undefined ? { port: webPort } : {}),
      ...(values['web-host'] ? { host: values['web-host'] } : {}),
      allowRemote: values['allow-remote'],
      needsName: () => needsName(dataDir),
      media: node.attachments.media,
      log,
    });
  } catch (err) {
    console.error(`parley: cannot serve the UI: ${(err as Error).message}`);
    await node.stop().catch(() => undefined);
    process.exit(1);
  }

  process.stdout.write(`${JSON.stringify({ type: 'web', url: bridge.url, self: node.self })}\n`);
  if (process.stdout.isTTY) process.stderr.write(`\nOpen Parley in your browser: ${bridge.url}\n\n`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await bridge.close().catch(() => undefined);
    await node.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

void main();
