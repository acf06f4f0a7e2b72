// Hostile peers on parley-file/1, over real TLS: a sender whose bytes do not match, who sends
// what was not asked for, oversize or undecodable frames; a receiver who asks for what does not
// exist, too much at once, or sends garbage. Either way the other side ends that stream with a
// reason, never crashes, never publishes a file that does not match its manifest, and keeps
// serving honest peers; a receiver retries a misbehaving sender a few times and then stops,
// keeping what it verified.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import type { PeerId } from '../../main/contract/contract.ts';
import { chunkCount, chunkLength, type FileManifest } from '../../main/core/files/manifest.ts';
import {
  encodeDataHead,
  encodeFileFrame,
  FILE_ALPN,
  FILE_STREAM_VERSION,
  FileFrameDecoder,
  MAX_FILE_FRAME_BYTES,
  type FileFrame,
} from '../../main/core/files/stream-frames.ts';
import { MemoryTransferStore } from '../../main/core/files/transfer-store.ts';
import { TransferManager, type TransferEvents, type TransferTiming } from '../../main/core/files/transfers.ts';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { dial } from '../../main/core/links/tls.ts';
import { testLogger } from '../../main/core/log.ts';
import { waitFor } from '../helpers/wait.ts';
import { fileDialer, fileListener, KiB, sha256File, writeTestFile } from './files-harness.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'parley-files-hostile-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});
const dir = (name: string) => mkdtempSync(path.join(root, `${name}-`));
const fast: Partial<TransferTiming> = { retryMinMs: 20, retryMaxMs: 100, stallMs: 3000, openTimeoutMs: 1000, maxStrikes: 2 };

function manager(id: Identity, connect: (p: PeerId) => Promise<tls.TLSSocket>, timing: Partial<TransferTiming> = {}) {
  const m = new TransferManager({ selfId: id.id, store: new MemoryTransferStore(), connect, log: testLogger('files'), timing: { ...fast, ...timing } });
  const failed: Array<TransferEvents['failed'][0]> = [];
  const done: Array<TransferEvents['done'][0]> = [];
  m.on('failed', (f) => failed.push(f));
  m.on('done', (d) => done.push(d));
  cleanups.push(() => m.close());
  return { m, failed, done };
}

/** A real sender with one offer of 100 chunks of 64 KiB, for `to`. */
async function honestSender(to: PeerId) {
  const id = generateIdentity();
  const s = manager(id, () => Promise.reject(new Error('a sender does not dial')));
  const listener = await fileListener(id, (socket, peer) => s.m.handleIncoming(socket, peer));
  cleanups.push(listener.close);
  const src = path.join(dir('src'), 'file.bin');
  const hash = await writeTestFile(src, 100 * 64 * KiB);
  const offer = await s.m.offer(to, src, { chunkSize: 64 * KiB });
  return { id, ...s, port: listener.port, offer, hash };
}

const data = (i: number, o: number, b: Uint8Array) => Buffer.concat([encodeDataHead(i, o, b.byteLength), b]);
const lengthPrefix = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const rawFrame = (value: unknown) => {
  const p = encode(value);
  return Buffer.concat([lengthPrefix(p.byteLength), p]);
};

/** What a hostile sender does with the receiver's first `req`. */
const SENDER_TRICKS: Array<[what: string, expect: string, trick: (req: number[], m: FileManifest) => Buffer]> = [
  ['bytes that do not match the chunk hash', 'bad-chunk', (req, m) => data(req[0]!, 0, randomBytes(chunkLength(m, req[0]!)))],
  ['a chunk that was not asked for', 'protocol', (req, m) => data(chunkCount(m.size, m.chunkSize) - 1, 0, randomBytes(64 * KiB))],
  ['bytes past the end of the chunk', 'protocol', (req) => data(req[0]!, 0, randomBytes(128 * KiB))],
  ["a chunk's bytes out of order", 'protocol', (req) => data(req[0]!, 4096, randomBytes(4096))],
  ['a frame longer than the cap', 'protocol', () => Buffer.concat([lengthPrefix(MAX_FILE_FRAME_BYTES + 1), randomBytes(64 * KiB)])],
  ['a length of 4 GiB', 'protocol', () => lengthPrefix(0xffffffff)],
  ['garbage', 'protocol', () => randomBytes(4096)],
  ['a frame of an unknown type', 'protocol', () => rawFrame({ t: 'zap', x: 1 })],
  ['a frame only a receiver sends', 'protocol', () => encodeFileFrame({ t: 'req', i: [0] })],
  ['a second ready', 'protocol', () => encodeFileFrame({ t: 'ready', window: 4 })],
  ['data whose bin is a string', 'protocol', () => rawFrame({ t: 'data', i: 0, o: 0, b: 'x'.repeat(100) })],
];

/**
 * A listener with the sender's own key that answers `open` with `ready` and the first `req`
 * with `trick`. From connection number `honestFrom` on, it hands streams to the real sender.
 */
async function hostileSender(sender: Awaited<ReturnType<typeof honestSender>>, trick: (req: number[], m: FileManifest) => Buffer, honestFrom = Infinity) {
  const state = { connections: 0 };
  const l = await fileListener(sender.id, (socket, peer) => {
    if (++state.connections >= honestFrom) return sender.m.handleIncoming(socket, peer);
    const dec = new FileFrameDecoder();
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      let frames: FileFrame[];
      try {
        frames = dec.push(d);
      } catch {
        return socket.destroy();
      }
      for (const f of frames) {
        if (f.t === 'open') socket.write(encodeFileFrame({ t: 'ready', window: 64 }));
        if (f.t === 'req') socket.write(trick(f.i, sender.offer.manifest));
      }
    });
  });
  cleanups.push(l.close);
  return { state, port: l.port };
}

describe('a hostile sender', () => {
  for (const [what, expect, trick] of SENDER_TRICKS) {
    it(`sending ${what}: the receiver retries, then stops with '${expect}', and nothing is published`, async () => {
      const receiverId = generateIdentity();
      const sender = await honestSender(receiverId.id);
      const hostile = await hostileSender(sender, trick);
      const r = manager(receiverId, fileDialer(receiverId, () => hostile.port));
      const dl = dir('dl');
      await r.m.accept(sender.offer.transferId, sender.offer.manifest, sender.id.id, dl);
      const failed = await waitFor('the receiver gives up', () => r.failed[0], 20_000);
      assert.deepEqual(failed, { transferId: sender.offer.transferId, direction: 'receive', peerId: sender.id.id, code: expect, by: 'peer', resumable: true });
      assert.equal(hostile.state.connections, 2, 'one retry (maxStrikes 2), then no more');
      assert.deepEqual(readdirSync(dl).filter((n) => !n.startsWith('.')), [], 'nothing under a final name');
      assert.deepEqual(
        r.m.list().map((t) => [t.state, t.error?.code, t.bytesDone]),
        [['failed', expect, 0]],
        'kept for retry(), nothing counted from the bad stream',
      );
    });
  }

  it('that misbehaves once and then behaves: the receiver retries and the file arrives intact', async () => {
    const receiverId = generateIdentity();
    const sender = await honestSender(receiverId.id);
    const hostile = await hostileSender(sender, (req, m) => data(req[0]!, 0, randomBytes(chunkLength(m, req[0]!))), 2);
    const r = manager(receiverId, fileDialer(receiverId, () => hostile.port), { maxStrikes: 3 });
    const dl = dir('dl');
    await r.m.accept(sender.offer.transferId, sender.offer.manifest, sender.id.id, dl);
    const done = await waitFor('received', () => r.done[0], 20_000);
    assert.equal(await sha256File(done.received!.path), sender.hash);
    assert.deepEqual(r.failed, []);
    await waitFor('the sender is done', () => sender.done[0], 10_000);
  });
});

/** A raw parley-file/1 client with `me`'s key: send bytes, read the sender's frames. */
async function rawReceiver(me: Identity, port: number, senderId: PeerId) {
  const socket = await dial({ identity: me, host: '127.0.0.1', port, expectedId: senderId, timeoutMs: 5000, alpn: FILE_ALPN });
  const frames: FileFrame[] = [];
  const dec = new FileFrameDecoder();
  socket.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, frames, closed };
}

describe('a hostile receiver', () => {
  it('gets each bad stream ended with a reason, and the sender goes on serving the honest one', async () => {
    const bob = generateIdentity();
    const sender = await honestSender(bob.id);
    const { transferId } = sender.offer;
    const digest = sender.offer.digest;
    const count = 100;
    const open = (o: { id?: string; digest?: string; have?: Uint8Array<ArrayBuffer> } = {}) =>
      encodeFileFrame({ t: 'open', v: FILE_STREAM_VERSION, id: o.id ?? transferId, digest: o.digest ?? digest, have: o.have ?? new Uint8Array(13) });
    const req = (i: number[]) => encodeFileFrame({ t: 'req', i });
    const cases: Array<[what: string, bytes: Buffer, expect: { code: string; resumable: boolean } | 'closed']> = [
      ['garbage', randomBytes(2048), { code: 'protocol', resumable: true }],
      ['a frame longer than the cap', lengthPrefix(MAX_FILE_FRAME_BYTES + 1), { code: 'protocol', resumable: true }],
      ['a first frame that is not open', req([0]), { code: 'protocol', resumable: true }],
      ['a transfer that does not exist', open({ id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }), { code: 'unknown-transfer', resumable: false }],
      ['the right transfer with another manifest', open({ digest: 'ab'.repeat(32) }), { code: 'unknown-transfer', resumable: false }],
      ['a have bitmap of the wrong size', open({ have: new Uint8Array(3) }), { code: 'protocol', resumable: true }],
      ['a chunk past the end', Buffer.concat([open(), req([count])]), { code: 'protocol', resumable: true }],
      ['the same chunk twice', Buffer.concat([open(), req([5, 5])]), { code: 'protocol', resumable: true }],
      ['more chunks than the window', Buffer.concat([open(), req([...Array(40).keys()]), req([...Array(40).keys()].map((i) => i + 40))]), { code: 'protocol', resumable: true }],
      ['data, which only a sender sends', Buffer.concat([open(), data(0, 0, randomBytes(100))]), { code: 'protocol', resumable: true }],
      ['nothing at all', Buffer.alloc(0), 'closed'],
    ];
    for (const [what, bytes, expect] of cases) {
      const c = await rawReceiver(bob, sender.port, sender.id.id);
      if (bytes.byteLength > 0) c.socket.write(bytes);
      await c.closed;
      const end = c.frames.find((f) => f.t === 'end');
      if (expect === 'closed') assert.equal(end, undefined, `${what}: closed without a word`);
      else assert.deepEqual(end && { code: end.code, resumable: end.resumable }, expect, what);
    }
    assert.deepEqual(sender.failed, [], 'a misbehaving receiver is not a failed transfer');

    const r = manager(bob, fileDialer(bob, () => sender.port));
    await r.m.accept(transferId, sender.offer.manifest, sender.id.id, dir('dl'));
    const done = await waitFor('the honest receiver gets the file', () => r.done[0], 20_000);
    assert.equal(await sha256File(done.received!.path), sender.hash);
  });
});
