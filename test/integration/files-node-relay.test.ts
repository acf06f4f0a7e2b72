// A file between two nodes that only a relay connects: the receiver asks the relay for a
// second tunnel offering parley-file/1, the sender's invited side routes it by ALPN to its
// transfers, and the relay forwards nothing but ciphertext.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { messages, sha256, sha256File, upload } from '../helpers/files.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { RelayProcess, relayedNode, waitRelayConnected, type RelayedNode } from './relay-harness.ts';

const relays = new Set<RelayProcess>();
const nodes = new Set<RelayedNode>();
after(async () => {
  await Promise.all([...nodes].map((n) => n.stop().catch(() => undefined)));
  await Promise.all([...relays].map((r) => r.kill().catch(() => undefined)));
  removeTempDirs();
});

async function peer(name: string, url: string): Promise<RelayedNode> {
  const n = await relayedNode(name, url);
  // As a relay from the settings would be: the node's file streams look for a relay here.
  n.node.relays.push(n.relay);
  nodes.add(n);
  return n;
}

describe('files through a relay', () => {
  it('moves a file through a tunnel of its own; the relay sees neither its bytes nor its name', async () => {
    const capture = path.join(tempDir('parley-capture-'), 'relay-forwarded.bin');
    const relay = await RelayProcess.start({ args: ['--debug-capture', capture] });
    relays.add(relay);
    const alice = await peer('alice', relay.url);
    const bob = await peer('bob', relay.url);
    await waitRelayConnected(alice);
    await waitRelayConnected(bob);
    await waitFor('directory', () => alice.relay.client.member(bob.node.self.id));
    const downloads = tempDir('parley-dl-');
    await bob.node.api.call('updateSettings', { downloadFolder: downloads });
    const conv = (await alice.node.api.call('openConversation', { peerId: bob.node.self.id })).id;
    await alice.node.api.call('send', { convId: conv, text: 'a file is coming' });
    await waitFor('relayed link up', () => alice.node.links.get(bob.node.self.id)?.isUp && bob.node.links.get(alice.node.self.id)?.isUp);
    assert.equal(alice.node.links.get(bob.node.self.id)?.kind, 'relay');

    const bSeen = messages(bob.node);
    const aSeen = messages(alice.node);
    const name = `secret-plan-${randomBytes(6).toString('hex')}.bin`;
    const bytes = randomBytes(2 * 1024 * 1024 + 777);
    const sent = await alice.node.api.call('sendFile', { convId: conv, upload: await upload(alice.node, name, bytes), kind: 'file' });
    await waitFor('offer arrives', () => bSeen.get(sent.id)?.attachment?.transfer.state === 'offered');
    await bob.node.api.call('acceptFile', { messageId: sent.id });
    await waitFor('received through the relay', () => bSeen.get(sent.id)?.attachment?.transfer.state === 'done', 60_000);
    await waitFor('sender sees done', () => aSeen.get(sent.id)?.attachment?.transfer.state === 'done', 20_000);
    assert.equal(await sha256File(path.join(downloads, name)), sha256(bytes));
    assert.equal(alice.node.links.get(bob.node.self.id)?.kind, 'relay', 'no direct path appeared meanwhile');

    await relay.stop();
    relays.delete(relay);
    const forwarded = readFileSync(capture);
    assert.ok(forwarded.byteLength > bytes.byteLength, `the capture holds the file's traffic (${forwarded.byteLength} bytes)`);
    assert.equal(forwarded.indexOf(Buffer.from(name)), -1, 'the name never appears');
    for (let off = 0; off + 32 <= bytes.byteLength; off += 4096) {
      assert.equal(forwarded.indexOf(bytes.subarray(off, off + 32)), -1, `bytes of the file at ${off} appear in what the relay forwarded`);
    }
    await fsp.rm(capture, { force: true });
  });
});
