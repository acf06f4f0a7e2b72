// Malformed input on a live, authenticated link: each kind closes that link with a logged
// reason, while the node keeps serving its other peers and loses nothing.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { encode } from '@msgpack/msgpack';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';
import { encodeFrame } from '../../main/core/protocol/codec.ts';
import { ALPN, CAPABILITIES, PROTOCOL_VERSION } from '../../main/core/protocol/frames.ts';
import { connect, fastTiming, fullHistory, node, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const logLines: Array<{ msg?: string; reason?: string }> = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
    cb();
  },
});

let bob: ParleyNode;
let alice: ParleyNode;
after(async () => {
  await alice?.stop();
  await bob?.stop();
  removeTempDirs();
});

function lengthPrefixed(payload: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt32BE(payload.length, 0);
  b.set(payload, 4);
  return b;
}

/** An authenticated peer that behaves until told to send `bytes`. */
async function misbehave(target: ParleyNode, bytes: Buffer, endAfter = false): Promise<void> {
  const me: Identity = generateIdentity();
  const s = tls.connect({ host: '127.0.0.1', port: target.self.port, key: me.keyPem, cert: me.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN] });
  await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
  s.on('error', () => undefined);
  s.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, min: 1, id: me.id, name: 'mallory', presence: 'online', statusText: '', caps: [...CAPABILITIES], instance: 'abcdefgh' }));
  await waitFor('hostile link up', () => target.links.get(me.id));
  s.write(bytes);
  if (endAfter) s.end();
  s.resume();
  await new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
  await waitFor('link gone', () => !target.links.get(me.id));
}

const ULID = '01JB8Z3Q4R5S6T7V8W9XYZABCD';
const cases: Array<[string, Buffer, boolean, RegExp]> = [
  ['random bytes', Buffer.from(Array.from({ length: 300 }, () => Math.floor(Math.random() * 256))), false, /protocol error|closed|heartbeat/],
  ['a truncated frame, then the stream ends', encodeFrame({ t: 'ping', n: 1 }).subarray(0, 7), true, /mid-frame/],
  ['a length over the cap', Buffer.from([0x00, 0x10, 0x00, 0x01, 1, 2, 3]), false, /frame-too-large/],
  ['a length of 0xFFFFFFFF', Buffer.from([0xff, 0xff, 0xff, 0xff]), false, /frame-too-large/],
  ['a length of 0', Buffer.from([0, 0, 0, 0]), false, /empty/],
  ['valid MessagePack with wrong types', lengthPrefixed(encode({ t: 'msg', id: 42, conv: ['x'], author: null, seq: '1', lamport: -1, ts: 'now', body: 'hi' })), false, /bad-frame/],
  ['an unknown frame type', lengthPrefixed(encode({ t: 'teleport', to: 'mars' })), false, /unknown-type/],
  ['an ack for a message never sent', encodeFrame({ t: 'ack', ids: [ULID] }), false, /ack for a message never sent/],
];

describe('a hostile peer on a live link', () => {
  it('is cut off for each kind of malformed input while a real conversation continues without loss', async () => {
    bob = await startNode({ dataDir: tempDir(), name: 'bob', port: 0, host: '127.0.0.1', timing: fastTiming, discovery: false, log: pino({ level: 'info' }, sink) });
    alice = await node('alice');
    const conv = await connect(alice, bob);
    await waitFor('link', () => alice.links.get(bob.self.id));
    let sent = 0;
    for (const [what, bytes, endAfter, reason] of cases) {
      const before = logLines.length;
      const sends = Array.from({ length: 25 }, () => alice.api.call('send', { convId: conv, text: `during ${what} ${sent++}` }));
      await misbehave(bob, bytes, endAfter);
      await Promise.all(sends);
      const logged = logLines.slice(before).filter((l) => l.reason);
      assert.ok(logged.some((l) => reason.test(l.reason!)), `${what}: expected a logged reason matching ${reason}, got ${JSON.stringify(logged.map((l) => l.reason))}`);
      assert.ok(bob.links.get(alice.self.id), `${what}: bob still linked to alice`);
    }
    await waitFor('all delivered', () => alice.store.outboxCount() === 0, 20_000);
    const h = await fullHistory(bob, conv);
    assert.equal(h.length, sent);
    assert.equal(new Set(h.map((m) => m.id)).size, sent);
  });
});
