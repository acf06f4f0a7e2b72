// Mailbox envelopes: only the recipient can open them, only the sender can have made them,
// and a relay that alters, swaps, redirects or re-labels any part of one is caught.
import assert from 'node:assert/strict';
import { constants, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateIdentity } from '../../main/core/identity/identity.ts';
import type { Envelope } from '../../main/core/relay/frames.ts';
import { openEnvelope, sealMessage, SealError, signedBytes } from '../../main/core/relay/seal.ts';
import type { FrameOf } from '../../main/core/protocol/frames.ts';

const alice = generateIdentity();
const bob = generateIdentity();
const mallory = generateIdentity();

function msg(text = 'meet at noon', id = '01HZY3J8Q6X9V2K4M7N5P0R3ST'): FrameOf<'msg'> {
  return { t: 'msg', id, conv: `d:${[alice.id, bob.id].sort().join(':')}`, author: alice.id, seq: 1, lamport: 1, ts: 1_700_000_000_000, body: { text } };
}

const sealed = () => sealMessage({ msg: msg(), to: bob.id, sender: alice, recipientCert: bob.certPem });

function rejects(e: Envelope, code: SealError['code']): void {
  assert.throws(() => openEnvelope(e, bob), (err: SealError) => err instanceof SealError && err.code === code);
}

function flip(b: Uint8Array, i = 0): Uint8Array {
  const out = Uint8Array.from(b);
  out[i % out.byteLength] = out[i % out.byteLength]! ^ 1;
  return out;
}

describe('sealed mailbox envelopes', () => {
  it('open for the recipient to exactly the message that was sealed', () => {
    const e = sealed();
    assert.deepEqual(openEnvelope(e, bob), msg());
    // The ciphertext does not contain the text.
    assert.equal(Buffer.from(e.ct).indexOf('meet at noon'), -1);
  });

  it('use a fresh key and IV every time', () => {
    const a = sealed();
    const b = sealed();
    assert.notDeepEqual(Buffer.from(a.ct), Buffer.from(b.ct));
    assert.notDeepEqual(Buffer.from(a.iv), Buffer.from(b.iv));
  });

  it('cannot be opened by anyone else, even with the envelope readdressed', () => {
    const e = sealed();
    assert.throws(() => openEnvelope(e, mallory), (err: SealError) => err.code === 'not-for-me');
    assert.throws(() => openEnvelope({ ...e, to: mallory.id }, mallory), (err: SealError) => err.code === 'bad-signature');
  });

  it('are rejected when any signed field is altered', () => {
    const e = sealed();
    for (const field of ['wrappedKey', 'iv', 'ct', 'tag'] as const) rejects({ ...e, [field]: flip(e[field], 5) }, 'bad-signature');
    rejects({ ...e, sig: flip(e.sig, 9) }, 'bad-signature');
    rejects({ ...e, id: '01HZY3J8Q6X9V2K4M7N5P0R3SV' }, 'bad-signature');
  });

  it('are rejected when the sender certificate does not prove the sender', () => {
    const e = sealed();
    rejects({ ...e, cert: new X509Certificate(mallory.certPem).raw }, 'bad-certificate');
    rejects({ ...e, cert: flip(e.cert, 200) }, 'bad-certificate');
    rejects({ ...e, from: mallory.id }, 'bad-certificate');
  });

  it('cannot be forged by someone who re-signs with their own key under the sender name', () => {
    const e = sealed();
    const forged = sealMessage({ msg: { ...msg('transfer the money'), author: mallory.id }, to: bob.id, sender: mallory, recipientCert: bob.certPem });
    // Mallory's envelope claiming Alice: the certificate gives it away...
    rejects({ ...forged, from: alice.id }, 'bad-certificate');
    // ...and Alice's certificate with Mallory's signature does not verify.
    rejects({ ...forged, from: alice.id, cert: e.cert }, 'bad-signature');
  });

  it('bind the routing header to the content: a sender-signed relabel still fails to open', () => {
    // Even the sender's own signature over a changed header does not help: the header is the
    // encryption's associated data.
    const { sig: _old, ...unsigned } = { ...sealed(), id: '01HZY3J8Q6X9V2K4M7N5P0R3SV' };
    void _old;
    const sig = sign('sha256', signedBytes(unsigned), { key: createPrivateKey(alice.keyPem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    rejects({ ...unsigned, sig }, 'undecryptable');
  });

  it('refuse to seal a message the sender did not write', () => {
    assert.throws(() => sealMessage({ msg: { ...msg(), author: bob.id }, to: bob.id, sender: alice, recipientCert: bob.certPem }), (e: SealError) => e.code === 'bad-content');
  });

  it('refuse to seal to a certificate that is not the recipient', () => {
    assert.throws(() => sealMessage({ msg: msg(), to: bob.id, sender: alice, recipientCert: mallory.certPem }), (e: SealError) => e.code === 'bad-certificate');
  });
});
