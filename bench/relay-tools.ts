// Pieces shared by the relay throughput and load benches: how the bench relay is configured,
// members as nodes run them (RelayClient), tunnels opened the way a node opens them, and byte
// pumps that run through those tunnels.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import type { PeerId } from '../main/contract/contract.ts';
import type { Identity } from '../main/core/identity/identity.ts';
import { testLogger } from '../main/core/log.ts';
import { RelayClient } from '../main/core/relay/client.ts';
import type { RelayFrameOf } from '../main/core/relay/frames.ts';
import { openDataConnection } from '../main/core/relay/tunnel.ts';
import { LimitsSchema, type RelayLimits } from '../relay/config.ts';
import { waitFor } from '../test/helpers/wait.ts';

/**
 * The production limits, except the ones that would measure the limits rather than the relay:
 * every bench client comes from 127.0.0.1 (one office behind one NAT address would too), the
 * member cap must fit the crowd, and the per-tunnel bandwidth cap (4 MiB/s) would be the
 * throughput figure. Timeouts and the ping interval stay as in production, so "idle" means
 * what it means on a real relay (the test harness's short deadlines would not).
 */
export function benchLimitOverrides(maxMembers: number): Partial<RelayLimits> {
  return { perIpBurst: 0, perIpPerMinute: 0, maxMembers: Math.max(maxMembers, LimitsSchema.parse({}).maxMembers), sessionBytesPerSec: 0 };
}

export function benchLimits(maxMembers: number): RelayLimits {
  return { ...LimitsSchema.parse({}), ...benchLimitOverrides(maxMembers) };
}

export function describeOverrides(maxMembers: number): string {
  const o = benchLimitOverrides(maxMembers);
  return `bench relay config: production defaults except perIpBurst=${o.perIpBurst}, perIpPerMinute=${o.perIpPerMinute} (0 = unlimited: all clients are 127.0.0.1), maxMembers=${o.maxMembers}, sessionBytesPerSec=${o.sessionBytesPerSec} (unlimited; default 4 MiB/s per tunnel and direction)`;
}

const log = testLogger('bench-relay-member');

/** A member as a node runs it (production timing), once it has joined. */
export async function joinedMember(url: string, identity: Identity, name: string): Promise<RelayClient> {
  const c = new RelayClient({ address: url, identity, profile: () => ({ name, presence: 'online' }), log });
  c.start();
  await waitFor(`${name} joined the relay`, () => c.connected, 120_000, 10);
  return c;
}

function invitation(c: RelayClient, peer: PeerId, timeoutMs = 30_000): Promise<RelayFrameOf<'invite'>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      c.off('invite', onInvite);
      c.off('connectFailed', onFailed);
    };
    const onInvite = (f: RelayFrameOf<'invite'>) => {
      if (f.peer !== peer) return;
      cleanup();
      resolve(f);
    };
    const onFailed = (p: PeerId, reason: string) => {
      if (p !== peer) return;
      cleanup();
      reject(new Error(`the relay refused the tunnel: ${reason}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error('no invitation from the relay in time'));
    }, timeoutMs);
    c.on('invite', onInvite);
    c.on('connectFailed', onFailed);
  });
}

export interface TunnelEnds {
  /** The side that asked for the tunnel. */
  a: net.Socket;
  b: net.Socket;
}

/**
 * A tunnel from a to b through the relay. 'raw': the two spliced data connections themselves
 * (what the relay forwards is bytes either way); 'tls': the peers' pinned TLS inside, exactly
 * as a relayed link runs it.
 */
export async function relayTunnel(a: { client: RelayClient; id: PeerId }, b: { client: RelayClient; id: PeerId }, mode: 'raw' | 'tls'): Promise<TunnelEnds> {
  const invites = Promise.all([invitation(a.client, b.id), invitation(b.client, a.id)]);
  if (!a.client.requestTunnel(b.id)) throw new Error('not connected to the relay');
  const [ia, ib] = await invites;
  if (mode === 'tls') {
    const [sa, sb] = await Promise.all([a.client.openTunnel(ia), b.client.openTunnel(ib)]);
    return { a: sa, b: sb };
  }
  const { host, port } = a.client.address;
  const [sa, sb] = await Promise.all([
    openDataConnection({ host, port, key: ia.key, timeoutMs: 30_000 }),
    openDataConnection({ host, port, key: ib.key, timeoutMs: 30_000 }),
  ]);
  return { a: sa, b: sb };
}

export const CHUNK = randomBytes(64 * 1024);

/** Writes `bytes` as fast as the stream takes them. */
export async function push(s: net.Socket, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(CHUNK.byteLength, bytes - sent);
    const more = s.write(n === CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, n));
    sent += n;
    if (!more) await once(s, 'drain');
  }
}

/** Resolves when `s` has received `bytes`; rejects if it closes first. */
export function receive(s: net.Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.byteLength;
      if (got >= bytes) resolve();
    });
    s.once('error', reject);
    s.once('close', () => got < bytes && reject(new Error(`stream closed after ${got} of ${bytes} bytes`)));
    s.resume();
  });
}

/** Runs `fn` for 0..n-1 with at most `limit` at once. */
export async function inBatches<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}
