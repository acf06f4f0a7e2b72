// Folders between real nodes (real TLS, real SQLite): a folder is one file offer per file, all
// carrying the same folder descriptor. The receiver accepts (or declines) the folder as a
// whole, creates one new top folder for it, and puts every file at its path inside it; a
// hostile folder name or path never writes anything outside that folder.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ulid } from 'ulid';
import type { FolderRef, MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { messages, sha256, sha256File, upload } from '../helpers/files.ts';
import { connect, nodePool, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const pool = nodePool();
after(async () => {
  await pool.stopAll();
  removeTempDirs();
});

/** Two linked nodes; bob's download folder sits alone inside a parent folder, so anything written beside it shows. */
async function pair(): Promise<{ a: ParleyNode; b: ParleyNode; convAB: string; parent: string; bDownloads: string }> {
  const a = await pool.start('alice');
  const b = await pool.start('bob');
  const parent = tempDir('parley-parent-');
  const bDownloads = path.join(parent, 'downloads');
  await fsp.mkdir(bDownloads);
  await a.api.call('updateSettings', { downloadFolder: tempDir('parley-dl-') });
  await b.api.call('updateSettings', { downloadFolder: bDownloads });
  const convAB = await connect(a, b);
  await waitFor('link up both ways', () => a.links.get(b.self.id)?.isUp && b.links.get(a.self.id)?.isUp);
  return { a, b, convAB, parent, bDownloads };
}

const stateOf = (m: MessageInfo | undefined) => m?.attachment?.transfer.state;

/** Every file under a folder, as relative paths with '/' (hidden temp files included). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(e.parentPath, e.name);
    out.push(path.relative(dir, full).split(path.sep).join('/') + (e.isDirectory() ? '/' : ''));
  }
  return out.sort();
}

interface FolderFile {
  path: string;
  name: string;
  bytes: Uint8Array;
}

/** Sends files as one folder, the way the UI does: upload each, then sendFile with the shared descriptor. */
async function sendFolder(
  a: ParleyNode,
  convId: string,
  name: string,
  files: FolderFile[],
  id = ulid(),
  announced = { count: files.length, bytes: files.reduce((n, f) => n + f.bytes.byteLength, 0) },
): Promise<MessageInfo[]> {
  const sent: MessageInfo[] = [];
  for (const f of files) {
    const folder: FolderRef = { id, name, path: f.path, ...announced };
    sent.push(await a.api.call('sendFile', { convId, upload: await upload(a, f.name, f.bytes), kind: 'file', folder }));
  }
  return sent;
}

const project = (): FolderFile[] => [
  { path: '', name: 'README.md', bytes: randomBytes(1000) },
  { path: 'src', name: 'main.ts', bytes: randomBytes(2 * 1024 * 1024 + 17) },
  { path: 'src', name: 'util.ts', bytes: randomBytes(5000) },
  { path: 'docs/img', name: 'logo.png', bytes: randomBytes(70_000) },
];

describe('folders in conversations', () => {
  it('accepting one file of a folder accepts all; they land under one new folder, verified; a second "Project" lands in "Project (1)"', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const files = project();
    const sent = await sendFolder(a, convAB, 'Project', files);
    assert.equal(sent[1]!.attachment?.folder?.path, 'src', 'the sender sees the path too');
    for (const m of sent) await waitFor('each offer arrives', () => stateOf(bSeen.get(m.id)) === 'offered');
    const offered = bSeen.get(sent[2]!.id)!.attachment!;
    assert.deepEqual({ ...offered.folder, id: undefined }, { id: undefined, name: 'Project', path: 'src', count: 4, bytes: files.reduce((n, f) => n + f.bytes.byteLength, 0) });

    await b.api.call('acceptFile', { messageId: sent[2]!.id });
    for (const m of sent) {
      await waitFor(`${m.attachment!.name} received`, () => stateOf(bSeen.get(m.id)) === 'done', 30_000);
      await waitFor(`${m.attachment!.name} done for the sender`, () => stateOf(aSeen.get(m.id)) === 'done', 30_000);
    }
    assert.deepEqual(await tree(bDownloads), [
      'Project/',
      'Project/README.md',
      'Project/docs/',
      'Project/docs/img/',
      'Project/docs/img/logo.png',
      'Project/src/',
      'Project/src/main.ts',
      'Project/src/util.ts',
    ]);
    for (const f of files) assert.equal(await sha256File(path.join(bDownloads, 'Project', f.path, f.name)), sha256(f.bytes), f.name);

    const again = await sendFolder(a, convAB, 'Project', [{ path: 'x', name: 'y.txt', bytes: randomBytes(10) }]);
    await waitFor('the second folder is offered', () => stateOf(bSeen.get(again[0]!.id)) === 'offered');
    await b.api.call('acceptFile', { messageId: again[0]!.id });
    await waitFor('the second folder is received', () => stateOf(bSeen.get(again[0]!.id)) === 'done', 30_000);
    assert.ok((await tree(bDownloads)).includes('Project (1)/x/y.txt'), 'a new folder, never merged into the first');
    assert.equal((await tree(path.join(bDownloads, 'Project'))).length, 7, 'the first folder is as it was');
  });

  it('declining one file declines the folder, files still to come included; nothing is written', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const files = project();
    const id = ulid();
    const total = files.reduce((n, f) => n + f.bytes.byteLength, 0);
    const first = await sendFolder(a, convAB, 'Project', files.slice(0, 2), id, { count: 4, bytes: total });
    // The descriptor announces all four; two come now, two after the decline.
    for (const m of first) await waitFor('offer arrives', () => stateOf(bSeen.get(m.id)) === 'offered');
    await b.api.call('declineFile', { messageId: first[0]!.id });
    for (const m of first) await waitFor('the sender sees it declined', () => stateOf(aSeen.get(m.id)) === 'declined');
    // Alice's Parley now refuses to offer more of it...
    const folder = { id, name: 'Project', path: 'src', count: 4, bytes: total };
    await assert.rejects(a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'util.ts', files[2]!.bytes), kind: 'file', folder }), /this folder was declined/);
    // ...and an offer of it that was already on its way when the decline went out is declined as it arrives.
    const bytes = files[2]!.bytes;
    const lateId = ulid();
    const h = createHash('sha256').update(bytes).digest();
    b.attachments.incoming(a.self.id, {
      id: lateId,
      conv: bSeen.get(first[0]!.id)!.convId,
      body: { text: '', file: { transfer: ulid(), name: 'util.ts', size: bytes.byteLength, mime: 'text/plain', kind: 'file', chunk: 1024 * 1024, hashes: h, hash: h, folder } },
    });
    assert.equal(b.attachments.info(lateId)?.transfer.state, 'declined');
    assert.deepEqual(await tree(bDownloads), []);
  });

  it('canceling one file of a folder cancels the whole folder on both sides; no more files of it can be sent', async () => {
    const { a, b, convAB } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    const files = project();
    const id = ulid();
    const sent = await sendFolder(a, convAB, 'Project', files, id);
    for (const m of sent) await waitFor('offer arrives', () => stateOf(bSeen.get(m.id)) === 'offered');
    await a.api.call('cancelTransfer', { messageId: sent[0]!.id });
    for (const m of sent) {
      assert.equal(stateOf(aSeen.get(m.id)), 'canceled');
      await waitFor('the receiver sees every file canceled', () => stateOf(bSeen.get(m.id)) === 'canceled');
    }
    const folder = { id, name: 'Project', path: '', count: 4, bytes: 10 };
    await assert.rejects(a.api.call('sendFile', { convId: convAB, upload: await upload(a, 'late.txt', 'late'), kind: 'file', folder }), /this folder was canceled/);

    // The receiver canceling, in the middle of the folder, does the same.
    const other = await sendFolder(a, convAB, 'Other', files);
    for (const m of other) await waitFor('offer arrives', () => stateOf(bSeen.get(m.id)) === 'offered');
    await b.api.call('acceptFile', { messageId: other[0]!.id });
    await b.api.call('cancelTransfer', { messageId: other[3]!.id });
    for (const m of other) {
      await waitFor('the receiver shows the folder canceled (or a file already done)', () => ['canceled', 'done'].includes(stateOf(bSeen.get(m.id))!));
      await waitFor('the sender too', () => stateOf(aSeen.get(m.id)) === stateOf(bSeen.get(m.id)));
    }
    assert.ok(other.some((m) => stateOf(bSeen.get(m.id)) === 'canceled'));
  });

  it('auto-accept counts the folder\'s total bytes', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const bSeen = messages(b);
    const files = project();
    const total = files.reduce((n, f) => n + f.bytes.byteLength, 0);
    // Every file is under the limit, the folder is not: it is asked about.
    await b.api.call('updateSettings', { autoAccept: { defaultMaxBytes: total - 1 } });
    const asked = await sendFolder(a, convAB, 'Big', files);
    for (const m of asked) await waitFor('offered, not accepted', () => stateOf(bSeen.get(m.id)) === 'offered');
    await b.api.call('updateSettings', { autoAccept: { defaultMaxBytes: total } });
    const taken = await sendFolder(a, convAB, 'Fits', files);
    for (const m of taken) await waitFor('received without asking', () => stateOf(bSeen.get(m.id)) === 'done', 30_000);
    assert.ok((await tree(bDownloads)).includes('Fits/src/main.ts'));
    for (const m of asked) assert.equal(stateOf(bSeen.get(m.id)), 'offered');
  });

  it('hostile folder names and paths are refused, and nothing is written outside the download folder', async () => {
    const { a, b, convAB, parent, bDownloads } = await pair();
    const aSeen = messages(a);
    const bSeen = messages(b);
    // Straight to the service, past the contract's checks: what a hostile peer can put on the wire.
    const hostile = async (name: string, sub: string) => {
      const folder = { id: ulid(), name, path: sub, count: 1, bytes: 5 };
      return a.attachments.sendFile({ convId: convAB, upload: await upload(a, 'evil.txt', 'owned'), kind: 'file', folder });
    };
    const cases = [
      ...['..', '.', '/etc', '\\\\server\\share', '//server/share', 'C:\\x', 'a\u0000b', 'CON', 'aux.txt', 'a/b', '../../x', 'x.'].map((n) => [n, ''] as const),
      ...['..', '../..', '../../outside', 'a/../../..', '/etc', '\\Windows', '\\\\server\\share\\x', 'C:\\Windows', 'a\u0000b', 'CON', 'x/NUL.txt', 'a//b'].map(
        (p) => ['Safe', p] as const,
      ),
    ];
    const sent: MessageInfo[] = [];
    for (const [name, sub] of cases) sent.push(await hostile(name, sub));
    for (const [i, m] of sent.entries()) {
      const got = await waitFor(`case ${JSON.stringify(cases[i])} arrives`, () => bSeen.get(m.id)?.attachment);
      if (got.transfer.state === 'offered') await b.api.call('acceptFile', { messageId: m.id }).catch(() => {});
      await waitFor(`case ${JSON.stringify(cases[i])} refused`, () => bSeen.get(m.id)?.attachment?.transfer.state === 'failed');
      const reason = bSeen.get(m.id)?.attachment?.transfer.reason;
      assert.equal(reason, 'unsafe-name', `case ${JSON.stringify(cases[i])}: ${reason}`);
      await waitFor('the sender hears it is over', () => stateOf(aSeen.get(m.id)) === 'canceled');
    }
    // A descriptor out of bounds is not a folder at all: the offer is invalid, not a loose file.
    const unbounded = await hostile('Safe', 'a/'.repeat(2100));
    await waitFor('an unbounded path makes the offer invalid', () => bSeen.get(unbounded.id)?.attachment?.transfer.reason === 'invalid-offer');
    assert.equal(stateOf(bSeen.get(unbounded.id)), 'failed');
    assert.deepEqual(await fsp.readdir(parent), ['downloads'], 'nothing beside the download folder');
    const inside = await tree(bDownloads);
    assert.ok(
      inside.every((p) => p === 'Safe/' || p === 'Safe (1)/' || /^Safe( \(\d+\))?\/$/.test(p)),
      `only empty top folders: ${JSON.stringify(inside)}`,
    );
    assert.ok(!inside.some((p) => p.endsWith('evil.txt')));
  });

  it('a receiver restarted between two files of a folder puts the later file in the same folder', async () => {
    const { a, b, convAB, bDownloads } = await pair();
    const bSeen = messages(b);
    const files = project();
    const id = ulid();
    const total = files.reduce((n, f) => n + f.bytes.byteLength, 0);
    const first = await sendFolder(a, convAB, 'Project', files.slice(0, 1), id, { count: 4, bytes: total });
    // The descriptor says four files; the first is accepted (the folder with it), then bob restarts.
    await waitFor('offer arrives', () => stateOf(bSeen.get(first[0]!.id)) === 'offered');
    await b.api.call('acceptFile', { messageId: first[0]!.id });
    await waitFor('first file received', () => stateOf(bSeen.get(first[0]!.id)) === 'done', 30_000);
    // "Project" exists now: a top folder made again would be "Project (1)".
    const dir = b.dataDir;
    await pool.stop(b);
    const b2 = await pool.start('bob', dir);
    const b2Seen = messages(b2);
    await waitFor('link up again', () => a.links.get(b2.self.id)?.isUp && b2.links.get(a.self.id)?.isUp, 30_000);
    for (const f of files.slice(1)) {
      const m = await a.api.call('sendFile', { convId: convAB, upload: await upload(a, f.name, f.bytes), kind: 'file', folder: { id, name: 'Project', path: f.path, count: 4, bytes: total } });
      await waitFor(`${f.name} received after the restart without asking`, () => stateOf(b2Seen.get(m.id)) === 'done', 30_000);
    }
    for (const f of files) assert.equal(await sha256File(path.join(bDownloads, 'Project', f.path, f.name)), sha256(f.bytes), f.name);
    assert.ok(!(await fsp.readdir(bDownloads)).includes('Project (1)'), 'no second folder');
  });
});
