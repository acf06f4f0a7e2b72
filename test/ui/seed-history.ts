// Long histories written straight into a node's store before web mode starts on that data
// directory, as if they had been received over years: 100,000 messages take seconds this
// way, against minutes over a live link. Shared by the large-history UI test and the web bench.
import { monotonicFactory } from 'ulid';
import type { PeerId } from '../../main/contract/contract.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';

export interface SeedConversation {
  /** Nobody listens at its address: the peer stays offline, its history is what matters. */
  peerId: PeerId;
  name: string;
  statusText?: string;
  count: number;
  /** Text of the i-th message (0 = oldest). */
  text: (i: number) => string;
  /** Spacing of the authors' clocks; default 25 s (100,000 messages ≈ a month). */
  stepMs?: number;
}

export interface Seeded {
  firstId: string;
  lastId: string;
  ids: (i: number) => string;
}

/** A peer ID nobody has: 52 base32 characters from a short tag. */
export function fakePeerId(tag: string): PeerId {
  return tag.toUpperCase().replace(/[^A-Z2-7]/g, '7').padEnd(52, '7').slice(0, 52) as PeerId;
}

function seedOne(node: ParleyNode, c: SeedConversation): Seeded {
  node.store.upsertPeer({ id: c.peerId, name: c.name, addresses: ['127.0.0.1:9'], presence: 'online', statusText: c.statusText ?? '' });
  const conv = node.store.ensureDirectConversation(node.identity.id, c.peerId);
  const ulid = monotonicFactory();
  const step = c.stepMs ?? 25_000;
  const start = Date.now() - c.count * step;
  const ids: string[] = new Array(c.count);
  const BATCH = 5_000;
  for (let from = 0; from < c.count; from += BATCH) {
    const batch = [];
    for (let i = from; i < Math.min(c.count, from + BATCH); i++) {
      const ts = start + i * step;
      const id = ulid(ts);
      ids[i] = id;
      batch.push({ id, conv: conv.id, author: c.peerId, seq: i + 1, lamport: i + 1, ts, body: { text: c.text(i) } });
    }
    node.store.insertIncoming(batch);
  }
  return { firstId: ids[0]!, lastId: ids[c.count - 1]!, ids: (i) => ids[i]! };
}

/** Seeds each conversation into the profile at `dataDir` (created if new), then stops the node. */
export async function seedHistory(dataDir: string, conversations: SeedConversation[], name = 'Reader'): Promise<Seeded[]> {
  const node = await startNode({ dataDir, name, host: '127.0.0.1', port: 0, discovery: false, log: testLogger() });
  try {
    return conversations.map((c) => seedOne(node, c));
  } finally {
    await node.stop();
  }
}
