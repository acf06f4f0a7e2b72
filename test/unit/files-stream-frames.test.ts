// The parley-file/1 frames: what the encoder writes decodes to the same frame, what breaks the
// rules is refused with a reason, and PROTOCOL.md § 14 names every frame, field and end code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import {
  bitmapHas,
  DATA_BYTES,
  decodeFilePayload,
  encodeDataHead,
  encodeFileFrame,
  END_CODES,
  FILE_ALPN,
  FileFrame,
  FileFrameDecoder,
  FileStreamError,
  haveBitmap,
  MAX_FILE_FRAME_BYTES,
  MAX_WINDOW_CHUNKS,
  type OutgoingFileFrame,
} from '../../main/core/files/stream-frames.ts';

const ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const payload = (framed: Buffer) => framed.subarray(4);

describe('parley-file/1 frames', () => {
  it('decode to what was encoded', () => {
    const frames: OutgoingFileFrame[] = [
      { t: 'open', v: 1, id: ID, digest: 'ab'.repeat(32), have: new Uint8Array([0b101, 0]) },
      { t: 'ready', window: 16 },
      { t: 'req', i: [0, 7, 4095] },
      { t: 'ok', i: [3] },
      { t: 'done' },
      { t: 'end', code: 'disk-full', resumable: true },
    ];
    for (const f of frames) {
      const back = decodeFilePayload(payload(encodeFileFrame(f)));
      // bin comes back as a view of the received bytes
      assert.deepEqual(back.t === 'open' ? { ...back, have: new Uint8Array(back.have) } : back, f);
    }
  });

  it('write data frames as a head before the bytes, which a plain MessagePack decoder reads too', () => {
    const bytes = randomBytes(DATA_BYTES);
    const framed = Buffer.concat([encodeDataHead(4095, 3 * DATA_BYTES, bytes.byteLength), bytes]);
    assert.equal(framed.readUInt32BE(0), framed.byteLength - 4);
    assert.ok(framed.byteLength - 4 <= MAX_FILE_FRAME_BYTES);
    const f = decodeFilePayload(payload(framed));
    assert.equal(f.t, 'data');
    assert.deepEqual([f.t === 'data' && f.i, f.t === 'data' && f.o], [4095, 3 * DATA_BYTES]);
    assert.ok(f.t === 'data' && Buffer.from(f.b).equals(bytes));
    assert.deepEqual(Object.keys(decode(payload(framed)) as object), ['t', 'i', 'o', 'b']);
    assert.throws(() => encodeDataHead(0, 0, DATA_BYTES + 1), RangeError);
    assert.throws(() => encodeDataHead(0, 0, 0), RangeError);
  });

  it('read an end code this version does not know as a generic peer error', () => {
    const f = decodeFilePayload(encode({ t: 'end', code: 'cosmic-rays', resumable: false }));
    assert.deepEqual(f, { t: 'end', code: 'peer-error', resumable: false });
  });

  it('refuse what breaks the rules, each with a reason', () => {
    const bad: Array<[string, Uint8Array, FileStreamError['code']]> = [
      ['an unknown type', encode({ t: 'zap' }), 'unknown-type'],
      ['a link frame type', encode({ t: 'hello' }), 'unknown-type'],
      ['a bad transfer ID', encode({ t: 'open', v: 1, id: '../../x', digest: 'ab'.repeat(32), have: new Uint8Array(0) }), 'bad-frame'],
      ['too many chunks asked for', encode({ t: 'req', i: [...Array(MAX_WINDOW_CHUNKS + 1).keys()] }), 'bad-encoding'],
      ['no chunk asked for', encode({ t: 'req', i: [] }), 'bad-frame'],
      ['a chunk index past the limit', encode({ t: 'req', i: [4096] }), 'bad-frame'],
      ['data too large', encode({ t: 'data', i: 0, o: 0, b: new Uint8Array(DATA_BYTES + 1) }), 'bad-frame'],
      ['empty data', encode({ t: 'data', i: 0, o: 0, b: new Uint8Array(0) }), 'bad-frame'],
      ['a window of 0', encode({ t: 'ready', window: 0 }), 'bad-frame'],
      ['a have bitmap for more than 4,096 chunks', encode({ t: 'open', v: 1, id: ID, digest: 'ab'.repeat(32), have: new Uint8Array(513) }), 'bad-frame'],
      ['an extension type', Uint8Array.from([0x81, 0xa1, 0x74, 0xd4, 0x01, 0x00]), 'bad-encoding'],
      ['not a map', encode([1, 2]), 'unknown-type'],
    ];
    for (const [what, p, code] of bad) {
      assert.throws(() => decodeFilePayload(p), (e) => e instanceof FileStreamError && e.code === code, what);
    }
  });

  it('are cut from a byte stream in any pieces, and a declared length over the cap is refused before its bytes arrive', () => {
    const stream = Buffer.concat([encodeFileFrame({ t: 'ready', window: 3 }), encodeDataHead(1, 0, 10), Buffer.alloc(10, 9), encodeFileFrame({ t: 'done' })]);
    const dec = new FileFrameDecoder();
    const got = [];
    for (let i = 0; i < stream.byteLength; i += 7) got.push(...dec.push(stream.subarray(i, i + 7)));
    assert.deepEqual(got.map((f) => f.t), ['ready', 'data', 'done']);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FILE_FRAME_BYTES + 1);
    assert.throws(() => new FileFrameDecoder().push(huge), (e) => e instanceof FileStreamError && e.code === 'frame-too-large');
  });

  it('carry "have" as one bit per chunk', () => {
    const has = new Set([0, 9, 4095]);
    const bits = haveBitmap(4096, (i) => has.has(i));
    assert.equal(bits.byteLength, 512);
    for (let i = 0; i < 4096; i++) assert.equal(bitmapHas(bits, i), has.has(i), `chunk ${i}`);
    assert.equal(haveBitmap(0, () => true).byteLength, 0);
  });
});

describe('PROTOCOL.md § 14', () => {
  const md = readFileSync(path.join(import.meta.dirname, '../../PROTOCOL.md'), 'utf8');
  const section = md.slice(md.indexOf('## 14. File streams'));

  it('names the ALPN, every frame type with its fields, and every end code', () => {
    assert.ok(section.length > 1000, 'the section exists');
    assert.ok(section.includes(`\`${FILE_ALPN}\``));
    for (const option of FileFrame.options) {
      const t = option.shape.t.value;
      const row = section.split('\n').find((l) => l.startsWith(`| \`${t}\` |`));
      assert.ok(row, `no table row for ${t}`);
      for (const field of Object.keys(option.shape).filter((k) => k !== 't')) assert.ok(row.includes(`\`${field}\``), `${t}.${field} is not in its row`);
    }
    for (const code of END_CODES.filter((c) => c !== 'peer-error')) assert.ok(section.includes(`\`${code}\``), `end code ${code}`);
  });
});
