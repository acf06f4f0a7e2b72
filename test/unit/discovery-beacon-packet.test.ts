import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import {
  BEACON_MAGIC,
  BEACON_VERSION,
  BeaconEncodeError,
  BeaconPayloadSchema,
  decodeBeacon,
  encodeBeacon,
  MAX_BEACON_BYTES,
  type BeaconPayload,
} from '../../main/core/discovery/beacon-packet.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';

const id = peerIdFromSpki(randomBytes(44));

function beacon(over: Partial<BeaconPayload> = {}): BeaconPayload {
  return {
    t: 'hello',
    id,
    instance: 'AbCdEfGh12',
    port: 47900,
    name: 'Ada',
    presence: 'online',
    statusText: 'at lunch',
    addresses: ['10.0.0.5', 'fe80::1'],
    ...over,
  };
}

function withHeader(body: Uint8Array, version = BEACON_VERSION): Buffer {
  return Buffer.concat([BEACON_MAGIC, Buffer.from([version]), body]);
}

describe('beacon packet encoding', () => {
  it('round-trips every field', () => {
    const b = beacon();
    const r = decodeBeacon(encodeBeacon(b));
    assert.deepEqual(r, { ok: true, beacon: b });
  });

  it('starts with the PRLY magic and version 1', () => {
    const p = encodeBeacon(beacon());
    assert.equal(p.subarray(0, 4).toString('ascii'), 'PRLY');
    assert.equal(p[4], 1);
  });

  it('round-trips a goodbye without addresses', () => {
    const b = beacon({ t: 'bye', addresses: undefined });
    const r = decodeBeacon(encodeBeacon(b));
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.beacon.t, 'bye');
    assert.equal(r.ok && r.beacon.addresses, undefined);
  });

  it('fits the longest legal name, status text and address list into one datagram', () => {
    const b = beacon({
      name: '\u{1D54F}'.repeat(32), // 64 UTF-16 units, 128 bytes
      statusText: '\u20AC'.repeat(140), // 420 bytes
      addresses: Array.from({ length: 8 }, (_, i) => `fe80:1234:5678:9abc:def0:1234:5678:9ab${i}`),
    });
    assert.ok(encodeBeacon(b).byteLength <= MAX_BEACON_BYTES);
  });

  it('refuses to encode an invalid beacon with a clear error', () => {
    assert.throws(() => encodeBeacon(beacon({ port: 0 })), BeaconEncodeError);
    assert.throws(() => encodeBeacon(beacon({ id: 'not-an-id' })), /invalid beacon: id/);
    assert.throws(() => encodeBeacon(beacon({ name: 'evil\u001b[31m' })), /name/);
    assert.throws(() => encodeBeacon(beacon({ addresses: ['fe80::1%eth0'] })), /addresses/);
  });
});

describe('beacon packet decoding of hostile input', () => {
  it('drops a wrong magic, a wrong version and an oversize datagram with distinct reasons', () => {
    const good = encodeBeacon(beacon());
    const badMagic = Buffer.from(good);
    badMagic[0] = 0x51;
    assert.deepEqual(decodeBeacon(badMagic), { ok: false, reason: 'magic' });
    assert.deepEqual(decodeBeacon(withHeader(good.subarray(5), 2)), { ok: false, reason: 'version' });
    assert.deepEqual(decodeBeacon(Buffer.concat([good, Buffer.alloc(MAX_BEACON_BYTES)])), { ok: false, reason: 'oversize' });
    assert.deepEqual(decodeBeacon(Buffer.alloc(0)), { ok: false, reason: 'magic' });
  });

  it('drops every truncation of a valid beacon', () => {
    const good = encodeBeacon(beacon());
    for (let n = 0; n < good.byteLength; n++) {
      assert.equal(decodeBeacon(good.subarray(0, n)).ok, false, `truncated to ${n} bytes`);
    }
  });

  it('drops trailing garbage, port 0, a bad ID and unknown presence', () => {
    const good = encodeBeacon(beacon());
    assert.deepEqual(decodeBeacon(Buffer.concat([good, Buffer.from([0])])), { ok: false, reason: 'malformed' });
    assert.deepEqual(decodeBeacon(withHeader(encode({ ...beacon(), port: 0 }))), { ok: false, reason: 'malformed' });
    assert.deepEqual(decodeBeacon(withHeader(encode({ ...beacon(), id: id.toLowerCase() }))), { ok: false, reason: 'malformed' });
    assert.deepEqual(decodeBeacon(withHeader(encode({ ...beacon(), presence: 'invisible' }))), { ok: false, reason: 'malformed' });
  });

  it('ignores unknown fields so that later minor versions stay readable', () => {
    const r = decodeBeacon(withHeader(encode({ ...beacon(), future: [1, 2, 3] })));
    assert.equal(r.ok, true);
    assert.equal(r.ok && 'future' in r.beacon, false);
  });

  it('never throws on random bytes, and never accepts them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const r = decodeBeacon(bytes);
        assert.equal(r.ok, false);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes behind a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const r = decodeBeacon(withHeader(bytes));
        assert.equal(typeof r.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary MessagePack values and accepts only schema-valid ones', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4 }), (value) => {
        let body: Uint8Array;
        try {
          body = encode(value);
        } catch {
          return; // not representable in MessagePack
        }
        const r = decodeBeacon(withHeader(body));
        if (r.ok) assert.ok(BeaconPayloadSchema.safeParse(r.beacon).success);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on bit-flipped valid beacons, and whatever it accepts satisfies the schema', () => {
    const good = encodeBeacon(beacon());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const p = Buffer.from(good);
        for (const [at, mask] of flips) p[at] = p[at]! ^ mask;
        const r = decodeBeacon(p);
        if (r.ok) assert.ok(BeaconPayloadSchema.safeParse(r.beacon).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects deeply nested or huge containers without building them', () => {
    let nested: unknown = 1;
    for (let i = 0; i < 50; i++) nested = [nested];
    assert.equal(decodeBeacon(withHeader(encode({ ...beacon(), statusText: nested }))).ok, false);
    const many = Array.from({ length: 100 }, (_, i) => `10.0.0.${i}`);
    assert.equal(decodeBeacon(withHeader(encode({ ...beacon(), addresses: many }))).ok, false);
  });
});
