// Generates RSA identities off the main thread: 2048-bit keygen takes ~0.1 s each here, so the
// pool for the relay load bench is made by all cores at once.
import { parentPort, workerData } from 'node:worker_threads';
import { generateIdentity, type Identity } from '../main/core/identity/identity.ts';

const out: Identity[] = [];
for (let i = 0; i < (workerData as { count: number }).count; i++) out.push(generateIdentity());
parentPort!.postMessage(out);
