// File transfers between two TransferManagers over real pinned TLS on loopback, with real
// files: parley-file/1 streams (their own connections, ALPN on the node's listener), resume
// after drops and after the sender restarts, cancel from either side, errors reported to the
// other side, the wrong peer refused, and chunks pulled through a real relay that only ever
// sees ciphertext. (The 1 GiB run with a receiver process killed and restarted is
// files-transfer-resume.test.ts; hostile peers are files-transfer-hostile.test.ts.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import { TransferError } from '../../main/core/files/errors.ts';
import { FILE_ALPN } from '../../main/core/files/stream-frames.ts';
import { FolderTransferStore, MemoryTransferStore, type TransferStore } from '../../main/core/files/transfer-store.ts';
import { TransferManager, type TransferEvents, type TransferTiming } from '../../main/core/files/transfers.ts';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { createListener, dial, LinkError } from '../../main/core/links/tls.ts';
import { testLogger } from '../../main/core/log.ts';
import { ALPN } from '../../main/core/protocol/frames.ts';
import { RelayClient } from '../../main/core/relay/client.ts';
import type { RelayFrameOf } from '../../main/core/relay/frames.ts';
import { openTunnel } from '../../main/core/relay/tunnel.ts';
import { TcpProxy } from '../helpers/proxy.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { fileDialer, fileListener, KiB, MiB, sha256File, SlowProxy, writeTestFile } from './files-harness.ts';
import { fastClientTiming, startRelay } from './relay-harness.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'parley-files-transfer-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

const dir = (name: string) => mkdtempSync(path.join(root, `${name}-`));
const fast: Partial<TransferTiming> = { retryMinMs: 50, retryMaxMs: 400, stallMs: 5000, progressEveryMs: 50 };

type Rec = { type: keyof TransferEvents; e: Record<string, unknown> };
/** Records every event of a manager, in order. */
function recorder(m: TransferManager) {
  const events: Rec[] = [];
  for (const type of ['progress', 'done', 'failed', 'canceled'] as const) {
    m.on(type, (e: object) => events.push({ type, e: e as Record<string, unknown> }));
  }
  const of = (type: keyof TransferEvents) => events.filter((x) => x.type === type).map((x) => x.e);
  const progressed = (bytes: number) => of('progress').some((p) => (p.bytesDone as number) >= bytes);
  return { events, of, progressed };
}

interface Side {
  id: Identity;
  manager: TransferManager;
  rec: ReturnType<typeof recorder>;
  port: number;
  stop: () => Promise<void>;
}

/** A node's transfer side: its own listener (file ALPN routed to the manager) and connect(). */
async function side(
  opts: { id?: Identity; store?: TransferStore; target?: () => number; connect?: (p: PeerId) => Promise<tls.TLSSocket>; timing?: Partial<TransferTiming> } = {},
): Promise<Side> {
  const id = opts.id ?? generateIdentity();
  const target = opts.target ?? (() => 0);
  const manager: TransferManager = new TransferManager({
    selfId: id.id,
    store: opts.store ?? new MemoryTransferStore(),
    connect: opts.connect ?? fileDialer(id, () => target()),
    log: testLogger('files'),
    timing: { ...fast, ...opts.timing },
  });
  const rec = recorder(manager);
  const listener = await fileListener(id, (socket, peerId) => manager.handleIncoming(socket, peerId));
  await manager.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await manager.close();
    await listener.close();
  };
  cleanups.push(stop);
  return { id, manager, rec, port: listener.port, stop };
}

const visible = (d: string) => readdirSync(d).filter((n) => !n.startsWith('.'));
const hidden = (d: string) => readdirSync(d).filter((n) => n.startsWith('.parley-'));

/** Counts the bytes that reach the receiver over its file streams. */
function countingDialer(id: Identity, port: () => number) {
  const counter = { bytes: 0, connections: 0 };
  const inner = fileDialer(id, port);
  const connect = async (peer: PeerId) => {
    const s = await inner(peer);
    counter.connections++;
    s.on('data', (d: Buffer) => (counter.bytes += d.byteLength));
    return s;
  };
  return { counter, connect };
}

describe('file transfer over parley-file/1', () => {
  it('delivers a file whole, with progress, speed and time remaining on both sides', async () => {
    const sender = await side();
    const receiver = await side({ target: () => sender.port });
    const src = path.join(dir('src'), 'report.bin');
    const hash = await writeTestFile(src, 24 * MiB + 777);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    assert.deepEqual(
      sender.manager.list().map((t) => [t.transferId, t.state, t.direction]),
      [[transferId, 'offered', 'send']],
    );
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    const done = await waitFor('the receiver is done', () => receiver.rec.of('done')[0], 60_000);
    await waitFor('the sender is done', () => sender.rec.of('done')[0], 10_000);

    const received = done.received as { path: string; name: string; size: number };
    assert.equal(received.name, 'report.bin');
    assert.equal(await sha256File(received.path), hash);
    assert.deepEqual(visible(dl), ['report.bin']);
    assert.deepEqual(hidden(dl), [], 'no temp file or journal left');

    for (const s of [sender, receiver]) {
      const progress = s.rec.of('progress') as Array<{ bytesDone: number; bytesTotal: number; bytesPerSec: number; etaMs: number | null }>;
      assert.ok(progress.length >= 2, 'several progress events');
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytesDone >= progress[i - 1]!.bytesDone, 'progress never goes back');
      assert.equal(progress.at(-1)!.bytesDone, manifest.size);
      assert.equal(progress.at(-1)!.bytesTotal, manifest.size);
      assert.equal(progress.at(-1)!.etaMs, 0);
      assert.ok(
        progress.some((p) => p.bytesPerSec > 0 && p.etaMs !== null && p.etaMs > 0),
        'a speed and a time remaining while it ran',
      );
    }
    assert.deepEqual(sender.manager.list(), [], 'the sender forgets a finished offer');
    assert.deepEqual(receiver.manager.list(), []);
    assert.equal(sender.rec.of('failed').length + receiver.rec.of('failed').length, 0);
  });

  it('delivers an empty file, and two files at once to the same folder under different names', async () => {
    const sender = await side();
    const receiver = await side({ target: () => sender.port });
    const srcDir = dir('src');
    const dl = dir('dl');
    writeFileSync(path.join(srcDir, 'empty.txt'), '');
    const a = path.join(srcDir, 'a.bin');
    mkdirSync(path.join(srcDir, 'other'));
    const b = path.join(srcDir, 'other', 'a.bin');
    const [ha, hb] = [await writeTestFile(a, 3 * MiB + 1, 1), await writeTestFile(b, 5 * MiB, 2)];
    for (const f of [path.join(srcDir, 'empty.txt'), a, b]) {
      const o = await sender.manager.offer(receiver.id.id, f);
      await receiver.manager.accept(o.transferId, o.manifest, sender.id.id, dl);
    }
    await waitFor('three files received', () => receiver.rec.of('done').length === 3 && sender.rec.of('done').length === 3, 60_000);
    assert.deepEqual(visible(dl).sort(), ['a (1).bin', 'a.bin', 'empty.txt']);
    const hashes = await Promise.all(['a.bin', 'a (1).bin'].map((n) => sha256File(path.join(dl, n))));
    assert.deepEqual(hashes.sort(), [ha, hb].sort());
    assert.equal(readFileSync(path.join(dl, 'empty.txt')).byteLength, 0);
  });

  it('resumes from the last verified chunk after the connection is cut, again and again', async () => {
    const sender = await side();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: sender.port });
    cleanups.push(() => proxy.close());
    const receiverId = generateIdentity();
    const { counter, connect } = countingDialer(receiverId, () => proxy.port);
    // A small window keeps what one cut can cost small, so re-sent bytes show.
    const receiver = await side({ id: receiverId, connect, timing: { windowBytes: 2 * MiB } });
    const src = path.join(dir('src'), 'big.bin');
    const size = 96 * MiB;
    const hash = await writeTestFile(src, size);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    const cuts = [12, 30, 55, 80].map((m) => m * MiB);
    for (const at of cuts) {
      await waitFor(`${at / MiB} MiB verified`, () => receiver.rec.progressed(at), 60_000, 2);
      proxy.cut();
      assert.ok(!visible(dl).includes('big.bin'), 'nothing under the final name yet');
    }
    const done = await waitFor('received', () => receiver.rec.of('done')[0], 60_000);
    assert.equal(await sha256File((done.received as { path: string }).path), hash);
    await waitFor('the sender is done', () => sender.rec.of('done')[0], 10_000);
    assert.ok(counter.connections >= cuts.length + 1, `${counter.connections} connections`);
    // Each cut loses at most the window in flight (2 MiB) plus a chunk being written.
    const extra = counter.bytes - size;
    assert.ok(extra < cuts.length * 4 * MiB + 2 * MiB, `${(extra / MiB).toFixed(1)} MiB more than the file crossed the wire`);
    const progress = receiver.rec.of('progress').map((p) => p.bytesDone as number);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, 'progress never goes back');
  });

  it('resumes from a sender that restarted, with the offer kept in its store', async () => {
    const senderId = generateIdentity();
    const senderState = dir('sender-state');
    let sender = await side({ id: senderId, store: new FolderTransferStore(senderState) });
    const proxy = await SlowProxy.start(() => sender.port, 16 * MiB);
    cleanups.push(() => proxy.close());
    const receiver = await side({ target: () => proxy.port });
    const src = path.join(dir('src'), 'movie.bin');
    const size = 40 * MiB;
    const hash = await writeTestFile(src, size);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    assert.deepEqual(readdirSync(senderState), [`offer-${transferId}.json`]);
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    await waitFor('8 MiB verified', () => receiver.rec.progressed(8 * MiB), 60_000, 5);
    await sender.stop();
    const before = receiver.rec.of('progress').at(-1)!.bytesDone as number;
    assert.ok(before < size);

    sender = await side({ id: senderId, store: new FolderTransferStore(senderState) });
    assert.deepEqual(
      sender.manager.list().map((t) => [t.transferId, t.state]),
      [[transferId, 'offered']],
      'the restarted sender knows the offer',
    );
    receiver.manager.peerReachable(senderId.id);
    const done = await waitFor('received', () => receiver.rec.of('done')[0], 60_000);
    assert.equal(await sha256File((done.received as { path: string }).path), hash);
    await waitFor('the restarted sender is done', () => sender.rec.of('done')[0], 10_000);
    assert.deepEqual(readdirSync(senderState), [], 'the finished offer is forgotten');
    assert.ok(proxy.bytesDown < size + 16 * MiB, `resumed rather than restarted: ${(proxy.bytesDown / MiB).toFixed(1)} MiB crossed`);
  });

  it('is canceled by the receiver: the sender hears it, and the partial file is removed', async () => {
    const sender = await side();
    const proxy = await SlowProxy.start(() => sender.port, 8 * MiB);
    cleanups.push(() => proxy.close());
    const receiver = await side({ target: () => proxy.port });
    const src = path.join(dir('src'), 'x.bin');
    await writeTestFile(src, 32 * MiB);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    await waitFor('2 MiB verified', () => receiver.rec.progressed(2 * MiB), 30_000, 5);
    assert.equal(hidden(dl).length, 2, 'temp file and journal while it runs');
    assert.equal(await receiver.manager.cancel(transferId), true);
    assert.deepEqual(receiver.rec.of('canceled'), [{ transferId, direction: 'receive', peerId: sender.id.id, by: 'me' }]);
    const heard = await waitFor('the sender hears it', () => sender.rec.of('canceled')[0], 10_000);
    assert.deepEqual(heard, { transferId, direction: 'send', peerId: receiver.id.id, by: 'peer' });
    assert.deepEqual(readdirSync(dl), [], 'no partial file, no journal');
    assert.deepEqual(sender.manager.list(), []);
    assert.deepEqual(receiver.manager.list(), []);
    assert.equal(sender.rec.of('done').length + receiver.rec.of('done').length, 0);
  });

  it('is canceled by the sender: the receiver hears it, removes the partial file and does not ask again', async () => {
    const sender = await side();
    const proxy = await SlowProxy.start(() => sender.port, 8 * MiB);
    cleanups.push(() => proxy.close());
    const receiverId = generateIdentity();
    const { counter, connect } = countingDialer(receiverId, () => proxy.port);
    const receiver = await side({ id: receiverId, connect });
    const src = path.join(dir('src'), 'y.bin');
    await writeTestFile(src, 32 * MiB);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    await waitFor('2 MiB verified', () => receiver.rec.progressed(2 * MiB), 30_000, 5);
    assert.equal(await sender.manager.cancel(transferId), true);
    const heard = await waitFor('the receiver hears it', () => receiver.rec.of('canceled')[0], 10_000);
    assert.deepEqual(heard, { transferId, direction: 'receive', peerId: sender.id.id, by: 'peer' });
    await waitFor('the partial file is removed', () => readdirSync(dl).length === 0, 5000);
    assert.deepEqual(receiver.manager.list(), []);
    assert.equal(receiver.rec.of('failed').length, 0);
    const connections = counter.connections;
    await sleep(1000);
    assert.equal(counter.connections, connections, 'no stream is opened again');
  });

  it('is canceled by the receiver while the sender cannot be reached: nothing waits for the connection', async () => {
    const sender = await side();
    const src = path.join(dir('src'), 'w.bin');
    await writeTestFile(src, 4 * MiB);
    const { transferId, manifest } = await sender.manager.offer(generateIdentity().id, src);
    // A connect() that never completes, and no deadline that would end it.
    let attempts = 0;
    const receiver = await side({ connect: () => (attempts++, new Promise<never>(() => {})), timing: { connectTimeoutMs: 3_600_000 } });
    const dl = dir('dl');
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    await waitFor('connecting', () => attempts >= 1);
    assert.equal(await receiver.manager.cancel(transferId), true);
    assert.deepEqual(readdirSync(dl), []);
    assert.equal(receiver.rec.of('canceled').length, 1);
  });

  it('reports a file the receiver cannot take to the sender (name refused, too large)', async () => {
    const sender = await side();
    const receiver = await side({ target: () => sender.port });
    const src = path.join(dir('src'), 'fine.bin');
    await writeTestFile(src, 2 * MiB);
    const dl = dir('dl');

    const refused = await sender.manager.offer(receiver.id.id, src, { name: 'CON.txt' });
    await assert.rejects(receiver.manager.accept(refused.transferId, refused.manifest, sender.id.id, dl), (e) => e instanceof TransferError && e.code === 'unsafe-name');
    const big = await sender.manager.offer(receiver.id.id, src);
    await assert.rejects(
      receiver.manager.accept(big.transferId, big.manifest, sender.id.id, dl, { maxFileBytes: MiB }),
      (e) => e instanceof TransferError && e.code === 'too-large',
    );
    await waitFor('the sender hears both', () => sender.rec.of('failed').length === 2, 10_000);
    const byId = new Map(sender.rec.of('failed').map((f) => [f.transferId, f]));
    assert.deepEqual(byId.get(refused.transferId), { transferId: refused.transferId, direction: 'send', peerId: receiver.id.id, code: 'refused-name', by: 'peer', resumable: false });
    assert.deepEqual(byId.get(big.transferId), { transferId: big.transferId, direction: 'send', peerId: receiver.id.id, code: 'too-large', by: 'peer', resumable: false });
    assert.deepEqual(sender.manager.list(), [], 'both offers are over');
    assert.deepEqual(readdirSync(dl), []);
  });

  it('fails on the sender when its file changes after the offer, and tells the receiver', async () => {
    const sender = await side();
    const proxy = await SlowProxy.start(() => sender.port, 8 * MiB);
    cleanups.push(() => proxy.close());
    const receiver = await side({ target: () => proxy.port });
    const src = path.join(dir('src'), 'draft.bin');
    await writeTestFile(src, 24 * MiB);
    const dl = dir('dl');
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    await waitFor('1 MiB verified', () => receiver.rec.progressed(MiB), 30_000, 5);
    await writeTestFile(src, 24 * MiB, 99);
    const failed = await waitFor('the receiver hears it', () => receiver.rec.of('failed')[0], 20_000);
    assert.deepEqual(failed, { transferId, direction: 'receive', peerId: sender.id.id, code: 'source-changed', by: 'peer', resumable: false });
    assert.deepEqual(sender.rec.of('failed').map((f) => [f.code, f.by]), [['source-changed', 'me']]);
    await waitFor('the partial file is removed', () => readdirSync(dl).length === 0, 5000);
  });
});

describe('the data stream and its peer', () => {
  it('shares the listener with chat links: each connection goes where its ALPN says', async () => {
    const id = generateIdentity();
    const client = generateIdentity();
    const chats: PeerId[] = [];
    const files: PeerId[] = [];
    const l = await fileListener(
      id,
      (s, p) => {
        files.push(p);
        s.destroy();
      },
      { onChat: (s, p) => (chats.push(p), s.destroy()) },
    );
    cleanups.push(l.close);
    const chat = await dial({ identity: client, host: '127.0.0.1', port: l.port, expectedId: id.id, timeoutMs: 5000 });
    const file = await dial({ identity: client, host: '127.0.0.1', port: l.port, expectedId: id.id, timeoutMs: 5000, alpn: FILE_ALPN });
    assert.equal(chat.alpnProtocol, ALPN);
    assert.equal(file.alpnProtocol, FILE_ALPN);
    // (TLS 1.3: the listener has the connection only once the client's Finished arrives.)
    await waitFor('both routed', () => chats.length === 1 && files.length === 1);
    chat.destroy();
    file.destroy();
    assert.deepEqual([chats, files], [[client.id], [client.id]]);
  });

  it('a chat dial refuses a peer that speaks only files, and a file dial one that speaks only chat', async () => {
    const id = generateIdentity();
    const client = generateIdentity();
    const chatOnly = createListener({ identity: id, handshakeTimeoutMs: 5000, onPeer: (s) => s.destroy(), onReject: () => {} });
    await new Promise<void>((r) => chatOnly.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => chatOnly.close(() => r())));
    const fileOnly = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false, ALPNProtocols: [FILE_ALPN] }, (s) => {
      s.on('error', () => {});
    });
    fileOnly.on('tlsClientError', () => {});
    await new Promise<void>((r) => fileOnly.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => fileOnly.close(() => r())));
    const port = (s: tls.Server) => (s.address() as { port: number }).port;

    await assert.rejects(dial({ identity: client, host: '127.0.0.1', port: port(fileOnly), expectedId: id.id, timeoutMs: 5000 }), LinkError);
    await assert.rejects(dial({ identity: client, host: '127.0.0.1', port: port(chatOnly), expectedId: id.id, timeoutMs: 5000, alpn: FILE_ALPN }), LinkError);
    // And the listener refuses a client that offers no known protocol.
    const rejects: string[] = [];
    const dual = await fileListener(id, (s) => s.destroy(), { rejects });
    cleanups.push(dual.close);
    const odd = tls.connect({ host: '127.0.0.1', port: dual.port, key: client.keyPem, cert: client.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: ['parley-other/1'] });
    odd.on('error', () => {});
    await new Promise((r) => odd.once('close', r));
    await waitFor('the listener refused it', () => rejects.length === 1);
  });

  it('tells a third peer nothing about an offer made to someone else', async () => {
    const sender = await side();
    const bob = generateIdentity();
    const src = path.join(dir('src'), 'secret.bin');
    await writeTestFile(src, MiB);
    const { transferId, manifest } = await sender.manager.offer(bob.id, src);
    // Mallory knows the transfer ID and the manifest, but not Bob's key.
    const mallory = await side({ target: () => sender.port });
    const dl = dir('dl');
    await mallory.manager.accept(transferId, manifest, sender.id.id, dl);
    const failed = await waitFor('mallory is refused', () => mallory.rec.of('failed')[0], 10_000);
    assert.equal(failed.code, 'unknown-transfer');
    assert.equal(failed.resumable, false);
    assert.deepEqual(readdirSync(dl), []);
    assert.deepEqual(
      sender.manager.list().map((t) => [t.transferId, t.state]),
      [[transferId, 'offered']],
      'the offer is untouched',
    );
  });

  it('refuses a data stream that leads to a peer other than the sender', async () => {
    const sender = await side();
    const impostor = generateIdentity();
    const impostorListener = await fileListener(impostor, (s) => s.destroy());
    cleanups.push(impostorListener.close);
    const src = path.join(dir('src'), 'z.bin');
    await writeTestFile(src, MiB);
    const receiverId = generateIdentity();
    // Two ways to the wrong peer: a dial pinned to the sender reaching the impostor's address
    // (refused in the handshake), and a connect() that hands over a socket pinned to the
    // impostor (refused by the manager's own check).
    let tries = 0;
    const connect = (_peer: PeerId) => {
      tries++;
      const expectedId = tries % 2 === 0 ? impostor.id : sender.id.id;
      return dial({ identity: receiverId, host: '127.0.0.1', port: impostorListener.port, expectedId, timeoutMs: 5000, alpn: FILE_ALPN });
    };
    const receiver = await side({ id: receiverId, connect, timing: { maxStrikes: 4 } });
    const { transferId, manifest } = await sender.manager.offer(receiver.id.id, src);
    const dl = dir('dl');
    await receiver.manager.accept(transferId, manifest, sender.id.id, dl);
    const failed = await waitFor('given up', () => receiver.rec.of('failed')[0], 20_000);
    assert.equal(failed.code, 'wrong-peer');
    assert.equal(tries, 4);
    assert.deepEqual(visible(dl), []);
  });
});

describe('through a relay', () => {
  it('pulls a file through a relay tunnel, and the relay forwards only ciphertext', async () => {
    const forwarded: Buffer[] = [];
    let forwardedBytes = 0;
    const relay = await startRelay({ limits: { sessionBytesPerSec: 0 } }, (_session, _from, chunk) => {
      forwarded.push(Buffer.from(chunk));
      forwardedBytes += chunk.byteLength;
    });
    cleanups.push(() => relay.stop());
    const url = relay.url;
    const member = async (id: Identity, name: string) => {
      const c = new RelayClient({ address: url, identity: id, profile: () => ({ name, presence: 'online' }), log: testLogger(name), timing: fastClientTiming });
      c.start();
      cleanups.push(() => c.stop());
      await waitFor(`${name} joined`, () => c.connected, 10_000);
      return c;
    };
    const [senderId, receiverId] = [generateIdentity(), generateIdentity()];
    const [sc, rc] = [await member(senderId, 'sender'), await member(receiverId, 'receiver')];
    const sender = await side({ id: senderId });
    // The invited side is the TLS server: it accepts both protocols and routes by ALPN, as a
    // node's relay attachment would.
    sc.on('invite', (inv: RelayFrameOf<'invite'>) => {
      if (!inv.server) return;
      openTunnel({ relay: sc.address, key: inv.key, server: true, peerId: inv.peer, identity: senderId, pairTimeoutMs: 5000, handshakeTimeoutMs: 5000, protocols: [ALPN, FILE_ALPN] }).then(
        (socket) => (socket.alpnProtocol === FILE_ALPN ? sender.manager.handleIncoming(socket, inv.peer) : socket.destroy()),
        () => {},
      );
    });
    // The receiver's connect(): ask the relay for a tunnel and run parley-file/1 inside.
    let tunnels = 0;
    const connect = (peer: PeerId) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const onInvite = (inv: RelayFrameOf<'invite'>) => {
          if (inv.peer !== peer || inv.server) return;
          rc.off('invite', onInvite);
          tunnels++;
          openTunnel({ relay: rc.address, key: inv.key, server: false, peerId: peer, identity: receiverId, pairTimeoutMs: 5000, handshakeTimeoutMs: 5000, alpn: FILE_ALPN }).then(resolve, reject);
        };
        rc.on('invite', onInvite);
        if (!rc.requestTunnel(peer)) reject(new Error('not on the relay'));
      });
    const receiver = await side({ id: receiverId, connect });

    const src = path.join(dir('src'), 'relayed.bin');
    const size = 6 * MiB + 3;
    const hash = await writeTestFile(src, size);
    const { transferId, manifest } = await sender.manager.offer(receiverId.id, src);
    const dl = dir('dl');
    await receiver.manager.accept(transferId, manifest, senderId.id, dl);
    const done = await waitFor('received through the relay', () => receiver.rec.of('done')[0], 60_000);
    assert.equal(await sha256File((done.received as { path: string }).path), hash);
    await waitFor('the sender is done', () => sender.rec.of('done')[0], 10_000);
    assert.ok(tunnels >= 1);

    assert.ok(forwardedBytes > size, `the relay forwarded ${forwardedBytes} bytes: the file went through it`);
    const wire = Buffer.concat(forwarded);
    const plain = readFileSync(src);
    for (const off of [0, 64 * KiB + 100, MiB, 3 * MiB + 12_345, size - 40]) {
      assert.equal(wire.indexOf(plain.subarray(off, off + 32)), -1, `file bytes at ${off} are not in the clear on the relay`);
    }
    assert.equal(wire.indexOf(Buffer.from('relayed.bin')), -1, 'nor is the name');
  });
});

describe('a full disk (tmpfs)', { skip: process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs' }, () => {
  let mnt = '';
  const mount = () => {
    mnt = mkdtempSync(path.join(os.tmpdir(), 'parley-tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0755', 'tmpfs', mnt], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mount failed: ${r.stderr}`);
    cleanups.push(() => {
      spawnSync('umount', [mnt]);
      try {
        rmdirSync(mnt);
      } catch {
        spawnSync('umount', ['-l', mnt]);
        rmSync(mnt, { recursive: true, force: true });
      }
    });
  };

  it('is reported to the sender, up front and mid-transfer; after space is freed the transfer completes', async () => {
    mount();
    const sender = await side();
    const proxy = await SlowProxy.start(() => sender.port, 4 * MiB);
    cleanups.push(() => proxy.close());
    const receiver = await side({ target: () => proxy.port });
    const srcDir = dir('src');

    // Up front: 20 MiB cannot fit in 16 MiB.
    const tooBig = path.join(srcDir, 'too-big.bin');
    await writeTestFile(tooBig, 20 * MiB);
    const a = await sender.manager.offer(receiver.id.id, tooBig);
    const dlA = mkdtempSync(path.join(mnt, 'a-'));
    await assert.rejects(receiver.manager.accept(a.transferId, a.manifest, sender.id.id, dlA, { keepFreeBytes: 0 }), (e) => e instanceof TransferError && e.code === 'insufficient-space');
    const upFront = await waitFor('the sender hears it', () => sender.rec.of('failed').find((f) => f.transferId === a.transferId), 10_000);
    assert.deepEqual([upFront.code, upFront.by], ['disk-full', 'peer']);
    assert.deepEqual(readdirSync(dlA), []);

    // Mid-transfer: something else fills the disk while 8 MiB arrive.
    const fits = path.join(srcDir, 'fits.bin');
    const hash = await writeTestFile(fits, 8 * MiB);
    const b = await sender.manager.offer(receiver.id.id, fits);
    const dlB = mkdtempSync(path.join(mnt, 'b-'));
    await receiver.manager.accept(b.transferId, b.manifest, sender.id.id, dlB, { keepFreeBytes: 0 });
    await waitFor('1 MiB verified', () => receiver.rec.progressed(MiB), 30_000, 5);
    const filler = path.join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(16 * MiB, 1));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const mine = await waitFor('the receiver fails', () => receiver.rec.of('failed').find((f) => f.transferId === b.transferId), 30_000);
    assert.deepEqual([mine.code, mine.by, mine.resumable], ['disk-full', 'me', true]);
    const theirs = await waitFor('the sender hears it', () => sender.rec.of('failed').find((f) => f.transferId === b.transferId), 10_000);
    assert.deepEqual([theirs.code, theirs.by, theirs.resumable], ['disk-full', 'peer', true]);
    assert.deepEqual(visible(dlB), [], 'nothing under the final name');
    assert.equal(hidden(dlB).length, 2, 'the partial file is kept to resume');
    assert.deepEqual(receiver.manager.list().map((t) => [t.state, t.error?.code]), [['failed', 'disk-full']]);

    rmSync(filler);
    assert.equal(receiver.manager.retry(b.transferId), true);
    const done = await waitFor('received after space was freed', () => receiver.rec.of('done')[0], 60_000);
    assert.equal(await sha256File((done.received as { path: string }).path), hash);
    await waitFor('the sender is done', () => sender.rec.of('done')[0], 10_000);
  });
});
