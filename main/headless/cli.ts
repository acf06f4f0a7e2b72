// A full Parley node without Electron. Two faces:
//  --json   JSON lines on stdin/stdout, for scripts and tests that drive separate processes:
//           stdout: {"type":"ready","self":…}, {"type":"event","event":…,"payload":…},
//                   {"type":"result","id":…,"ok":true,"result":…} | {"type":"result","id":…,"ok":false,"error":{code,message}}
//           stdin:  {"id":1,"cmd":"send","args":{…}}
//  default  a small terminal client: /help lists the commands.
// Logs go to stderr as JSON.
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import { eventNames, type MessageInfo, type PeerInfo } from '../contract/contract.ts';
import { ApiError } from '../core/api.ts';
import { startNode, type ParleyNode } from '../core/node.ts';
import { parseTiming } from './timing-flag.ts';

const USAGE = `usage: npm run headless -- --data DIR --name NAME [--port N] [--host ADDR] [--json]
       [--no-discovery | --no-mdns | --no-beacon] [--beacon-port N] [--interfaces eth0,wlan0] [--auto-away SECONDS]
       [--relay parley-relay://HOST:PORT/?id=RELAY-ID ...] [--relay-token T | env PARLEY_RELAY_TOKEN]
The node keeps its settings (relays, interfaces, auto-away, ...) in DIR; --relay, --interfaces
and --auto-away override them for this run only, without changing what is stored, until the
setting is changed with updateSettings.`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        name: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        json: { type: 'boolean', default: false },
        timing: { type: 'string' },
        'no-discovery': { type: 'boolean', default: false },
        'no-mdns': { type: 'boolean', default: false },
        'no-beacon': { type: 'boolean', default: false },
        'beacon-port': { type: 'string' },
        interfaces: { type: 'string' },
        'auto-away': { type: 'string' },
        relay: { type: 'string', multiple: true },
        'relay-token': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help || !values.data) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    console.error(`--port must be 0..65535\n${USAGE}`);
    process.exit(2);
  }
  let node: ParleyNode;
  try {
    node = await startNode({
      dataDir: values.data,
      ...(values.name ? { name: values.name } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(values.timing ? { timing: parseTiming(values.timing) } : {}),
      ...(values['auto-away'] ? { autoAwayMs: Number(values['auto-away']) * 1000 } : {}),
      ...(values.relay ? { relays: values.relay.map((address) => ({ address, token: values['relay-token'] ?? process.env.PARLEY_RELAY_TOKEN })) } : {}),
      discovery: values['no-discovery']
        ? false
        : {
            mdns: !values['no-mdns'],
            beacon: !values['no-beacon'],
            ...(values['beacon-port'] ? { beaconPort: Number(values['beacon-port']) } : {}),
            ...(values.interfaces ? { interfaces: values.interfaces.split(',') } : {}),
          },
    });
  } catch (err) {
    console.error(`parley: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await node.stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('close', () => void shutdown());
  if (values.json) runJson(node, rl);
  else runHuman(node, rl);
}

function write(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function runJson(node: ParleyNode, rl: readline.Interface): void {
  for (const event of eventNames) node.api.on(event, (payload) => write({ type: 'event', event, payload }));
  write({ type: 'ready', self: node.self });
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    let req: { id?: unknown; cmd?: unknown; args?: unknown };
    try {
      req = JSON.parse(line);
    } catch {
      write({ type: 'result', id: null, ok: false, error: { code: 'invalid-args', message: 'not JSON' } });
      return;
    }
    try {
      const result = await node.api.call(req.cmd as never, (req.args ?? {}) as never);
      write({ type: 'result', id: req.id ?? null, ok: true, result });
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'internal';
      write({ type: 'result', id: req.id ?? null, ok: false, error: { code, message: (err as Error).message } });
    }
  });
}

const HELP = `commands:
  /me                         show my ID and address
  /add HOST:PORT PEER-ID      add a peer by address (its full ID, any grouping)
  /peers                      list peers
  /chat NAME-OR-ID            open a conversation (following lines are sent there)
  /history [N]                show the last N messages of the conversation
  /search WORDS               full-text search
  /status online|away|busy [TEXT]
  /quit`;

function runHuman(node: ParleyNode, rl: readline.Interface): void {
  let convId: string | null = null;
  const self = node.self;
  const print = (s: string) => process.stdout.write(`${s}\n`);
  const fmt = (m: MessageInfo) => {
    const who = m.mine ? 'me' : (node.store.getPeer(m.author)?.name ?? m.author.slice(0, 7));
    return `[${new Date(m.ts).toLocaleTimeString()}] ${who}: ${m.text}${m.mine ? `  (${m.state}${m.overdue ? ', not delivered yet' : ''})` : ''}`;
  };
  print(`Parley ${self.name} — ${self.displayId}\nlistening on port ${self.port}. /help for commands.`);
  node.api.on('message', (m) => {
    if (!m.mine) print(fmt(m));
  });
  node.api.on('peer', (p: PeerInfo) => print(`* ${p.name} is ${p.presence}${p.link ? ` (${p.link})` : ''}${p.warning ? ` WARNING: ${p.warning}` : ''}`));
  const findPeer = async (q: string) => {
    const peers = await node.api.call('listPeers', {});
    return peers.find((p) => p.name.toLowerCase() === q.toLowerCase() || p.id.startsWith(q.toUpperCase()) || p.displayId === q.toUpperCase());
  };
  rl.on('line', async (line) => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case '':
        case undefined:
          return;
        case '/help':
          return print(HELP);
        case '/me':
          return print(`${node.self.name} ${node.self.displayId} port ${node.self.port}`);
        case '/add': {
          const p = await node.api.call('addPeer', { address: rest[0] ?? '', id: rest.slice(1).join('') });
          return print(`added ${p.shortId}; connecting…`);
        }
        case '/peers':
          for (const p of await node.api.call('listPeers', {})) print(`${p.shortId} ${p.name} ${p.presence} ${p.link ?? ''} ${p.statusText}`);
          return;
        case '/chat': {
          const p = await findPeer(rest.join(' '));
          if (!p) return print('no such peer');
          convId = (await node.api.call('openConversation', { peerId: p.id })).id;
          return print(`talking to ${p.name}`);
        }
        case '/history': {
          if (!convId) return print('open a conversation with /chat first');
          for (const m of await node.api.call('history', { convId, limit: Number(rest[0] ?? 20) })) print(fmt(m));
          return;
        }
        case '/search':
          for (const h of await node.api.call('search', { query: rest.join(' '), limit: 20 })) print(fmt(h.message));
          return;
        case '/status':
          await node.api.call('setProfile', { presence: rest[0] as 'online', statusText: rest.slice(1).join(' ') });
          return print('status set');
        case '/quit':
          return rl.close();
        default:
          if (cmd.startsWith('/')) return print(`unknown command ${cmd}; /help`);
          if (!convId) return print('open a conversation with /chat first');
          print(fmt(await node.api.call('send', { convId, text: line })));
      }
    } catch (err) {
      print(`error: ${(err as Error).message}`);
    }
  });
}

void main();
