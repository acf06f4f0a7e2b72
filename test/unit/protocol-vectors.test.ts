// The wire format pinned down as bytes. test/vectors/*.json are part of the specification
// (PROTOCOL.md points a second implementation at them), so these tests check the codec against
// the files and the files against PROTOCOL.md: neither the code nor the prose can drift alone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { displayId, shortId } from '../../main/core/identity/peer-id.ts';
import { decodePayload, encodeFrame, FrameDecoder, ProtocolError } from '../../main/core/protocol/codec.ts';
import { ALPN, CAPABILITIES, Frame, FRAME_TYPES, MAX_FRAME_BYTES, PROTOCOL_VERSION, type FrameOf } from '../../main/core/protocol/frames.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const hexString = z.string().regex(/^([0-9a-f]{2})+$/, 'lower-case hex, whole bytes');
/** JSON has no bytes: a MessagePack `bin` value is written {"$bin": "<hex>"} in the vector files. */
const binReviver = (_key: string, value: unknown): unknown => {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && '$bin' in value) {
    return new Uint8Array(Buffer.from(hexString.parse((value as { $bin: unknown }).$bin), 'hex'));
  }
  return value;
};
const load = <T extends z.ZodType>(file: string, schema: T): z.infer<T> =>
  schema.parse(JSON.parse(readFileSync(path.join(root, 'test', 'vectors', file), 'utf8'), binReviver));

const valid = load('frames.json', z.array(z.object({ name: z.string().min(1), frame: z.unknown(), hex: hexString }).strict()).min(1));
const invalid = load(
  'frames-invalid.json',
  z.array(z.object({ name: z.string().min(1), hex: hexString, error: z.enum(['frame-too-large', 'empty-frame', 'bad-encoding', 'unknown-type', 'bad-frame']) }).strict()).min(1),
);
const noncanonical = load('frames-noncanonical.json', z.array(z.object({ name: z.string().min(1), hex: hexString, frame: z.unknown() }).strict()).min(1));
const protocolMd = readFileSync(path.join(root, 'PROTOCOL.md'), 'utf8');

const bytes = (hex: string) => Buffer.from(hex, 'hex');
/** `bin` decodes to a view of the input, a Buffer when the input was one: the bytes are what count. */
const plainBytes = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? new Uint8Array(value)
    : Array.isArray(value)
      ? value.map(plainBytes)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainBytes(v)]))
        : value;

function decodeError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the input to be rejected');
}

describe('valid frame vectors (test/vectors/frames.json)', () => {
  it('cover every frame type', () => {
    const covered = new Set(valid.map((v) => (v.frame as { t?: unknown }).t));
    for (const t of FRAME_TYPES) assert.ok(covered.has(t), `no vector for ${t}`);
  });

  it('hold only frames the schemas accept, with the length prefix matching the payload', () => {
    for (const v of valid) {
      assert.ok(Frame.safeParse(v.frame).success, `${v.name}: frame does not satisfy the schema`);
      const wire = bytes(v.hex);
      assert.equal(wire.readUInt32BE(0), wire.byteLength - 4, `${v.name}: length prefix`);
    }
  });

  for (const v of valid) {
    it(`encode to exactly the recorded bytes: ${v.name}`, () => {
      assert.equal(encodeFrame(v.frame as Frame).toString('hex'), v.hex);
    });

    it(`decode back to the recorded frame, whole or one byte at a time: ${v.name}`, () => {
      const wire = bytes(v.hex);
      assert.deepEqual(plainBytes(decodePayload(wire.subarray(4))), v.frame);
      const decoder = new FrameDecoder();
      const frames = [...wire].flatMap((b) => decoder.push(Buffer.of(b)));
      assert.deepEqual(frames.map(plainBytes), [v.frame]);
      assert.equal(decoder.pendingBytes, 0);
    });
  }

  it('decode to frames that re-encode canonically (decoded field order is the schema order)', () => {
    for (const v of valid) assert.equal(encodeFrame(decodePayload(bytes(v.hex).subarray(4))).toString('hex'), v.hex, v.name);
  });

  it('leave out an optional field whose value is undefined rather than sending nil', () => {
    const hello = valid.find((v) => (v.frame as { t?: unknown }).t === 'hello')!;
    assert.equal(encodeFrame({ ...(hello.frame as FrameOf<'hello'>), port: undefined }).toString('hex'), hello.hex);
  });

  it('decode as one stream when concatenated', () => {
    const decoder = new FrameDecoder();
    assert.deepEqual(
      decoder.push(Buffer.concat(valid.map((v) => bytes(v.hex)))).map(plainBytes),
      valid.map((v) => v.frame),
    );
  });
});

describe('invalid input vectors (test/vectors/frames-invalid.json)', () => {
  for (const v of invalid) {
    it(`are rejected with ${v.error}: ${v.name}`, () => {
      const err = decodeError(() => new FrameDecoder().push(bytes(v.hex)));
      assert.equal(err.code, v.error);
    });
  }

  it('reject an oversized length as soon as the 4-byte prefix is in, without waiting for a payload', () => {
    const oversized = invalid.filter((v) => v.error === 'frame-too-large');
    assert.ok(oversized.length >= 2);
    for (const v of oversized) assert.equal(bytes(v.hex).byteLength, 4, `${v.name} should be a bare prefix`);
  });

  it('include every error code', () => {
    const codes = new Set(invalid.map((v) => v.error));
    for (const code of ['frame-too-large', 'empty-frame', 'bad-encoding', 'unknown-type', 'bad-frame']) assert.ok(codes.has(code as never), code);
  });
});

describe('non-canonical but valid vectors (test/vectors/frames-noncanonical.json)', () => {
  for (const v of noncanonical) {
    it(`are accepted: ${v.name}`, () => {
      assert.deepEqual(new FrameDecoder().push(bytes(v.hex)), [v.frame]);
      assert.notEqual(encodeFrame(v.frame as Frame).toString('hex'), v.hex, 'the encoder itself would write the canonical form');
    });
  }
});

describe('PROTOCOL.md', () => {
  const hexBlocks = [...protocolMd.matchAll(/```hex\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\s+/g, '').toLowerCase());

  it('prints only example frames that are recorded vectors', () => {
    assert.ok(hexBlocks.length >= 5, `found only ${hexBlocks.length} hex examples`);
    const recorded = new Set(valid.map((v) => v.hex));
    for (const hex of hexBlocks) assert.ok(recorded.has(hex), `PROTOCOL.md example not in frames.json: ${hex.slice(0, 40)}…`);
  });

  it('documents every frame type in its own section', () => {
    for (const t of FRAME_TYPES) assert.match(protocolMd, new RegExp(`^### \`${t}\``, 'm'), `no "### \`${t}\`" section`);
  });

  it('lists every field of every frame type in that frame\'s table', () => {
    for (const option of Frame.options) {
      const t = option.shape.t.value;
      const start = protocolMd.search(new RegExp(`^### \`${t}\``, 'm'));
      assert.ok(start >= 0, `no section for ${t}`);
      const end = protocolMd.indexOf('\n#', start + 1);
      const section = protocolMd.slice(start, end);
      for (const field of Object.keys(option.shape)) {
        assert.match(section, new RegExp(`^\\| \`${field}\` \\|`, 'm'), `${t}.${field} is not in its table`);
      }
    }
  });

  it('states the constants the code uses', () => {
    assert.ok(protocolMd.includes(`\`${ALPN}\``), 'ALPN');
    assert.ok(protocolMd.includes(`${MAX_FRAME_BYTES} `), 'MAX_FRAME_BYTES');
    assert.ok(protocolMd.includes(`version ${PROTOCOL_VERSION}`), 'PROTOCOL_VERSION');
    for (const cap of CAPABILITIES) assert.ok(protocolMd.includes(`\`${cap}\``), cap);
  });

  it('shows an ID display form and short form that the identity code agrees with', () => {
    const m = /canonical: `([A-Z2-7]{52})`[\s\S]*?display: `([A-Z2-7-]{63})`[\s\S]*?short: `([A-Z2-7]{7})`/.exec(protocolMd);
    assert.ok(m, 'worked ID example not found');
    assert.equal(displayId(m[1]!), m[2]);
    assert.equal(shortId(m[1]!), m[3]);
  });
});
