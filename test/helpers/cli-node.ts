// A Parley node in its own OS process (the headless CLI in --json mode), driven over
// stdin/stdout exactly as a script would drive it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { CommandArgs, CommandName, CommandResult, EventName, Events, SelfInfo } from '../../main/contract/contract.ts';
import type { Timing } from '../../main/core/links/timing.ts';

const CLI = path.resolve(import.meta.dirname, '../../main/headless/cli.ts');

export class CliNode {
  self!: SelfInfo;
  readonly stderr: string[] = [];
  exited: Promise<number | null>;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private listeners: Array<(event: string, payload: unknown) => void> = [];
  private readonly proc: ChildProcessWithoutNullStreams;

  private constructor(proc: ChildProcessWithoutNullStreams, onReady: (self: SelfInfo) => void) {
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      let msg: { type: string; id?: number; ok?: boolean; result?: unknown; error?: { message: string }; event?: string; payload?: unknown; self?: SelfInfo };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.type === 'ready') onReady(msg.self!);
      else if (msg.type === 'result') {
        const p = this.pending.get(msg.id!);
        this.pending.delete(msg.id!);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(new Error(msg.error?.message ?? 'failed'));
      } else if (msg.type === 'event') for (const l of this.listeners) l(msg.event!, msg.payload);
    });
    readline.createInterface({ input: proc.stderr }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 200) this.stderr.shift();
    });
  }

  static start(opts: { dataDir: string; name: string; port?: number; timing?: Partial<Timing>; extraArgs?: string[] }): Promise<CliNode> {
    const args = [CLI, '--json', '--no-discovery', '--data', opts.dataDir, '--name', opts.name, '--host', '127.0.0.1', '--port', String(opts.port ?? 0)];
    if (opts.timing) args.push('--timing', JSON.stringify(opts.timing));
    args.push(...(opts.extraArgs ?? []));
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PARLEY_LOG: process.env.PARLEY_LOG ?? 'warn' } });
    return new Promise((resolve, reject) => {
      const node: CliNode = new CliNode(proc, (self) => {
        node.self = self;
        resolve(node);
      });
      node.exited.then((code) => reject(new Error(`node ${opts.name} exited with ${code} before ready: ${node.stderr.join('\n')}`)));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  call<K extends CommandName>(cmd: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  on<E extends EventName>(event: E, cb: (payload: Events[E]) => void): void {
    this.listeners.push((e, p) => {
      if (e === event) cb(p as Events[E]);
    });
  }

  /** SIGKILL: no goodbye, no flush beyond what was committed. */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    await this.exited;
  }
}
