// This node's key pair and self-signed certificate. The key comes from Node's crypto
// (node-forge's pure-JS RSA keygen takes seconds); node-forge only wraps it in an X.509
// certificate, since Node cannot create certificates. RSA because forge cannot sign others.
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import type { PeerId } from '../../contract/contract.ts';
import { peerIdFromCertificate, peerIdFromSpki } from './peer-id.ts';

export interface Identity {
  id: PeerId;
  keyPem: string;
  certPem: string;
}

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

const KEY_FILE = 'identity-key.pem';
const CERT_FILE = 'identity-cert.pem';

export function createCertificate(keyPem: string, commonName = 'parley'): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // Positive serial: a leading 0x00..0x7f byte keeps DER from reading it as negative.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  // A day of slack for peers whose clocks run behind; 20 years like Syncthing, because the
  // identity is the key and re-issuing must never be forced on people.
  cert.validity.notBefore = new Date(now - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(now + 20 * 365 * 24 * 3600 * 1000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function generateIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const certPem = createCertificate(keyPem);
  return { id: peerIdFromCertificate(certPem), keyPem, certPem };
}

function writePrivate(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
  chmodSync(file, 0o600);
}

/** Loads the identity from dataDir, creating it on first start. Never overwrites an existing key. */
export function loadOrCreateIdentity(dataDir: string): Identity {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dataDir, KEY_FILE);
  const certFile = path.join(dataDir, CERT_FILE);
  if (!existsSync(keyFile)) {
    if (existsSync(certFile)) throw new IdentityError(`${certFile} exists without its key ${keyFile}; refusing to replace the identity`);
    const identity = generateIdentity();
    writePrivate(keyFile, identity.keyPem);
    writePrivate(certFile, identity.certPem);
    return identity;
  }
  try {
    const keyPem = readFileSync(keyFile, 'utf8');
    let certPem: string;
    if (existsSync(certFile)) {
      certPem = readFileSync(certFile, 'utf8');
    } else {
      // The ID is the key's hash, so a lost certificate can be re-issued without changing it.
      certPem = createCertificate(keyPem);
      writePrivate(certFile, certPem);
    }
    const id = peerIdFromCertificate(certPem);
    const keyId = peerIdFromSpki(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }));
    if (keyId !== id) throw new IdentityError(`${certFile} does not belong to ${keyFile}`);
    return { id, keyPem, certPem };
  } catch (err) {
    if (err instanceof IdentityError) throw err;
    throw new IdentityError(`cannot read the identity in ${dataDir}: ${(err as Error).message}`);
  }
}
