// Shared pieces of the relay tests: a relay as a real process (the CLI) or in this process,
// and nodes that know each other only through a relay.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { PeerId } from '../../main/contract/contract.ts';
import type { RelayClientTiming } from '../../main/core/relay/client.ts';
import { attachRelay, type RelayAttachment } from '../../main/core/relay/attach.ts';
import { testLogger } from '../../main/core/log.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { parseConfig, type RelayConfigInput, type RelayLimits } from '../../relay/config.ts';
import { RelayServer, type CaptureFn, type RelayStatusSnapshot } from '../../relay/server.ts';
import { fastTiming, node, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = path.resolve(import.meta.dirname, '../../relay/cli.ts');

/** Deadlines short enough for tests, limits loose enough for many loopback connections. */
export const testLimits: Partial<RelayLimits> = {
  perIpBurst: 10_000,
  perIpPerMinute: 100_000,
  connectBurst: 1000,
  connectPerMinute: 100_000,
  handshakeTimeoutMs: 3000,
  joinTimeoutMs: 3000,
  keyTimeoutMs: 3000,
  pingIntervalMs: 500,
  pingTimeoutMs: 3000,
};

export const fastClientTiming: Partial<RelayClientTiming> = {
  connectTimeoutMs: 3000,
  joinTimeoutMs: 3000,
  pingIdleMs: 300,
  deadAfterMs: 3000,
  retryMinMs: 100,
  retryMaxMs: 1000,
  requestTimeoutMs: 5000,
  pairTimeoutMs: 5000,
  handshakeTimeoutMs: 3000,
};

export class RelayProcess {
  url = '';
  id = '' as PeerId;
  port = 0;
  statusUrl: string | null = null;
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly dataDir: string;
  private readonly proc: ChildProcessWithoutNullStreams;

  private constructor(proc: ChildProcessWithoutNullStreams, dataDir: string) {
    this.proc = proc;
    this.dataDir = dataDir;
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    readline.createInterface({ input: proc.stderr }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 500) this.stderr.shift();
    });
  }

  /** Starts `npm run relay` (node relay/cli.ts) and waits for its ready line. */
  static start(opts: { dataDir?: string; port?: number; token?: string; limits?: Partial<RelayLimits>; args?: string[] } = {}): Promise<RelayProcess> {
    const dataDir = opts.dataDir ?? tempDir('parley-relay-');
    const args = [CLI, '--listen', `127.0.0.1:${opts.port ?? 0}`, '--data', dataDir, '--status', '127.0.0.1:0'];
    if (opts.token) args.push('--token', opts.token);
    args.push('--limits', JSON.stringify({ ...testLimits, ...opts.limits }));
    args.push(...(opts.args ?? []));
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PARLEY_LOG: process.env.PARLEY_LOG ?? 'info' } });
    const relay = new RelayProcess(proc, dataDir);
    return new Promise((resolve, reject) => {
      readline.createInterface({ input: proc.stdout }).on('line', (line) => {
        if (line.startsWith('parley-relay://')) relay.url = line.trim();
        if (!line.startsWith('{')) return;
        try {
          const msg = JSON.parse(line) as { type: string; url: string; id: PeerId; port: number; status: string | null };
          if (msg.type === 'ready') {
            relay.id = msg.id;
            relay.port = msg.port;
            relay.statusUrl = msg.status;
            if (msg.url !== relay.url) reject(new Error(`ready line url ${msg.url} differs from printed ${relay.url}`));
            resolve(relay);
          }
        } catch {
          // not ours
        }
      });
      relay.exited.then((code) => reject(new Error(`relay exited with ${code} before ready:\n${relay.stderr.join('\n')}`)));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  async status(): Promise<RelayStatusSnapshot> {
    const res = await fetch(this.statusUrl!);
    return (await res.json()) as RelayStatusSnapshot;
  }

  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

export async function startRelay(
  overrides: Partial<Omit<RelayConfigInput, 'limits'>> & { limits?: Partial<RelayLimits> } = {},
  capture?: CaptureFn,
): Promise<RelayServer> {
  const config = parseConfig({
    listen: '127.0.0.1:0',
    dataDir: tempDir('parley-relay-'),
    statusListen: null,
    ...overrides,
    limits: { ...testLimits, ...overrides.limits },
  });
  return RelayServer.start(config, { log: testLogger('relay'), ...(capture ? { capture } : {}) });
}

export interface RelayedNode {
  node: ParleyNode;
  relay: RelayAttachment;
  stop(): Promise<void>;
}

/** A node on loopback whose only way to its peers is the relay (nobody is given its address). */
export async function relayedNode(name: string, relayUrl: string, opts: { token?: string; dataDir?: string } = {}): Promise<RelayedNode> {
  const n = await node(name, opts.dataDir ?? tempDir(), fastTiming);
  const relay = attachRelay(n, {
    address: relayUrl,
    token: opts.token ?? null,
    timing: fastClientTiming,
    checkEveryMs: 200,
    tunnelRetryMinMs: 50,
    tunnelRetryMaxMs: 500,
    log: testLogger(`${name}-relay`),
  });
  return {
    node: n,
    relay,
    async stop() {
      await relay.stop();
      await n.stop();
    },
  };
}

export async function waitRelayConnected(r: RelayedNode, timeoutMs = 10_000): Promise<void> {
  await waitFor(`${r.node.self.name} joined the relay`, () => r.relay.status.state === 'connected', timeoutMs);
}
