// Property tests for the wire codec: whatever a peer sends, the decoder either returns frames
// that satisfy the schemas or throws a ProtocolError, and every valid frame survives the trip
// through the byte stream however TCP happens to cut it. Each property runs 10,000 cases; a
// failure prints the seed and path to replay it (fc.assert's { seed, path } options).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import type { z } from 'zod';
import { LIMITS, PresenceSchema } from '../../main/contract/contract.ts';
import { decodePayload, encodeFrame, FrameDecoder, ProtocolError } from '../../main/core/protocol/codec.ts';
import {
  AckFrame,
  Frame,
  FRAME_TYPES,
  HelloFrame,
  MAX_FRAME_BYTES,
  MessageBody,
  type FrameOf,
  type FrameType,
} from '../../main/core/protocol/frames.ts';

const RUNS = 10_000;
const TIMEOUT = { timeout: 120_000 };
const CODES = new Set<string>(['frame-too-large', 'empty-frame', 'bad-encoding', 'unknown-type', 'bad-frame']);

// ---- arbitraries for every frame type, built from the schemas' limits ----------------------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const fixed = (alphabet: string, n: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: n, maxLength: n });
const peerId = fixed('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 52);
const ulid = fixed(CROCKFORD, 26);
const crockford = (n: number, digits: number) => [...n.toString(32).padStart(digits, '0')].map((d) => CROCKFORD[parseInt(d, 32)]).join('');

/** One code point from each range UTF-8 encodes with a different length, controls included; never a lone surrogate. */
const codePoint = fc
  .oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x00, max: 0x1f }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0x7ff }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xffff }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }) },
  )
  .map((cp) => String.fromCodePoint(cp));

/**
 * Strings a Text(min..max) field accepts (zod counts Unicode code points, not UTF-16 units):
 * mostly short random ones, sometimes exactly at either limit in 1-byte or 4-byte characters.
 */
function text(min: number, max: number): fc.Arbitrary<string> {
  const edges = [...new Set([min, max])].flatMap((n) => (n === 0 ? [''] : ['x'.repeat(n), '😀'.repeat(n)]));
  return fc.oneof(
    { weight: 19, arbitrary: fc.string({ unit: codePoint, minLength: min, maxLength: Math.min(max, 40) }) },
    { weight: 1, arbitrary: fc.constantFrom(...edges) },
  );
}

const u53 = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.constantFrom(0, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER));
const positive = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(1, 2 ** 32, Number.MAX_SAFE_INTEGER));
const version = fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 65535 }));
const presence = fc.constantFrom(...PresenceSchema.options);
const conv = text(1, 200);
const port = fc.integer({ min: 1, max: 65535 });
const hextet = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
/** host:port as a Hello announces it: dotted IPv4, or full-form IPv6 in brackets. */
const announcedAddress = fc.oneof(
  fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), port).map(([ip, p]) => `${ip.join('.')}:${p}`),
  fc.tuple(fc.array(hextet, { minLength: 8, maxLength: 8 }), port).map(([ip, p]) => `[${ip.join(':')}]:${p}`),
);

/** Frames decode to plain objects, so generate plain ones (fc.record may pick a null prototype). */
const record = <T>(shape: { [K in keyof T]-?: fc.Arbitrary<Exclude<T[K], undefined>> }, optional: Array<keyof T> = []): fc.Arbitrary<T> =>
  fc.record(shape, {
    noNullPrototype: true,
    // Optional fields are sometimes absent (never present with undefined: that is not a frame value).
    requiredKeys: (Object.keys(shape) as Array<keyof T>).filter((k) => !optional.includes(k)),
  }) as fc.Arbitrary<T>;

/** The type makes a new frame type without an arbitrary a compile error. */
const frameArbs: { [K in FrameType]: fc.Arbitrary<FrameOf<K>> } = {
  hello: record({
    t: fc.constant('hello' as const),
    v: version,
    min: version,
    id: peerId,
    name: text(1, LIMITS.displayName),
    presence,
    statusText: text(0, LIMITS.statusText),
    caps: fc.oneof(
      { weight: 19, arbitrary: fc.array(text(0, 64), { maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(text(0, 64), { minLength: 64, maxLength: 64 }) },
    ),
    instance: text(8, 64),
    port,
    addrs: fc.oneof(
      { weight: 19, arbitrary: fc.array(announcedAddress, { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(announcedAddress, { minLength: 16, maxLength: 16 }) },
    ),
  }, ['port', 'addrs']),
  ping: record({ t: fc.constant('ping' as const), n: u53 }),
  pong: record({ t: fc.constant('pong' as const), n: u53 }),
  msg: record({
    t: fc.constant('msg' as const),
    id: ulid,
    conv,
    author: peerId,
    seq: positive,
    lamport: positive,
    ts: u53,
    body: record({ text: text(1, LIMITS.messageText) }),
  }),
  ack: record({
    t: fc.constant('ack' as const),
    ids: fc.oneof(
      { weight: 99, arbitrary: fc.array(ulid, { minLength: 1, maxLength: 8 }) },
      // A full ack, made cheaply: 1024 random ULIDs per case would dominate the run time.
      { weight: 1, arbitrary: ulid.map((u) => Array.from({ length: 1024 }, (_, i) => u.slice(0, 22) + crockford(i, 4))) },
    ),
  }),
  nack: record({ t: fc.constant('nack' as const), id: ulid, code: fc.constantFrom('conflict' as const, 'invalid' as const) }),
  read: record({ t: fc.constant('read' as const), conv, upTo: ulid }),
  presence: record({ t: fc.constant('presence' as const), name: text(1, LIMITS.displayName), presence, statusText: text(0, LIMITS.statusText) }),
  typing: record({ t: fc.constant('typing' as const), conv, active: fc.boolean() }),
  gsync: record({
    t: fc.constant('gsync' as const),
    group: fixed('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 26),
    // Distinct authors: a vector naming one twice is refused.
    have: fc.uniqueArray(fc.tuple(peerId, positive), { maxLength: 6, selector: (p) => p[0] }),
  }),
  gev: record({
    t: fc.constant('gev' as const),
    group: fixed('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 26),
    // The frame carries the author's bytes opaquely: any bytes of a valid length (the replica checks them).
    evs: fc.array(record({ ev: fc.uint8Array({ minLength: 1, maxLength: 300 }), sig: fc.uint8Array({ minLength: 64, maxLength: 300 }) }), {
      minLength: 1,
      maxLength: 4,
    }),
    more: fc.boolean(),
  }),
  xfer: record({ t: fc.constant('xfer' as const), id: ulid, state: fc.constantFrom('declined' as const, 'canceled' as const) }),
  bye: record({ t: fc.constant('bye' as const), reason: text(0, 200) }),
};
const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameArbs));
const arbitraryOf = (t: FrameType) => frameArbs[t] as fc.Arbitrary<Frame>;

// ---- helpers -------------------------------------------------------------------------------

/** `bin` decodes to a view of the input (a Buffer when the input was one): the bytes are what count. */
const plainBytes = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? new Uint8Array(value)
    : Array.isArray(value)
      ? value.map(plainBytes)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainBytes(v)]))
        : value;

/** Cut points (taken modulo length + 1, so empty chunks happen too) for splitting a stream. */
const cuts = fc.array(fc.nat(), { maxLength: 8 });

function split(buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((c) => c % (buf.byteLength + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** The error, checked to be a ProtocolError with a known code; anything else fails the property. */
function asRejection(err: unknown): ProtocolError {
  if (!(err instanceof ProtocolError)) throw new Error(`threw something other than a ProtocolError: ${String(err)}`, { cause: err });
  assert.ok(CODES.has(err.code), `unexpected code ${err.code}`);
  return err;
}

function rejection(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    return asRejection(err);
  }
  throw new Error('input was accepted but must be rejected');
}

const assertValidFrames = (frames: unknown[]) => {
  for (const f of frames) assert.ok(Frame.safeParse(f).success, `decoder returned an invalid frame: ${JSON.stringify(f).slice(0, 200)}`);
};

// ---- properties ----------------------------------------------------------------------------

describe('FrameDecoder on arbitrary bytes', () => {
  const noise = fc.uint8Array({ maxLength: 96 });
  const plausibleLength = fc
    .tuple(fc.integer({ min: 1, max: 64 }), fc.uint8Array({ maxLength: 80 }))
    .map(([len, body]) => Buffer.concat([u32(len), body]));
  const corruptedFrame = fc
    .tuple(anyFrame, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
    .map(([frame, flips]) => {
      const wire = Buffer.from(encodeFrame(frame));
      for (const [pos, byte] of flips) wire[pos % wire.byteLength] = byte;
      return wire;
    });
  const framesThenJunk = fc
    .tuple(fc.array(anyFrame, { maxLength: 3 }), fc.uint8Array({ maxLength: 24 }))
    .map(([frames, junk]) => Buffer.concat([...frames.map(encodeFrame), junk]));

  it('yields only schema-valid frames or throws a ProtocolError, and stays failed after one', TIMEOUT, () => {
    fc.assert(
      fc.property(fc.oneof(noise.map((b) => Buffer.from(b)), plausibleLength, corruptedFrame, framesThenJunk), cuts, (bytes, at) => {
        const decoder = new FrameDecoder();
        for (const chunk of split(bytes, at)) {
          let frames: Frame[];
          try {
            frames = decoder.push(chunk);
          } catch (err) {
            const first = asRejection(err);
            // No resync: the stream stays rejected whatever comes next.
            assert.equal(rejection(() => decoder.push(encodeFrame({ t: 'ping', n: 1 }))), first);
            return;
          }
          assertValidFrames(frames);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('decodePayload alone also yields a valid frame or a ProtocolError for arbitrary payload bytes', TIMEOUT, () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 64 }), corruptedFrame.map((w) => w.subarray(4))), (payload) => {
        let frame: Frame;
        try {
          frame = decodePayload(payload);
        } catch (err) {
          asRejection(err);
          return;
        }
        assertValidFrames([frame]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('valid frames', () => {
  it('round-trip through encodeFrame and a FrameDecoder fed in arbitrary chunks', TIMEOUT, () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 4 }), cuts, (frames, at) => {
        assertValidFrames(frames); // the arbitraries themselves must stay inside the schemas
        const decoder = new FrameDecoder();
        const out = split(Buffer.concat(frames.map(encodeFrame)), at).flatMap((chunk) => decoder.push(chunk));
        assert.deepEqual(out.map(plainBytes), frames);
        assert.equal(decoder.pendingBytes, 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('with lone surrogates in their text arrive with U+FFFD in their place, never rejected', TIMEOUT, () => {
    const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
    const brokenText = fc.string({ unit: fc.oneof(codePoint, loneSurrogate), minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(frameArbs.msg, brokenText, (msg, broken) => {
        const sent: Frame[] = [
          { ...msg, body: { text: broken } },
          { t: 'bye', reason: broken },
        ];
        const healed = broken.replace(/\p{Cs}/gu, '\uFFFD');
        const out = new FrameDecoder().push(Buffer.concat(sent.map(encodeFrame)));
        assert.deepEqual(out, [
          { ...msg, body: { text: healed } },
          { t: 'bye', reason: healed },
        ]);
      }),
      { numRuns: RUNS },
    );
  });

  it('yield nothing and no error while truncated, and the frame once completed', TIMEOUT, () => {
    fc.assert(
      fc.property(anyFrame, fc.nat(), cuts, (frame, k, at) => {
        const wire = encodeFrame(frame);
        const cut = k % wire.byteLength; // every proper prefix, including the empty one and a partial length
        const decoder = new FrameDecoder();
        for (const chunk of split(wire.subarray(0, cut), at)) assert.deepEqual(decoder.push(chunk), []);
        assert.equal(decoder.pendingBytes, cut);
        assert.deepEqual(decoder.push(wire.subarray(cut)).map(plainBytes), [frame]);
        assert.equal(decoder.pendingBytes, 0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('declared frame lengths', () => {
  it('above the cap, up to 0xFFFFFFFF, throw frame-too-large as soon as the 4 length bytes are in, allocating nothing', TIMEOUT, () => {
    const tooLarge = fc.oneof(fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }), fc.constantFrom(MAX_FRAME_BYTES + 1, 0xffffffff));
    fc.assert(
      fc.property(tooLarge, fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 16 }), (len, headSplit, after) => {
        const head = u32(len);
        const decoder = new FrameDecoder();
        if (headSplit > 0) assert.deepEqual(decoder.push(head.subarray(0, headSplit)), [], 'an incomplete length is just waited for');
        const before = process.memoryUsage().arrayBuffers;
        const err = rejection(() => decoder.push(Buffer.concat([head.subarray(headSplit), after])));
        const grown = process.memoryUsage().arrayBuffers - before;
        assert.equal(err.code, 'frame-too-large');
        // Every refused length exceeds MAX_FRAME_BYTES, so room for the payload would show up
        // here; a new 64 KiB Buffer pool slab (Buffer.concat) may legitimately appear.
        assert.ok(grown < MAX_FRAME_BYTES, `decoder allocated ${grown} bytes for a frame it refused`);
        assert.equal(decoder.pendingBytes, 0, 'a failed decoder holds no bytes');
      }),
      { numRuns: RUNS },
    );
  });

  it('of 0 throw empty-frame, and exactly the cap is accepted', () => {
    assert.equal(rejection(() => new FrameDecoder().push(u32(0))).code, 'empty-frame');
    // A ping padded with an ignored field to exactly MAX_FRAME_BYTES of payload.
    const bare = encode({ t: 'ping', n: 1, pad: '' }).byteLength;
    const payload = encode({ t: 'ping', n: 1, pad: 'x'.repeat(MAX_FRAME_BYTES - bare - 4) }); // str32 header: 4 more bytes than fixstr
    assert.equal(payload.byteLength, MAX_FRAME_BYTES);
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(u32(MAX_FRAME_BYTES)), []);
    assert.deepEqual(decoder.push(Buffer.from(payload)), [{ t: 'ping', n: 1 }]);
    const over = encode({ t: 'ping', n: 1, pad: 'x'.repeat(MAX_FRAME_BYTES - bare - 3) });
    assert.equal(rejection(() => new FrameDecoder().push(Buffer.concat([u32(over.byteLength), over]))).code, 'frame-too-large');
  });
});

describe('well-formed MessagePack that is not a valid frame', () => {
  // Every field of every frame type, plus the elements of nested values.
  interface Field {
    type: FrameType;
    path: Array<string | number>;
    schema: z.ZodType;
  }
  const fields: Field[] = Frame.options.flatMap((option) => {
    const type = option.shape.t.value;
    return Object.entries(option.shape)
      .filter(([key]) => key !== 't')
      .map(([key, schema]) => ({ type, path: [key], schema: schema as z.ZodType }));
  });
  fields.push(
    { type: 'msg', path: ['body', 'text'], schema: MessageBody.shape.text },
    { type: 'hello', path: ['caps', 0], schema: HelloFrame.shape.caps.element },
    { type: 'hello', path: ['addrs', 0], schema: HelloFrame.shape.addrs.unwrap().element },
    { type: 'ack', path: ['ids', 0], schema: AckFrame.shape.ids.element },
  );

  const fixedWrongValues: unknown[] = [
    null,
    true,
    -1,
    0,
    1.5,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'x'.repeat(16_001),
    'not valid',
    [],
    [1, 2],
    {},
    { text: 7 },
    new Uint8Array([1, 2, 3]),
  ];
  const wrongValue = fc.oneof(
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
    fc.double(),
    fc.constantFrom(...fixedWrongValues),
    fc.string({ maxLength: 12 }),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
    fc.record({ text: fc.oneof(fc.integer(), fc.constant(null)) }),
    fc.uint8Array({ maxLength: 8 }),
  );

  function withValue(frame: Frame, path: Array<string | number>, value: unknown): unknown {
    const copy = structuredClone(frame) as Record<string | number, unknown>;
    let node: Record<string | number, unknown> = copy;
    // An optional container the sample left out (hello.addrs) is created to hold the value.
    for (let i = 0; i < path.length - 1; i++) node = (node[path[i]!] ??= typeof path[i + 1] === 'number' ? [] : {}) as Record<string | number, unknown>;
    node[path[path.length - 1]!] = value;
    return copy;
  }

  const expectBadFrame = (value: unknown) => assert.equal(rejection(() => decodePayload(encode(value))).code, 'bad-frame');

  it('covers every field of every frame type', () => {
    const types = new Set(fields.map((f) => f.type));
    for (const t of FRAME_TYPES) assert.ok(types.has(t), t);
    assert.ok(fields.length >= 29, `only ${fields.length} fields`);
  });

  it('is bad-frame for every field with each fixed wrong value its schema refuses', () => {
    for (const field of fields) {
      const frame = fc.sample(arbitraryOf(field.type), { numRuns: 1, seed: 42 })[0]!;
      let tried = 0;
      for (const value of fixedWrongValues) {
        if (field.schema.safeParse(value).success) continue;
        tried++;
        expectBadFrame(withValue(frame, field.path, value));
      }
      assert.ok(tried >= 8, `${field.type}.${field.path.join('.')}: only ${tried} wrong values apply`);
    }
  });

  it('is bad-frame for any field holding any value of a wrong type or range', TIMEOUT, () => {
    const cases = fc
      .constantFrom(...fields)
      .chain((field) => fc.tuple(fc.constant(field), arbitraryOf(field.type), wrongValue.filter((v) => !field.schema.safeParse(v).success)));
    fc.assert(
      fc.property(cases, ([field, frame, value]) => expectBadFrame(withValue(frame, field.path, value))),
      { numRuns: RUNS },
    );
  });

  it('is bad-frame for any frame missing any required field', TIMEOUT, () => {
    const required = fields.filter((f) => f.path.length === 1 && !f.schema.safeParse(undefined).success);
    const cases = fc.constantFrom(...required).chain((field) => fc.tuple(fc.constant(field), arbitraryOf(field.type)));
    fc.assert(
      fc.property(cases, ([field, frame]) => {
        const copy: Record<string, unknown> = { ...frame };
        delete copy[field.path[0]!];
        expectBadFrame(copy);
      }),
      { numRuns: RUNS },
    );
  });

  it('is unknown-type when t is not one of the frame types, or not a string, or absent', TIMEOUT, () => {
    const badT = fc.oneof(
      fc.string({ maxLength: 10 }).filter((s) => !(FRAME_TYPES as readonly string[]).includes(s)),
      fc.constantFrom('PING', 'Hello', 'msg ', 'file', 'toString', '__proto', ...FRAME_TYPES.map((t) => t.toUpperCase())),
      fc.integer(),
      fc.constantFrom(null, true, [], {}, ['ping']),
    );
    fc.assert(
      fc.property(anyFrame, fc.option(badT, { nil: undefined }), (frame, t) => {
        const copy: Record<string, unknown> = { ...frame };
        if (t === undefined) delete copy.t;
        else copy.t = t;
        assert.equal(rejection(() => decodePayload(encode(copy))).code, 'unknown-type');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('decodePayload on arbitrary MessagePack values', () => {
  it('never throws anything but a ProtocolError, and returns only valid frames', TIMEOUT, () => {
    const value = fc.anything({
      maxDepth: 4,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withBigInt: true,
      withDate: true,
      withTypedArray: true,
      withSparseArray: true,
      withUnicodeString: true,
      withObjectString: true,
    });
    const fieldNames = [...new Set(Frame.options.flatMap((o) => Object.keys(o.shape)))];
    // Maps that claim a real frame type, so values get as far as the schemas.
    const claimsAType = fc
      .tuple(fc.constantFrom(...FRAME_TYPES), fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string({ maxLength: 6 })), value, { maxKeys: 10 }))
      .map(([t, rest]) => ({ ...rest, t }));
    let encodable = 0;
    fc.assert(
      fc.property(fc.oneof(value, claimsAType), (v) => {
        let payload: Uint8Array;
        try {
          payload = encode(v);
        } catch {
          return; // not every JS value has a MessagePack form (e.g. large BigInts)
        }
        encodable++;
        let frame: Frame;
        try {
          frame = decodePayload(payload);
        } catch (err) {
          asRejection(err);
          return;
        }
        assertValidFrames([frame]);
      }),
      { numRuns: RUNS },
    );
    assert.ok(encodable > RUNS / 2, `only ${encodable} of ${RUNS} values were encodable: the property tested little`);
  });
});
