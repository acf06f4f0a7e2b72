// Offline-mailbox envelopes: a peer `msg` frame encrypted to its recipient and signed by its
// sender, so the relay that stores it can neither read, alter, forge nor redirect it.
//  - encryption: a fresh AES-256-GCM key per message, wrapped with RSA-OAEP(SHA-256) to the
//    recipient's certificate key; the routing header (id, from, to) is the GCM AAD;
//  - signature: RSA-PSS(SHA-256) by the sender over every other field (encrypt-then-sign), and
//    the sender's certificate travels along so the recipient needs nothing stored in advance:
//    the certificate proves `from` because a peer ID is the hash of the certificate's key.
// A relay can still drop, delay or replay envelopes; the recipient dedupes by message ID
// against its store, and the sender keeps the message in its outbox until the recipient
// itself acks it over a link, so none of that loses or duplicates anything.
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import type { PeerId } from '../../contract/contract.ts';
import type { Identity } from '../identity/identity.ts';
import { peerIdFromCertificate } from '../identity/peer-id.ts';
import { decodePayload, encodeFrame } from '../protocol/codec.ts';
import type { FrameOf } from '../protocol/frames.ts';
import type { Envelope } from './frames.ts';

export class SealError extends Error {
  readonly code: 'not-for-me' | 'bad-certificate' | 'bad-signature' | 'undecryptable' | 'bad-content';
  constructor(code: SealError['code'], message: string) {
    super(message);
    this.name = 'SealError';
    this.code = code;
  }
}

const DOMAIN = Buffer.from('parley-mailbox-v1\0', 'ascii');
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

function lengthPrefixed(parts: Array<Uint8Array | string>): Buffer {
  const out: Buffer[] = [DOMAIN];
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.byteLength, 0);
    out.push(len, b);
  }
  return Buffer.concat(out);
}

function header(e: Pick<Envelope, 'id' | 'from' | 'to'>): Buffer {
  return lengthPrefixed([String(1), e.id, e.from, e.to]);
}

/** The bytes the sender signs: every field but the signature, unambiguously delimited. */
export function signedBytes(e: Omit<Envelope, 'sig'>): Buffer {
  return lengthPrefixed([String(e.v), e.id, e.from, e.to, e.cert, e.wrappedKey, e.iv, e.ct, e.tag]);
}

function derOf(cert: string | Uint8Array): Buffer {
  return Buffer.from(new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert)).raw);
}

/**
 * Seals `msg` for the holder of `recipientCert` (PEM or DER). Throws when the certificate does
 * not belong to `msg`'s intended recipient `to` (a relay handing out someone else's key).
 */
export function sealMessage(opts: { msg: FrameOf<'msg'>; to: PeerId; sender: Identity; recipientCert: string | Uint8Array }): Envelope {
  const { msg, to, sender } = opts;
  if (msg.author !== sender.id) throw new SealError('bad-content', 'only the author may seal a message');
  const recipientKey: KeyObject = new X509Certificate(typeof opts.recipientCert === 'string' ? opts.recipientCert : Buffer.from(opts.recipientCert)).publicKey;
  if (peerIdFromCertificate(typeof opts.recipientCert === 'string' ? opts.recipientCert : Buffer.from(opts.recipientCert)) !== to) {
    throw new SealError('bad-certificate', 'the recipient certificate does not prove the recipient ID');
  }
  const aesKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
  cipher.setAAD(header({ id: msg.id, from: sender.id, to }));
  const plain = encodeFrame(msg).subarray(4);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  const wrappedKey = publicEncrypt({ key: recipientKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey);
  aesKey.fill(0);
  const unsigned: Omit<Envelope, 'sig'> = { v: 1, id: msg.id, from: sender.id, to, cert: derOf(sender.certPem), wrappedKey, iv, ct, tag };
  const sig = sign('sha256', signedBytes(unsigned), { key: createPrivateKey(sender.keyPem), ...PSS });
  return { ...unsigned, sig };
}

/** Checks and opens an envelope addressed to `recipient`; throws SealError on anything wrong. */
export function openEnvelope(e: Envelope, recipient: Identity): FrameOf<'msg'> {
  if (e.to !== recipient.id) throw new SealError('not-for-me', 'envelope is addressed to someone else');
  let senderKey: KeyObject;
  try {
    const cert = new X509Certificate(Buffer.from(e.cert));
    senderKey = cert.publicKey;
    if (peerIdFromCertificate(Buffer.from(e.cert)) !== e.from) throw new Error('mismatch');
  } catch {
    throw new SealError('bad-certificate', 'the sender certificate does not prove the sender ID');
  }
  const { sig, ...unsigned } = e;
  let valid = false;
  try {
    valid = verify('sha256', signedBytes(unsigned), { key: senderKey, ...PSS }, sig);
  } catch {
    valid = false;
  }
  if (!valid) throw new SealError('bad-signature', 'the sender signature does not verify');
  let plain: Buffer;
  try {
    const aesKey = privateDecrypt(
      { key: createPrivateKey(recipient.keyPem), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      e.wrappedKey,
    );
    const decipher = createDecipheriv('aes-256-gcm', aesKey, e.iv);
    decipher.setAAD(header(e));
    decipher.setAuthTag(e.tag);
    plain = Buffer.concat([decipher.update(e.ct), decipher.final()]);
    aesKey.fill(0);
  } catch {
    throw new SealError('undecryptable', 'cannot decrypt the envelope');
  }
  let frame;
  try {
    frame = decodePayload(plain);
  } catch (err) {
    throw new SealError('bad-content', `sealed content is not a valid message: ${(err as Error).message}`);
  }
  if (frame.t !== 'msg') throw new SealError('bad-content', `sealed content is a ${frame.t} frame, not a message`);
  if (frame.id !== e.id || frame.author !== e.from) throw new SealError('bad-content', 'sealed message does not match its envelope');
  return frame;
}
