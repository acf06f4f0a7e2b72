// Distinct identities for benches that need many relay members (the relay keeps one control
// connection per ID, so 1,000 members need 1,000 keys). Generating them takes minutes on this
// machine, so they are kept in a cache file in the temp dir and reused by later runs; the
// generation time is reported on its own and never counted in a figure.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { PeerIdSchema } from '../main/contract/contract.ts';
import type { Identity } from '../main/core/identity/identity.ts';
import { peerIdFromCertificate } from '../main/core/identity/peer-id.ts';

export const IDENTITY_CACHE = process.env.BENCH_IDENTITY_CACHE ?? path.join(os.tmpdir(), 'parley-bench-identities.json');

const CacheSchema = z.array(z.object({ id: PeerIdSchema, keyPem: z.string().min(1), certPem: z.string().min(1) }));

export function readIdentityCache(file = IDENTITY_CACHE): Identity[] {
  if (!existsSync(file)) return [];
  try {
    const ids = CacheSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) as Identity[];
    // A cache from another build of the ID derivation would give members IDs the relay disagrees with.
    if (ids.length > 0 && peerIdFromCertificate(ids[0]!.certPem) !== ids[0]!.id) return [];
    return ids;
  } catch {
    return [];
  }
}

function generate(count: number, workers: number): Promise<Identity[]> {
  const shares = Array.from({ length: workers }, (_, i) => Math.floor(count / workers) + (i < count % workers ? 1 : 0)).filter((n) => n > 0);
  return Promise.all(
    shares.map(
      (share) =>
        new Promise<Identity[]>((resolve, reject) => {
          const w = new Worker(new URL('./identity-worker.ts', import.meta.url), { workerData: { count: share } });
          w.once('message', (ids: Identity[]) => resolve(ids));
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`identity worker exited with ${code}`)));
        }),
    ),
  ).then((parts) => parts.flat());
}

/** At least `n` distinct identities, from the cache and topped up if needed. */
export async function identityPool(n: number): Promise<{ ids: Identity[]; file: string; generated: number; generateMs: number }> {
  const cached = readIdentityCache();
  if (cached.length >= n) return { ids: cached.slice(0, n), file: IDENTITY_CACHE, generated: 0, generateMs: 0 };
  const t0 = performance.now();
  const fresh = await generate(n - cached.length, os.cpus().length);
  const generateMs = performance.now() - t0;
  const ids = [...cached, ...fresh];
  const tmp = `${IDENTITY_CACHE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(ids), { mode: 0o600 });
  renameSync(tmp, IDENTITY_CACHE);
  return { ids, file: IDENTITY_CACHE, generated: fresh.length, generateMs };
}
