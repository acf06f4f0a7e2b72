// Files in conversations between real nodes (real TLS, real SQLite): a file offer is a message,
// accepting pulls the bytes over a parley-file/1 stream, and both sides see the same story.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { messages, sha256, sha256File, upload } from '../helpers/files.ts';
import { connect, nodePool, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const pool = nodePool();
after(async () => {
  await pool.stopAll();
  removeTempDirs();
});

/** Two linked nodes, each with its own download folder. */
async function pair(): Promise<{ a: ParleyNode; b: ParleyNode; convAB: string; convBA: string; bDownloads: string }> {
  const a = await pool.start('alice');
  const b = await pool.start('bob');
  const bDownloads = tempDir('parley-dl-');
  await a.api.call('updateSettings', { downloadFolder: tempDir('parley-dl-') });
  await b.api.call('updateSettings', { downloadFolder: bDownloads });
  const convAB = await connect(a, b);
  await waitFor('link up both ways', () => a.links.get(b.self.id)?.isUp && b.links.get(a.self.id)?.isUp);
  const convBA = (await b.api.call('openConversation', { peerId: a.self.id })).id;
  return { a, b, convAB, convBA, bDownloads };
}

const stateOf = (m: MessageInfo | undefined) => m?.attachment?.transfer.state;

describe('files in conversations', () => {
  it('an offer is a message; accepting brings the whole file, verified, to the download folder', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const bytes = randomBytes(3 * 1024 * 1024 + 12345);
    const up = await upload(a, 'report.bin', bytes);
    const sent = await a.api.call('sendFile', { convId: convAB, upload: up, kind: 'file', text: 'the report' });
    assert.equal(sent.attachment?.name, 'report.bin');
    assert.equal(sent.attachment?.transfer.state, 'offered');
    assert.equal(sent.attachment?.url, `/media/${sent.id}`, 'my own file is served to me at once');

    const offered = await waitFor('the offer arrives', () => (stateOf(bSeen.get(sent.id)) === 'offered' ? bSeen.get(sent.id) : undefined));
    assert.equal(offered.text, 'the report');
    assert.equal(offered.attachment?.size, bytes.byteLength);
    assert.equal(offered.attachment?.url, null, 'nothing to show before the bytes are here');

    await b.api.call('acceptFile', { messageId: sent.id });
    await waitFor('received', () => stateOf(bSeen.get(sent.id)) === 'done', 30_000);
    await waitFor('the sender sees it done', () => stateOf(aSeen.get(sent.id)) === 'done', 30_000);
    const files = await fsp.readdir(bDownloads);
    assert.deepEqual(files, ['report.bin']);
    assert.equal(await sha256File(path.join(bDownloads, 'report.bin')), sha256(bytes));
    const history = await b.api.call('history', { convId: sent.convId, limit: 10 });
    assert.equal(history.find((m) => m.id === sent.id)?.attachment?.url, `/media/${sent.id}`);
  });

  it('declining tells the sender, whose view shows it declined; nothing is written', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const sent = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'no.txt', 'not wanted'), kind: 'file' });
    await waitFor('the offer arrives', () => stateOf(bSeen.get(sent.id)) === 'offered');
    const declined = await b.api.call('declineFile', { messageId: sent.id });
    assert.equal(declined.attachment?.transfer.state, 'declined');
    await waitFor('the sender sees the decline', () => stateOf(aSeen.get(sent.id)) === 'declined');
    assert.deepEqual(await fsp.readdir(bDownloads), []);
    await assert.rejects(b.api.call('acceptFile', { messageId: sent.id }), /declined, not offered/);
  });

  it('canceling from the sender shows canceled on both sides', async () => {
    const { a, b, convAB } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const sent = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'x.txt', 'x'), kind: 'file' });
    await waitFor('the offer arrives', () => stateOf(bSeen.get(sent.id)) === 'offered');
    assert.equal((await a.api.call('cancelTransfer', { messageId: sent.id })).attachment?.transfer.state, 'canceled');
    await waitFor('the receiver sees it canceled', () => stateOf(bSeen.get(sent.id)) === 'canceled');
    assert.equal(aSeen.get(sent.id)?.attachment?.url, null, 'a canceled file is no longer served');
  });

  it('canceling from the receiver shows canceled on both sides', async () => {
    const { a, b, convAB } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const sent = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'y.txt', 'y'), kind: 'file' });
    await waitFor('the offer arrives', () => stateOf(bSeen.get(sent.id)) === 'offered');
    await b.api.call('cancelTransfer', { messageId: sent.id });
    await waitFor('the sender sees it canceled', () => stateOf(aSeen.get(sent.id)) === 'canceled');
    assert.equal(stateOf(bSeen.get(sent.id)), 'canceled');
  });

  for (const side of ['sender', 'receiver'] as const) {
    it(`the ${side} canceling in the middle of a transfer stops it on both sides and removes the partial file`, async () => {
      const { a, b, convAB, bDownloads } = await pair();
      const aSeen = messages(a);
      const bSeen = messages(b);
      const sent = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'movie.bin', randomBytes(128 * 1024 * 1024)), kind: 'file' });
      await waitFor('the offer arrives', () => stateOf(bSeen.get(sent.id)) === 'offered', 20_000);
      const progressed = new Promise<void>((resolve) =>
        b.api.on('transfer', (t) => {
          if (t.messageId === sent.id && t.transfer.bytesDone > 0) resolve();
        }),
      );
      await b.api.call('acceptFile', { messageId: sent.id });
      await progressed;
      const canceled = await (side === 'sender' ? a : b).api.call('cancelTransfer', { messageId: sent.id });
      assert.equal(canceled.attachment?.transfer.state, 'canceled');
      await waitFor('the sender shows it canceled', () => stateOf(aSeen.get(sent.id)) === 'canceled', 20_000);
      await waitFor('the receiver shows it canceled', () => stateOf(bSeen.get(sent.id)) === 'canceled', 20_000);
      await waitFor('no partial file is left', async () => (await fsp.readdir(bDownloads)).length === 0, 20_000);
    });
  }

  it('auto-accepts by size, by contact, and small images from anyone; a contact set to 0 is always asked', async () => {
    const { a, b, convAB } = await pair();
    const bSeen = messages(b);
    const send = async (name: string, size: number, kind: 'file' | 'image') =>
      a.api.call('sendFile', { convId: convAB, upload: await upload(a, name, randomBytes(size)), kind });

    // Defaults: a photo comes in by itself, a document waits.
    const photo = await send('p.jpg', 200_000, 'image');
    const doc = await send('d.bin', 200_000, 'file');
    await waitFor('the photo is received without asking', () => stateOf(bSeen.get(photo.id)) === 'done', 20_000);
    await waitFor('the document is offered', () => stateOf(bSeen.get(doc.id)) === 'offered');

    // Up to 1 MB from anyone.
    await b.api.call('updateSettings', { autoAccept: { defaultMaxBytes: 1_000_000 } });
    const small = await send('s.bin', 500_000, 'file');
    const big = await send('b.bin', 1_500_000, 'file');
    await waitFor('the small file is received', () => stateOf(bSeen.get(small.id)) === 'done', 20_000);
    await waitFor('the big one is offered', () => stateOf(bSeen.get(big.id)) === 'offered');

    // Alice's own limit wins over the default, both ways.
    await b.api.call('updateSettings', { autoAccept: { peers: { [a.self.id]: 2_000_000 } } });
    const bigger = await send('c.bin', 1_500_000, 'file');
    await waitFor('a contact allowed more gets more', () => stateOf(bSeen.get(bigger.id)) === 'done', 20_000);
    await b.api.call('updateSettings', { autoAccept: { peers: { [a.self.id]: 0 } } });
    const photo2 = await send('q.jpg', 1000, 'image');
    await waitFor('the second photo is offered', () => stateOf(bSeen.get(photo2.id)) === 'offered');
  });

  it('a receiver restarted in the middle of a transfer resumes it and completes the same file', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const bSeen = messages(b);
    const bytes = randomBytes(160 * 1024 * 1024);
    const sent = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'big.bin', bytes), kind: 'file' });
    await waitFor('the offer arrives', () => stateOf(bSeen.get(sent.id)) === 'offered', 20_000);
    const progressed = new Promise<number>((resolve) =>
      b.api.on('transfer', (t) => {
        if (t.messageId === sent.id && t.transfer.bytesDone > 0) resolve(t.transfer.bytesDone);
      }),
    );
    await b.api.call('acceptFile', { messageId: sent.id });
    await progressed;
    const dir = b.dataDir;
    await pool.stop(b);
    const partial = (await fsp.readdir(bDownloads)).filter((f) => f.startsWith('.parley-'));
    assert.ok(partial.length > 0, 'a partial file and its journal were left for the restart');
    assert.ok(!(await fsp.readdir(bDownloads)).includes('big.bin'), 'stopped before it was complete');

    const b2 = await pool.start('bob', dir);
    const b2Seen = messages(b2);
    await waitFor('the restarted receiver completes it', async () => {
      const m = b2Seen.get(sent.id) ?? (await b2.api.call('history', { convId: sent.convId, limit: 5 })).find((x) => x.id === sent.id);
      return stateOf(m) === 'done';
    }, 60_000, 200);
    assert.equal(await sha256File(path.join(bDownloads, 'big.bin')), sha256(bytes));
    assert.deepEqual((await fsp.readdir(bDownloads)).filter((f) => f.startsWith('.parley-')), [], 'temp file and journal are gone');
  });

  it('a group offer is one event; each member that accepts fetches it from the author', async () => {
    const [a, b, c] = [await pool.start('alice'), await pool.start('bob'), await pool.start('carol')];
    const folders = new Map<ParleyNode, string>();
    for (const n of [b, c]) {
      folders.set(n, tempDir('parley-dl-'));
      await n.api.call('updateSettings', { downloadFolder: folders.get(n)! });
    }
    await connect(a, b);
    await connect(a, c);
    await connect(b, c);
    for (const [x, y] of [[a, b], [a, c], [b, c]] as const) await waitFor('links', () => x.links.get(y.self.id)?.isUp && y.links.get(x.self.id)?.isUp);
    const group = await a.api.call('createGroup', { name: 'Team', members: [b.self.id, c.self.id] });
    const aSeen = messages(a);
    const seen = new Map([b, c].map((n) => [n, messages(n)] as const));
    for (const n of [b, c]) await waitFor(`${n.self.name} has the group`, async () => (await n.api.call('listConversations', {})).some((x) => x.id === group.id));

    const bytes = randomBytes(2 * 1024 * 1024 + 99);
    const sent = await a.api.call('sendFile', { convId: group.id, upload: await upload(a, 'minutes.pdf', bytes, 'application/pdf'), kind: 'file', text: 'minutes' });
    assert.equal(sent.text, 'minutes');
    assert.deepEqual(sent.attachment?.transfer.recipients, { done: 0, total: 2 });
    for (const n of [b, c]) {
      const got = await waitFor(`${n.self.name} sees the offer`, () => seen.get(n)!.get(sent.id)?.attachment);
      assert.equal(got.transfer.state, 'offered');
      assert.equal(got.name, 'minutes.pdf');
    }
    await b.api.call('acceptFile', { messageId: sent.id });
    await waitFor('bob has it', () => stateOf(seen.get(b)!.get(sent.id)) === 'done', 30_000);
    await waitFor('the author counts one of two', () => aSeen.get(sent.id)?.attachment?.transfer.recipients?.done === 1);
    assert.notEqual(stateOf(aSeen.get(sent.id)), 'done', 'not done while carol has not got it');
    await c.api.call('acceptFile', { messageId: sent.id });
    await waitFor('carol has it', () => stateOf(seen.get(c)!.get(sent.id)) === 'done', 30_000);
    await waitFor('the author sees it done for everyone', () => stateOf(aSeen.get(sent.id)) === 'done');
    for (const n of [b, c]) assert.equal(await sha256File(path.join(folders.get(n)!, 'minutes.pdf')), sha256(bytes));
  });

  it('refuses, as unavailable, to offer a file to a peer whose Parley has not shown it takes files', async () => {
    const a = await pool.start('alice');
    const stranger = await pool.start('stranger');
    const conv = await a.api.call('openConversation', { peerId: stranger.self.id });
    const up = await upload(a, 'z.txt', 'z');
    await assert.rejects(a.api.call('sendFile', { convId: conv.id, upload: up, kind: 'file' }), (err: Error & { code?: string }) => err.code === 'unavailable' && /cannot receive files/.test(err.message));
  });

  it('refuses a malformed thumbnail; a valid one reaches the receiver', async () => {
    const { a, b, convAB } = await pair();
    const bSeen = messages(b);
    const up = await upload(a, 'i.png', randomBytes(1000), 'image/png');
    const html = Buffer.from('<svg onload=alert(1)>').toString('base64');
    await assert.rejects(a.api.call('sendFile', { convId: convAB, upload: up, kind: 'image', thumbnail: html }), /thumbnail is not a JPEG, PNG or WebP/);
    await assert.rejects(a.api.call('sendFile', { convId: convAB, upload: up, kind: 'image', thumbnail: 'not base64!' }), /not base64/);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(100)]).toString('base64');
    const sent = await a.api.call('sendFile', { convId: convAB, upload: up, kind: 'image', thumbnail: png, width: 640, height: 480 });
    const got = await waitFor('the offer arrives', () => bSeen.get(sent.id)?.attachment);
    assert.equal(got.thumbnail, png);
    assert.equal(got.width, 640);
    assert.equal(got.mime, 'image/png');
  });
});
