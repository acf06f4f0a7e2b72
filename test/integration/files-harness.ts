// Pieces shared by the file transfer tests, the receiver process and the bench: a pinned TLS
// listener that routes parley-file/1 connections to a TransferManager (as a node's listener
// would), a dialer for the manager's connect(), and test files with many different chunks,
// made fast.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import type { PeerId } from '../../main/contract/contract.ts';
import { FILE_ALPN } from '../../main/core/files/stream-frames.ts';
import type { Identity } from '../../main/core/identity/identity.ts';
import { createListener, dial } from '../../main/core/links/tls.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** A listener like a node's: chat connections are refused here, file streams go to `onFile`. */
export async function fileListener(
  identity: Identity,
  onFile: (socket: tls.TLSSocket, peerId: PeerId) => void,
  opts: { onChat?: (socket: tls.TLSSocket, peerId: PeerId) => void; rejects?: string[] } = {},
): Promise<{ server: tls.Server; port: number; close: () => Promise<void> }> {
  const server = createListener({
    identity,
    handshakeTimeoutMs: 10_000,
    onPeer: opts.onChat ?? ((socket) => socket.destroy()),
    onReject: (reason) => opts.rejects?.push(reason),
    protocols: { [FILE_ALPN]: onFile },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** connect() for a TransferManager: dials `port()` (read at each call: a proxy may move) with the file ALPN. */
export function fileDialer(identity: Identity, port: () => number, host = '127.0.0.1'): (peerId: PeerId) => Promise<tls.TLSSocket> {
  return (peerId) => dial({ identity, host, port: port(), expectedId: peerId, timeoutMs: 10_000, alpn: FILE_ALPN });
}

/**
 * Writes `size` bytes where every 64 KiB block differs (a random 4 MiB pattern, each block
 * stamped with its offset and `seed`), at disk speed rather than randomBytes speed. Returns
 * the SHA-256 (hex) computed while writing.
 */
export async function writeTestFile(file: string, size: number, seed = 1): Promise<string> {
  const pattern = randomBytes(4 * MiB);
  const block = Buffer.allocUnsafe(4 * MiB);
  const hash = createHash('sha256');
  const fh = await fsp.open(file, 'w');
  try {
    for (let off = 0; off < size; off += block.byteLength) {
      const n = Math.min(block.byteLength, size - off);
      pattern.copy(block, 0, 0, n);
      for (let b = 0; b < n; b += 64 * KiB) {
        block.writeDoubleBE(off + b, b);
        block.writeUInt32BE(seed, b + 8);
      }
      const piece = block.subarray(0, n);
      hash.update(piece);
      await fh.write(piece, 0, n, off);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/**
 * A TCP forwarder that passes the sender's bytes at about `bytesPerSec`, so a test can act in
 * the middle of a transfer that would otherwise finish in a blink on loopback.
 */
export class SlowProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  port = 0;
  /** Bytes passed from the sender to the receiver so far. */
  bytesDown = 0;

  private constructor(target: () => number, bytesPerSec: number) {
    // Half-open both ways, so a FIN is passed on after the bytes before it (destroying the
    // other side at once would reset it, and a reset can discard a last frame in flight).
    this.#server = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ port: target(), host: '127.0.0.1', allowHalfOpen: true });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
      }
      const kill = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', kill).on('end', () => upstream.end());
      upstream.on('error', kill).on('end', () => client.end());
      const linger = () => setTimeout(kill, 2000).unref();
      client.on('close', linger);
      upstream.on('close', linger);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d: Buffer) => {
        this.bytesDown += d.byteLength;
        client.write(d);
        upstream.pause();
        setTimeout(() => upstream.resume(), (d.byteLength / bytesPerSec) * 1000);
      });
    });
  }

  /** `target()` is read for each new connection (the sender may restart on another port). */
  static async start(target: () => number, bytesPerSec: number): Promise<SlowProxy> {
    const p = new SlowProxy(target, bytesPerSec);
    await new Promise<void>((r) => p.#server.listen(0, '127.0.0.1', r));
    p.port = (p.#server.address() as net.AddressInfo).port;
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
