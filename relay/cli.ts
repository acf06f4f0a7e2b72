// `npm run relay -- --listen HOST:PORT [--token T] [--data DIR] [--config FILE] [--status HOST:PORT]`
// stdout: the relay's address (parley-relay://host:port/?id=…) on one line, then one JSON
// line {"type":"ready",…}; {"type":"stopped"} on graceful shutdown (SIGTERM/SIGINT).
// Logs: JSON on stderr. Exit codes: 0 stopped, 1 could not start, 2 bad arguments.
import { parseArgs } from 'node:util';
import { displayId } from '../main/core/identity/peer-id.ts';
import { ConfigError, loadConfig, type RelayConfigInput } from './config.ts';
import { RelayServer } from './server.ts';

const USAGE = `usage: npm run relay -- [--listen HOST:PORT] [--token TOKEN] [--data DIR] [--config FILE]
                      [--status HOST:PORT | --no-status] [--public-address HOST[:PORT]]
                      [--limits JSON] [--mailbox JSON]
  --listen          where members and tunnels connect (default 0.0.0.0:47480)
  --token           organisation token members must present (or env PARLEY_RELAY_TOKEN)
  --data            identity and mailbox directory (default ~/.parley-relay)
  --config          JSON file with the same keys (flags win)
  --status          loopback HTTP status endpoint GET /status (default 127.0.0.1:0 = any port)
  --public-address  host[:port] to print in the relay address (behind NAT or DNS)
  --limits/--mailbox  JSON objects overriding single limits, e.g. '{"maxMembers":200}'`;

function fail(message: string, code = 2): never {
  console.error(`parley-relay: ${message}`);
  if (code === 2) console.error(USAGE);
  process.exit(code);
}

/** A JSON object flag; its keys are checked with the rest of the configuration (loadConfig). */
function jsonFlag(flag: string, raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    fail(`--${flag} must be a JSON object`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`--${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        listen: { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
        config: { type: 'string' },
        status: { type: 'string' },
        'no-status': { type: 'boolean', default: false },
        'public-address': { type: 'string' },
        limits: { type: 'string' },
        mailbox: { type: 'string' },
        // Test-only switches: a relay that records or damages what it forwards.
        'debug-capture': { type: 'string' },
        'debug-tamper': { type: 'string' },
        'debug-tamper-after': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const debugFlags = {
    ...(values['debug-capture'] ? { capture: values['debug-capture'] } : {}),
    ...(values['debug-tamper'] ? { tamper: values['debug-tamper'] as 'flip' } : {}),
    ...(values['debug-tamper-after'] ? { tamperAfterBytes: Number(values['debug-tamper-after']) } : {}),
  };
  const debug = Object.keys(debugFlags).length > 0 ? debugFlags : undefined;
  const flags: Partial<RelayConfigInput> = {
    listen: values.listen,
    token: values.token,
    dataDir: values.data,
    statusListen: values['no-status'] ? null : values.status,
    publicAddress: values['public-address'],
    limits: jsonFlag('limits', values.limits) as RelayConfigInput['limits'],
    mailbox: jsonFlag('mailbox', values.mailbox) as RelayConfigInput['mailbox'],
    debug,
  };
  let config;
  try {
    config = loadConfig({ file: values.config, flags, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (config.debug.tamper || config.debug.capture) console.error('parley-relay: WARNING: debug capture/tamper is on; never use this in production');

  let server: RelayServer;
  try {
    server = await RelayServer.start(config);
  } catch (err) {
    fail(`cannot start: ${(err as Error).message}`, 1);
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    await server.stop().catch((err: Error) => server.log.error({ err: err.message }, 'error during shutdown'));
    process.stdout.write(`${JSON.stringify({ type: 'stopped' })}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  process.stdout.write(`${server.url}\n`);
  process.stdout.write(
    `${JSON.stringify({
      type: 'ready',
      url: server.url,
      id: server.id,
      displayId: displayId(server.id),
      listen: config.listen.replace(/:\d+$/, `:${server.port}`),
      port: server.port,
      status: server.statusUrl,
      token: config.token !== null,
      dataDir: config.dataDir,
    })}\n`,
  );
}

void main();
