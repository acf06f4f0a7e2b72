// Peer IDs: SHA-256 over the certificate's SubjectPublicKeyInfo, base32 (RFC 4648, no padding).
// People compare IDs by eye, so the display form adds a check character per 13-character
// block (Luhn mod 32, as Syncthing does) and groups of 7; parsing forgives case, dashes,
// spaces and the usual look-alike digits.
import { createHash, X509Certificate } from 'node:crypto';
import type { PeerId } from '../../contract/contract.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Luhn mod 32 over base32 characters (Syncthing's variant: the factor starts at 1). */
export function luhn32(block: string): string {
  let factor = 1;
  let sum = 0;
  for (const ch of block) {
    const cp = ALPHABET.indexOf(ch);
    if (cp < 0) throw new Error(`not a base32 character: ${ch}`);
    let addend = factor * cp;
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / 32) + (addend % 32);
    sum += addend;
  }
  return ALPHABET[(32 - (sum % 32)) % 32]!;
}

export function peerIdFromSpki(spkiDer: Uint8Array): PeerId {
  return base32(createHash('sha256').update(spkiDer).digest());
}

/** The ID a certificate (DER or PEM) proves: the hash of its public key, not of the whole cert. */
export function peerIdFromCertificate(cert: Buffer | string): PeerId {
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return peerIdFromSpki(spki);
}

/** ABCDEFG-HIJKLMN-… : four 13-char blocks each followed by its check char, in groups of 7. */
export function displayId(id: PeerId): string {
  let withChecks = '';
  for (let i = 0; i < 52; i += 13) {
    const block = id.slice(i, i + 13);
    withChecks += block + luhn32(block);
  }
  return withChecks.match(/.{7}/g)!.join('-');
}

export function shortId(id: PeerId): string {
  return id.slice(0, 7);
}

export class PeerIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerIdError';
  }
}

/** Accepts the canonical 52-char form or the 56-char display form, in any case and grouping. */
export function parsePeerId(input: string): PeerId {
  const s = input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/0/g, 'O')
    .replace(/1/g, 'I')
    .replace(/8/g, 'B');
  if (!/^[A-Z2-7]+$/.test(s)) throw new PeerIdError('a peer ID contains only letters A-Z and digits 2-7');
  if (s.length === 52) return s;
  if (s.length !== 56) throw new PeerIdError(`a peer ID has 52 or 56 characters, not ${s.length}`);
  let id = '';
  for (let i = 0; i < 56; i += 14) {
    const block = s.slice(i, i + 13);
    if (luhn32(block) !== s[i + 13]) throw new PeerIdError(`check character ${i / 14 + 1} does not match: mistyped ID?`);
    id += block;
  }
  return id;
}
