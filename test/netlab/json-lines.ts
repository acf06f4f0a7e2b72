// Talks to a child process that speaks JSON lines (the discovery driver, the headless CLI):
// collects every message, waits for one that matches, and sends numbered commands.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type JsonMessage = Record<string, unknown> & { type?: string };

interface Waiter {
  pred: (m: JsonMessage) => boolean;
  resolve: (m: JsonMessage) => void;
}

export class JsonLineProcess {
  readonly child: ChildProcess;
  readonly label: string;
  readonly messages: JsonMessage[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<Waiter>();
  #nextId = 1;

  constructor(child: ChildProcess, label = 'child') {
    this.child = child;
    this.label = label;
    if (!child.stdout || !child.stdin) throw new Error('JsonLineProcess needs stdio pipes');
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: JsonMessage;
      try {
        msg = JSON.parse(line) as JsonMessage;
      } catch {
        return;
      }
      this.messages.push(msg);
      for (const w of [...this.#waiters]) {
        if (w.pred(msg)) {
          this.#waiters.delete(w);
          w.resolve(msg);
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      // Keep the tail only: it is for failure messages.
      this.stderr = (this.stderr + d).slice(-20_000);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The first message (already received or future) matching `pred`. */
  waitFor(pred: (m: JsonMessage) => boolean, timeoutMs: number, what: string): Promise<JsonMessage> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return this.#wait(pred, timeoutMs, what);
  }

  /** The next message from now on matching `pred`. */
  waitForNext(pred: (m: JsonMessage) => boolean, timeoutMs: number, what: string): Promise<JsonMessage> {
    return this.#wait(pred, timeoutMs, what);
  }

  #wait(pred: (m: JsonMessage) => boolean, timeoutMs: number, what: string): Promise<JsonMessage> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}\nstderr tail:\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Sends {id, cmd, args} and resolves with `result`, or rejects with the error it reported. */
  async request<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<T> {
    const id = this.#nextId++;
    const reply = this.waitForNext((m) => m.type === 'result' && m.id === id, timeoutMs, `result of ${cmd}`);
    this.child.stdin!.write(`${JSON.stringify({ id, cmd, args })}\n`);
    const m = await reply;
    if (m.ok !== true) {
      const e = m.error as { code?: unknown; message?: unknown } | string | undefined;
      const text = typeof e === 'object' && e ? `${String(e.code ?? 'error')}: ${String(e.message ?? '')}` : String(e);
      throw new Error(`${this.label}: ${cmd} failed: ${text}`);
    }
    return m.result as T;
  }

  /** Events with the given name, in arrival order. */
  events<T = unknown>(event: string): T[] {
    return this.messages.filter((m) => m.type === 'event' && m.event === event).map((m) => m.payload as T);
  }
}
