// The relay's mailbox store (real SQLite files): quotas, idempotent deposits, per-recipient
// order, acks that delete and are remembered, expiry, and survival across a restart.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { PeerId } from '../../main/contract/contract.ts';
import type { Envelope } from '../../main/core/relay/frames.ts';
import { Mailbox } from '../../relay/mailbox.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';

after(removeTempDirs);
const A = 'A'.repeat(52) as PeerId;
const B = 'B'.repeat(52) as PeerId;
const C = 'C'.repeat(52) as PeerId;
const limits = { ttlMs: 10_000, quotaItems: 5, quotaBytes: 1_000_000, totalBytes: 10_000_000, maxCertificates: 2 };

let n = 0;
function env(from: PeerId, to: PeerId, ctBytes = 100): Envelope {
  const id = `01HZY3J8Q6X9V2K4M7N5P${String(n++).padStart(5, '0')}`;
  return { v: 1, id, from, to, cert: new Uint8Array(600), wrappedKey: new Uint8Array(256), iv: new Uint8Array(12), ct: new Uint8Array(ctBytes), tag: new Uint8Array(16), sig: new Uint8Array(256) };
}

describe('relay mailbox store', () => {
  it('keeps envelopes per recipient in deposit order and hands them out in windows', () => {
    const m = new Mailbox(tempDir(), limits);
    const items = [env(A, B), env(C, B), env(A, B), env(A, C)];
    assert.equal(m.deposit(A, [items[0]!, items[2]!]).accepted.length, 2);
    assert.equal(m.deposit(C, [items[1]!]).accepted.length, 1);
    m.deposit(A, [items[3]!]);
    const forB = m.pending(B, 0, 10, 1_000_000);
    assert.deepEqual(forB.map((i) => i.envelope.id), [items[0]!.id, items[2]!.id, items[1]!.id]);
    assert.deepEqual(m.pending(B, forB[0]!.seq, 10, 1_000_000).map((i) => i.envelope.id), [items[2]!.id, items[1]!.id]);
    assert.equal(m.pending(B, 0, 10, 1).length, 1, 'at least one even when it exceeds the byte window');
    assert.equal(m.stats().recipients, 2);
    m.close();
  });

  it('accepts only what the depositor sent, within quota, and re-deposits idempotently', () => {
    const m = new Mailbox(tempDir(), limits);
    const forged = env(C, B);
    assert.deepEqual(m.deposit(A, [forged]).refused, [{ id: forged.id, reason: 'sender' }]);
    const six = Array.from({ length: 6 }, () => env(A, B));
    const r = m.deposit(A, six);
    assert.equal(r.accepted.length, 5);
    assert.deepEqual(r.refused, [{ id: six[5]!.id, reason: 'quota' }]);
    // The same five again: accepted (already here), nothing new stored.
    assert.equal(m.deposit(A, six.slice(0, 5)).accepted.length, 5);
    assert.equal(m.stats().items, 5);
    const big = new Mailbox(tempDir(), { ...limits, quotaBytes: 3000 });
    const res = big.deposit(A, [env(A, B, 1000), env(A, B, 1000), env(A, B, 1000)]);
    assert.ok(res.refused.some((x) => x.reason === 'quota'), 'byte quota too');
    assert.equal(big.deposit(A, [env(A, B, 90 * 1024)]).refused[0]?.reason, 'too-large');
    m.close();
    big.close();
  });

  it('deletes on ack, only for the recipient, and remembers acked IDs so a re-deposit stores nothing', () => {
    const m = new Mailbox(tempDir(), limits);
    const e = env(A, B);
    m.deposit(A, [e]);
    assert.equal(m.ack(C, [e.id]), 0, 'someone else cannot delete it');
    assert.equal(m.ack(B, [e.id]), 1);
    assert.equal(m.stats().items, 0);
    assert.deepEqual(m.deposit(A, [e]).accepted, [e.id]);
    assert.equal(m.stats().items, 0, 'delivered before: not stored again');
    m.close();
  });

  it('expires envelopes and their ack memory after the TTL', () => {
    const m = new Mailbox(tempDir(), limits);
    const e = env(A, B);
    m.deposit(A, [e], 0);
    assert.equal(m.expire(9_999), 0);
    assert.equal(m.expire(10_000), 1);
    m.deposit(A, [e], 20_000);
    m.ack(B, [e.id], 20_000);
    m.expire(30_001);
    m.deposit(A, [e], 30_001);
    assert.equal(m.stats().items, 1, 'after the TTL the ID is forgotten');
    m.close();
  });

  it('survives a restart, and keeps a bounded number of member certificates', () => {
    const dir = tempDir();
    const m = new Mailbox(dir, limits);
    const e = env(A, B);
    m.deposit(A, [e]);
    m.rememberCertificate(A, Buffer.from('a'), 1);
    m.rememberCertificate(B, Buffer.from('b'), 2);
    m.rememberCertificate(C, Buffer.from('c'), 3);
    m.close();
    const again = new Mailbox(dir, limits);
    assert.equal(again.pending(B, 0, 10, 1e6)[0]?.envelope.id, e.id);
    assert.equal(again.certificate(A), null, 'the oldest certificate made room');
    assert.equal(again.certificate(C)?.toString(), 'c');
    again.close();
  });
});
