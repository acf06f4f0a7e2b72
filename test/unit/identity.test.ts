import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { IdentityError, createCertificate, loadOrCreateIdentity } from '../../main/core/identity/identity.ts';
import { displayId, parsePeerId, peerIdFromCertificate, shortId } from '../../main/core/identity/peer-id.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'parley-id-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('identity', () => {
  it('is created on first start with owner-only files and loaded unchanged afterwards', () => {
    const dir = tmp();
    const first = loadOrCreateIdentity(dir);
    assert.match(first.id, /^[A-Z2-7]{52}$/);
    for (const f of ['identity-key.pem', 'identity-cert.pem']) {
      assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} must be owner-only`);
    }
    assert.equal(statSync(dir).mode & 0o077, 0, 'data dir must not be group/world accessible');
    const second = loadOrCreateIdentity(dir);
    assert.equal(second.id, first.id);
    assert.equal(second.keyPem, first.keyPem);
  });

  it('keeps its ID when the certificate is re-issued, because the ID is the key hash', () => {
    const dir = tmp();
    const id = loadOrCreateIdentity(dir);
    const reissued = createCertificate(id.keyPem, 'someone-else');
    assert.notEqual(reissued, id.certPem);
    assert.equal(peerIdFromCertificate(reissued), id.id);
    rmSync(path.join(dir, 'identity-cert.pem'));
    assert.equal(loadOrCreateIdentity(dir).id, id.id, 'a lost certificate is re-made from the key');
  });

  it('refuses a certificate that belongs to another key instead of silently replacing anything', () => {
    const a = tmp();
    const b = tmp();
    loadOrCreateIdentity(a);
    loadOrCreateIdentity(b);
    const foreign = readFileSync(path.join(b, 'identity-cert.pem'), 'utf8');
    writeFileSync(path.join(a, 'identity-cert.pem'), foreign);
    assert.throws(() => loadOrCreateIdentity(a), IdentityError);
    assert.equal(readFileSync(path.join(a, 'identity-cert.pem'), 'utf8'), foreign, 'nothing was overwritten');
  });

  it('gives an unreadable key a clear error', () => {
    const dir = tmp();
    loadOrCreateIdentity(dir);
    writeFileSync(path.join(dir, 'identity-key.pem'), 'garbage');
    assert.throws(() => loadOrCreateIdentity(dir), /cannot read the identity|does not belong/);
  });
});

describe('peer ID display form', () => {
  const id = 'RJANNLSRQCJRN5MQ5YK2K5NTAZ3GLXVMWA2XCSEQ4NV2CVIOJQKA';

  it('groups 52 characters plus 4 check characters into 8 groups of 7', () => {
    assert.equal(displayId(id), 'RJANNLS-RQCJRN6-5MQ5YK2-K5NTAZD-3GLXVMW-A2XCSEI-Q4NV2CV-IOJQKAY');
    assert.equal(shortId(id), 'RJANNLS');
  });

  it('parses either form tolerantly: any case, dashes, spaces, look-alike digits', () => {
    assert.equal(parsePeerId(id), id);
    assert.equal(parsePeerId(displayId(id).toLowerCase()), id);
    assert.equal(parsePeerId(displayId(id).replace(/-/g, ' ')), id);
    assert.equal(parsePeerId(displayId(id).replace(/O/g, '0').replace(/I/g, '1').replace(/B/g, '8')), id);
  });

  it('catches a mistyped character through the check characters', () => {
    const shown = displayId(id);
    const typo = (shown[3] === 'A' ? 'B' : 'A');
    const wrong = shown.slice(0, 3) + typo + shown.slice(4);
    assert.throws(() => parsePeerId(wrong), /check character/);
    assert.throws(() => parsePeerId('too short'), /52 or 56/);
    assert.throws(() => parsePeerId('!'.repeat(52)), /letters/);
  });
});
