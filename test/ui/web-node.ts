// A Parley node in web mode (main/web/cli.ts) in its own process, plus a Chromium driven by
// playwright-core. Real processes, real sockets, the real built renderer.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createServer } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import WebSocket from 'ws';
import type { CommandArgs, CommandName, CommandResult, SelfInfo } from '../../main/contract/contract.ts';
import { TOKEN_PROTOCOL_PREFIX, WIRE_PROTOCOL, WS_PATH } from '../../main/web/wire.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'main/web/cli.ts');
export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-results');

/** Saves a screenshot of the page as test-results/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Why UI tests cannot run here, or null when they can. */
export function uiSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (set PARLEY_CHROMIUM)`;
  if (!existsSync(path.join(ROOT, 'dist/renderer/index.html'))) return 'renderer not built: run `npm run build`';
  return null;
}

export class WebNode {
  url!: string;
  origin!: string;
  self!: SelfInfo;
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcessWithoutNullStreams;

  private constructor(proc: ChildProcessWithoutNullStreams) {
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    readline.createInterface({ input: proc.stderr }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 200) this.stderr.shift();
    });
  }

  static start(opts: { dataDir: string; name?: string; webPort?: number; timing?: Record<string, number> }): Promise<WebNode> {
    // No LAN discovery between parallel tests: peers are added by address.
    const args = [CLI, '--no-discovery', '--data', opts.dataDir, '--host', '127.0.0.1', '--port', '0', '--web-port', String(opts.webPort ?? 0)];
    if (opts.name) args.push('--name', opts.name);
    if (opts.timing) args.push('--timing', JSON.stringify(opts.timing));
    const proc = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PARLEY_LOG: process.env.PARLEY_LOG ?? 'warn' },
    });
    const node = new WebNode(proc);
    return new Promise((resolve, reject) => {
      readline.createInterface({ input: proc.stdout }).once('line', (line) => {
        try {
          const msg = JSON.parse(line) as { type: string; url: string; self: SelfInfo };
          node.url = msg.url;
          node.origin = new URL(msg.url).origin;
          node.self = msg.self;
          resolve(node);
        } catch (err) {
          reject(err as Error);
        }
      });
      void node.exited.then((code) => reject(new Error(`web node exited with ${code}: ${node.stderr.join('\n')}`)));
    });
  }

  get token(): string {
    return new URL(this.url).hash.replace(/^#token=/, '');
  }

  get address(): string {
    return `127.0.0.1:${this.self.port}`;
  }

  private ws: Promise<WebSocket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  /** Calls a command through the bridge, as the page does (for setting up scenes quickly). */
  async call<K extends CommandName>(cmd: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    this.ws ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${new URL(this.origin).host}${WS_PATH}`, [WIRE_PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${this.token}`], { origin: this.origin });
      ws.on('message', (d) => {
        const msg = JSON.parse(d.toString()) as { type: string; id?: number; ok?: boolean; result?: unknown; error?: { message: string } };
        if (msg.type === 'hello') resolve(ws);
        if (msg.type !== 'result' || msg.id === undefined) return;
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(new Error(msg.error?.message ?? 'failed'));
      });
      ws.once('error', reject);
    });
    const ws = await this.ws;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, cmd, args }));
    });
  }

  async stop(): Promise<void> {
    if (this.ws) (await this.ws.catch(() => null))?.close();
    this.proc.kill('SIGTERM');
    await this.exited;
  }
}

/** A port that was free a moment ago (for restarting web mode on the same origin). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** `extraArgs`: e.g. autoplay without a gesture, or a fake microphone, for media tests. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}
