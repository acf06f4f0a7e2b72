// Real nodes for tests: each has its own temp data directory, identity, SQLite file and
// TLS listener on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageInfo } from '../../main/contract/contract.ts';
import { defaultTiming, type Timing } from '../../main/core/links/timing.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';

export const fastTiming: Timing = {
  ...defaultTiming,
  redialMinMs: 50,
  redialMaxMs: 400,
  pingIdleMs: 300,
  deadAfterMs: 1500,
  helloTimeoutMs: 3000,
  handshakeTimeoutMs: 3000,
  deliveryDeadlineMs: 2000,
};

const dirs: string[] = [];

export function tempDir(prefix = 'parley-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function node(name: string, dataDir = tempDir(), timing: Partial<Timing> = fastTiming): Promise<ParleyNode> {
  return startNode({ dataDir, name, port: 0, host: '127.0.0.1', timing, log: testLogger(name), discovery: false });
}

/**
 * Nodes a test file starts: `start` remembers them, `stop` forgets, and `stopAll` (for the
 * file's `after`) stops what is still running, so a failing test leaves no node behind.
 */
export function nodePool() {
  const running = new Set<ParleyNode>();
  return {
    running,
    async start(name: string, dir?: string): Promise<ParleyNode> {
      const n = await node(name, dir);
      running.add(n);
      return n;
    },
    async stop(n: ParleyNode): Promise<void> {
      running.delete(n);
      await n.stop();
    },
    async stopAll(): Promise<void> {
      await Promise.all([...running].map((n) => n.stop()));
      running.clear();
    },
  };
}

/** Introduces b to a (a dials b) and returns a's conversation with b once the link is up. */
export async function connect(a: ParleyNode, b: ParleyNode, address = `127.0.0.1:${b.self.port}`): Promise<string> {
  await a.api.call('addPeer', { address, id: b.self.id });
  const conv = await a.api.call('openConversation', { peerId: b.self.id });
  return conv.id;
}

/** Collects every message event of a node, latest state per ID; `changes` are messageChanged events. */
export function recorder(n: ParleyNode) {
  const byId = new Map<string, MessageInfo>();
  const arrivals: MessageInfo[] = [];
  const changes: MessageInfo[] = [];
  n.api.on('message', (m) => {
    if (!m.mine && !byId.has(m.id)) arrivals.push(m);
    byId.set(m.id, m);
  });
  n.api.on('messageChanged', (m) => {
    changes.push(m);
    byId.set(m.id, m);
  });
  return { byId, arrivals, changes };
}

/** Whole conversation, oldest first, walking history pages back to the start. */
export async function fullHistory(n: ParleyNode, convId: string): Promise<MessageInfo[]> {
  const out: MessageInfo[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await n.api.call('history', before ? { convId, before, limit: 500 } : { convId, limit: 500 });
    out.unshift(...page);
    if (page.length < 500) return out;
    before = page[0]!.id;
  }
}
