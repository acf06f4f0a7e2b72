// The relay control codec: every frame round-trips, and no byte sequence (random, truncated,
// oversize, negative or huge lengths, valid MessagePack of the wrong shape) makes the decoder
// do anything but return frames or throw a RelayProtocolError. Both the relay and its
// clients run this decoder on bytes from the other side (CVE-2021-21404 was exactly this).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { decodeRelayPayload, encodeRelayFrame, msgpackProblem, RelayFrameDecoder, RelayProtocolError } from '../../main/core/relay/codec.ts';
import { MAX_PREJOIN_FRAME_BYTES, MAX_RELAY_FRAME_BYTES, RELAY_FRAME_TYPES, type Envelope, type RelayFrame } from '../../main/core/relay/frames.ts';

const ID = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST';
const ULID = '01HZY3J8Q6X9V2K4M7N5P0R3ST';
const envelope: Envelope = {
  v: 1,
  id: ULID,
  from: ID,
  to: ID,
  cert: new Uint8Array(700).fill(1),
  wrappedKey: new Uint8Array(256).fill(2),
  iv: new Uint8Array(12).fill(3),
  ct: new Uint8Array(100).fill(4),
  tag: new Uint8Array(16).fill(5),
  sig: new Uint8Array(256).fill(6),
};

/** One example of every frame type. */
export const examples: RelayFrame[] = [
  { t: 'join', v: 1, token: 'tok', name: 'Alice', presence: 'online' },
  { t: 'join', v: 1, token: null, name: 'Ålice ☕', presence: 'busy' },
  { t: 'presence', name: 'Alice', presence: 'away' },
  { t: 'connect', peer: ID },
  { t: 'deposit', rid: 1, items: [envelope] },
  { t: 'certReq', rid: 7, peer: ID },
  { t: 'mailAck', ids: [ULID] },
  { t: 'joined', v: 1, mailboxTtlMs: 1000, mailboxQuotaItems: 10 },
  { t: 'refused', reason: 'token', message: 'wrong token' },
  { t: 'directory', reset: true, more: false, members: [{ id: ID, name: 'Bob', presence: 'online' }] },
  { t: 'member', member: { id: ID, name: 'Bob', presence: 'away' } },
  { t: 'gone', peer: ID },
  { t: 'invite', peer: ID, key: new Uint8Array(32).fill(9), server: true, expiresInMs: 60_000 },
  { t: 'connectFailed', peer: ID, reason: 'full' },
  { t: 'deposited', rid: 1, accepted: [ULID], refused: [{ id: ULID, reason: 'quota' }] },
  { t: 'cert', rid: 7, peer: ID, cert: null },
  { t: 'mail', items: [envelope] },
  { t: 'ping', n: 1 },
  { t: 'pong', n: 1 },
  { t: 'bye', reason: 'bye' },
];

/** The only acceptable outcomes of push(): frames, or a RelayProtocolError. */
function pushSafely(d: RelayFrameDecoder, chunk: Buffer): RelayFrame[] | RelayProtocolError {
  try {
    return d.push(chunk);
  } catch (err) {
    if (err instanceof RelayProtocolError) return err;
    throw new Error(`decoder threw a ${(err as Error)?.constructor?.name}: ${(err as Error).message}`);
  }
}

function normalise(f: unknown): unknown {
  // Binary fields decode as Buffers (views of the input): compare bytes, not classes.
  return JSON.parse(
    JSON.stringify(f, (_k, v: unknown) => {
      if (v instanceof Uint8Array) return [...v];
      const b = v as { type?: unknown; data?: unknown };
      return b && b.type === 'Buffer' && Array.isArray(b.data) ? b.data : v;
    }),
  );
}

describe('relay frame codec', () => {
  it('has an example for every frame type, and each round-trips', () => {
    assert.deepEqual(new Set(examples.map((e) => e.t)), new Set(RELAY_FRAME_TYPES));
    for (const f of examples) {
      const [back] = new RelayFrameDecoder().push(encodeRelayFrame(f));
      assert.deepEqual(normalise(back), normalise(f), f.t);
    }
  });

  it('decodes the same frames however the stream is cut into chunks', () => {
    const stream = Buffer.concat(examples.map((f) => encodeRelayFrame(f)));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.byteLength }), { maxLength: 30 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const d = new RelayFrameDecoder();
        const out: RelayFrame[] = [];
        let prev = 0;
        for (const p of [...points, stream.byteLength]) {
          out.push(...d.push(stream.subarray(prev, p)));
          prev = p;
        }
        assert.equal(out.length, examples.length);
        assert.equal(d.pendingBytes, 0);
      }),
      { numRuns: 200 },
    );
  });

  it('never crashes on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 8 }), (chunks) => {
        const d = new RelayFrameDecoder();
        for (const c of chunks) {
          const r = pushSafely(d, Buffer.from(c));
          if (r instanceof RelayProtocolError) {
            // Once broken, always broken: no resync on a hostile stream.
            assert.ok(pushSafely(d, Buffer.from([0, 0, 0, 1, 0xc0])) instanceof RelayProtocolError);
            return;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never crashes on random payloads behind a correct length prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), (payload) => {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(payload.byteLength, 0);
        pushSafely(new RelayFrameDecoder(), Buffer.concat([head, payload]));
      }),
      { numRuns: 3000 },
    );
  });

  it('never crashes on valid frames with bytes flipped, cut or inserted', () => {
    const encoded = examples.map((f) => encodeRelayFrame(f));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: encoded.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }),
        (which, edits) => {
          let bytes = Buffer.from(encoded[which]!);
          for (const [pos, value, kind] of edits) {
            const i = pos % bytes.byteLength;
            if (kind === 'flip') bytes[i] = value;
            else if (kind === 'cut') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
            else bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([value]), bytes.subarray(i)]);
            if (bytes.byteLength === 0) return;
          }
          pushSafely(new RelayFrameDecoder(), bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never crashes on any length prefix, including negative-as-int32 and huge ones, before allocating', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 64 }), (len, body) => {
        const head = Buffer.alloc(4);
        if (len < 0) head.writeInt32BE(len, 0);
        else head.writeUInt32BE(len, 0);
        const d = new RelayFrameDecoder();
        const r = pushSafely(d, Buffer.concat([head, body]));
        const declared = head.readUInt32BE(0);
        if (declared > MAX_RELAY_FRAME_BYTES) assert.ok(r instanceof RelayProtocolError && r.code === 'frame-too-large');
        if (declared === 0) assert.ok(r instanceof RelayProtocolError && r.code === 'empty-frame');
        // A plausible length with too few bytes waits without buffering more than it was given.
        if (!(r instanceof RelayProtocolError) && r.length === 0) assert.ok(d.pendingBytes <= 4 + body.byteLength);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects valid MessagePack of any other shape with a RelayProtocolError', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withMap: false, withSet: false, withBigInt: false, withDate: false, withTypedArray: true }), (value) => {
        let payload: Uint8Array;
        try {
          payload = encode(value);
        } catch {
          return; // not encodable at all
        }
        if (payload.byteLength === 0 || payload.byteLength > MAX_RELAY_FRAME_BYTES) return;
        try {
          decodeRelayPayload(payload);
        } catch (err) {
          assert.ok(err instanceof RelayProtocolError, `threw ${(err as Error).message}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects frames that look right but break the schema', () => {
    const bad: unknown[] = [
      { t: 'invite', peer: ID, key: new Uint8Array(31), server: true, expiresInMs: 1 },
      { t: 'invite', peer: ID, key: 'x'.repeat(32), server: true, expiresInMs: 1 },
      { t: 'connect', peer: 'not-an-id' },
      { t: 'join', v: 1, token: 'x'.repeat(257), name: 'a', presence: 'online' },
      { t: 'join', v: 1, token: null, name: '', presence: 'online' },
      { t: 'ping', n: -1 },
      { t: 'ping', n: 1.5 },
      { t: 'deposit', rid: 1, items: [] },
      { t: 'mail', items: [{ ...envelope, iv: new Uint8Array(11) }] },
      { t: 'nope' },
      [1, 2, 3],
      'join',
    ];
    for (const b of bad) assert.throws(() => decodeRelayPayload(encode(b)), RelayProtocolError);
  });

  it('refuses deep nesting, invalid UTF-8, duplicate keys and trailing bytes before decoding', () => {
    const deep = Buffer.alloc(200, 0x91);
    assert.match(msgpackProblem(Buffer.concat([deep, Buffer.from([0xc0])])) ?? '', /deeper/);
    assert.match(msgpackProblem(Buffer.from([0x81, 0xa1, 0xff, 0xc0])) ?? '', /UTF-8/);
    assert.match(msgpackProblem(Buffer.from([0x82, 0xa1, 0x74, 0x01, 0xa1, 0x74, 0x02])) ?? '', /duplicate/);
    // Trailing bytes are decode()'s to refuse (it throws on extra bytes after the value).
    assert.throws(() => decodeRelayPayload(Buffer.concat([encode({ t: 'ping', n: 1 }), Buffer.from([0xc0])])), RelayProtocolError);
    assert.match(msgpackProblem(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])) ?? '', /more than|truncated/);
    assert.match(msgpackProblem(Buffer.from([0x92, 0x01])) ?? '', /truncated|missing|end/);
    assert.match(msgpackProblem(Buffer.from([0xc7, 0x01, 0x01, 0x00])) ?? '', /extension/);
    assert.equal(msgpackProblem(encode({ t: 'ping', n: 1 })), null);
  });

  it('enforces a smaller cap before join', () => {
    const d = new RelayFrameDecoder(MAX_PREJOIN_FRAME_BYTES);
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_PREJOIN_FRAME_BYTES + 1, 0);
    assert.throws(() => d.push(big), (e: RelayProtocolError) => e.code === 'frame-too-large');
    assert.throws(() => encodeRelayFrame({ t: 'bye', reason: 'x'.repeat(100) }, 50), (e: RelayProtocolError) => e.code === 'frame-too-large');
  });
});
