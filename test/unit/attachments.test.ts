// The pure rules of files in conversations: which thumbnails pass, which offers come in
// without asking, how a Range header is read, what a declared type reduces to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS } from '../../main/contract/contract.ts';
import { autoAccepts, MEDIA_AUTO_ACCEPT_BYTES } from '../../main/core/attachments/auto-accept.ts';
import { essence, parseRange } from '../../main/core/attachments/media.ts';
import { acceptableThumbnail, parseThumbnail, thumbnailType } from '../../main/core/attachments/thumbnail.ts';
import { FileOfferWire, MessageBody } from '../../main/core/protocol/frames.ts';

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]);
const WEBP = new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 ');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const PEER = 'A'.repeat(52);

describe('thumbnails', () => {
  it('accept JPEG, PNG and WebP by their magic bytes, nothing else', () => {
    assert.equal(thumbnailType(PNG), 'image/png');
    assert.equal(thumbnailType(JPEG), 'image/jpeg');
    assert.equal(thumbnailType(WEBP), 'image/webp');
    for (const bad of ['<svg/>', 'GIF89a', '<html>', 'RIFF\0\0\0\0AVI ']) assert.equal(thumbnailType(new TextEncoder().encode(bad)), null, bad);
  });

  it('refuse a bad one from the UI with a clear error, and drop a bad one from a peer', () => {
    assert.deepEqual(parseThumbnail(b64(PNG)), PNG);
    assert.throws(() => parseThumbnail('%%%'), /not base64/);
    assert.throws(() => parseThumbnail(b64(new TextEncoder().encode('<svg onload=x>'))), /not a JPEG, PNG or WebP/);
    const huge = new Uint8Array(LIMITS.thumbnailBytes + 1);
    huge.set(PNG);
    assert.throws(() => parseThumbnail(b64(huge)), /larger than/);
    assert.equal(acceptableThumbnail(huge), undefined);
    assert.equal(acceptableThumbnail(new TextEncoder().encode('<svg/>')), undefined);
    assert.deepEqual(acceptableThumbnail(JPEG), JPEG);
  });

  it('an oversized thumbnail in an offer costs the preview, not the message', () => {
    const offer = { transfer: '01JWNNT2Q8F5K3M7D9X1VZB6CF', name: 'a', size: 1, mime: 'image/png', kind: 'image', chunk: 65536, hashes: new Uint8Array(32), hash: new Uint8Array(32) };
    const parsed = FileOfferWire.parse({ ...offer, thumb: new Uint8Array(LIMITS.thumbnailBytes + 1), w: -5, kind: 'hologram' });
    assert.equal(parsed.thumb, undefined);
    assert.equal(parsed.w, undefined);
    assert.equal(parsed.kind, 'file');
    assert.ok(MessageBody.safeParse({ text: '', file: offer }).success, 'a file with no text is a message');
    assert.ok(!MessageBody.safeParse({ text: '' }).success, 'no text and no file is not');
  });
});

describe('auto-accept', () => {
  const rules = (defaultMaxBytes: number, peers: Record<string, number> = {}) => ({ defaultMaxBytes, peers });
  it('asks by default, except for images and voice notes up to a few MiB', () => {
    assert.equal(autoAccepts(rules(0), PEER, 'file', 10), false);
    assert.equal(autoAccepts(rules(0), PEER, 'image', MEDIA_AUTO_ACCEPT_BYTES), true);
    assert.equal(autoAccepts(rules(0), PEER, 'voice', 1000), true);
    assert.equal(autoAccepts(rules(0), PEER, 'image', MEDIA_AUTO_ACCEPT_BYTES + 1), false);
    assert.equal(autoAccepts(rules(0), PEER, 'video', 1000), false);
  });
  it('takes anything up to the default size, and a contact\'s own limit over the default', () => {
    assert.equal(autoAccepts(rules(5000), PEER, 'file', 5000), true);
    assert.equal(autoAccepts(rules(5000), PEER, 'file', 5001), false);
    assert.equal(autoAccepts(rules(5000, { [PEER]: 10_000 }), PEER, 'file', 8000), true);
    assert.equal(autoAccepts(rules(5000, { [PEER]: 0 }), PEER, 'image', 10), false, '0 for a contact: always ask');
  });
});

describe('media requests', () => {
  it('read one byte range, or refuse it', () => {
    assert.equal(parseRange(null, 100), null);
    assert.deepEqual(parseRange('bytes=0-9', 100), [0, 9]);
    assert.deepEqual(parseRange('bytes=90-', 100), [90, 99]);
    assert.deepEqual(parseRange('bytes=-10', 100), [90, 99]);
    assert.deepEqual(parseRange('bytes=50-1000', 100), [50, 99]);
    for (const bad of ['bytes=100-', 'bytes=5-2', 'bytes=-0', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-']) assert.equal(parseRange(bad, 100), 'invalid', bad);
  });
  it('reduce a declared type to type/subtype', () => {
    assert.equal(essence('Image/PNG'), 'image/png');
    assert.equal(essence('text/html; charset=utf-8'), 'text/html');
    assert.equal(essence('nonsense'), '');
  });
});
