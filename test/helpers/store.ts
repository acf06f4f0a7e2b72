// Temp-dir stores and message fixtures for the store tests.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monotonicFactory } from 'ulid';
import type { PeerId } from '../../main/contract/contract.ts';
import { openStore, type MsgFrameLike, type Store } from '../../main/core/store/store.ts';

/** A canonical-looking peer ID: 52 base32 characters. */
export const peer = (ch: string): PeerId => ch.repeat(52);
export const ME = peer('M');
export const BOB = peer('B');
export const CAROL = peer('C');

const dirs: string[] = [];

export function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'parley-'));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

const stores: Store[] = [];

/** A fresh store in its own temp dir; closed by closeStores(). */
export function tempStore(): { store: Store; file: string } {
  const file = path.join(tempDir(), 'data', 'parley.db');
  const store = openStore(file);
  stores.push(store);
  return { store, file };
}

export function closeStores(): void {
  for (const s of stores.splice(0)) s.close();
}

export const newId = monotonicFactory();

/** A `msg` frame as the peer would send it. */
export function frame(convId: string, author: PeerId, seq: number, lamport: number, text: string, ts = 1_700_000_000_000 + seq): MsgFrameLike {
  return { id: newId(), conv: convId, author, seq, lamport, ts, body: { text } };
}

/** Sends `texts` from me to `to` in one batch. */
export function send(store: Store, convId: string, to: PeerId, texts: string[], from: PeerId = ME) {
  return store.insertOutgoing(texts.map((text) => ({ id: newId(), convId, author: from, text, ts: Date.now(), peerId: to })));
}
