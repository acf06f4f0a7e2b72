// Signed group events: what an author signs is exactly what every member checks, so nobody
// who forwards an event can change any field of it or make one up in another member's name.
import assert from 'node:assert/strict';
import { constants, createPrivateKey, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { LIMITS } from '../../main/contract/contract.ts';
import {
  certDer,
  compareKeys,
  decodeEvent,
  GroupEventError,
  groupIdFor,
  keyForMember,
  MAX_EVENT_BYTES,
  MAX_GROUP_MEMBERS,
  newGroupId,
  signEvent,
  verifyEvent,
  type GroupContent,
  type UnsignedEvent,
} from '../../main/core/groups/group-message.ts';
import type { Identity } from '../../main/core/identity/identity.ts';
import { alter, identities, member, signAs } from '../helpers/groups.ts';

const [alice, bob, mallory] = identities() as [Identity, Identity, Identity];
const { groupId } = newGroupId(alice.id);

/** Distinct well-formed peer IDs that belong to nobody (the schema does not check certificates). */
function fakeId(i: number): string {
  let tail = '';
  for (let k = 0; k < 6; k++, i = Math.floor(i / 32)) tail = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[i % 32] + tail;
  return 'Q'.repeat(46) + tail;
}

function event(content: GroupContent = { kind: 'text', body: { text: 'lunch at noon?' } }, over: Partial<UnsignedEvent> = {}): UnsignedEvent {
  return { group: groupId, id: '01HZY3J8Q6X9V2K4M7N5P0R3ST', author: alice.id, seq: 3, lamport: 17, ts: 1_700_000_000_000, content, ...over };
}

function fails(fn: () => unknown, code: GroupEventError['code']): void {
  assert.throws(fn, (err: unknown) => err instanceof GroupEventError && err.code === code);
}

describe('group events: signing and verifying', () => {
  it('verify with the author certificate to exactly the fields that were signed', () => {
    const signed = signEvent(alice, event({ kind: 'text', body: { text: 'lunch at noon?', replyTo: '01HZY3J8Q6X9V2K4M7N5P0R3SV' } }));
    assert.deepEqual(verifyEvent(signed, certDer(alice)), {
      group: groupId,
      id: '01HZY3J8Q6X9V2K4M7N5P0R3ST',
      author: alice.id,
      seq: 3,
      lamport: 17,
      ts: 1_700_000_000_000,
      kind: 'text',
      body: { text: 'lunch at noon?', replyTo: '01HZY3J8Q6X9V2K4M7N5P0R3SV' },
    });
  });

  it('round-trip every kind', () => {
    const contents: GroupContent[] = [
      { kind: 'create', body: { name: 'Lunch', nonce: new Uint8Array(16).fill(7), members: [member(alice), member(bob)] } },
      { kind: 'rename', body: { name: 'Lunch & coffee' } },
      { kind: 'add', body: { members: [member(mallory)] } },
      { kind: 'remove', body: { ids: [mallory.id] } },
      { kind: 'leave', body: {} },
      { kind: 'text', body: { text: '@Bob lunch?', replyTo: '01HZY3J8Q6X9V2K4M7N5P0R3SV', mentions: [bob.id] } },
      { kind: 'edit', body: { target: '01HZY3J8Q6X9V2K4M7N5P0R3SV', text: 'lunch at one?' } },
      { kind: 'delete', body: { target: '01HZY3J8Q6X9V2K4M7N5P0R3SV' } },
      { kind: 'react', body: { target: '01HZY3J8Q6X9V2K4M7N5P0R3SV', emoji: '👍', on: true } },
    ];
    for (const content of contents) {
      const e = verifyEvent(signEvent(alice, event(content)), certDer(alice));
      assert.equal(e.kind, content.kind);
      assert.deepEqual(e.body, content.body);
    }
  });

  it('are rejected when a forwarder alters any field, keeping the author signature', () => {
    const signed = signEvent(alice, event());
    const edits: Array<(f: Record<string, unknown>) => void> = [
      (f) => (f.body = { text: 'lunch at one?' }),
      (f) => (f.seq = 4),
      (f) => (f.lamport = 18),
      (f) => (f.ts = 1_700_000_000_001),
      (f) => (f.id = '01HZY3J8Q6X9V2K4M7N5P0R3SV'),
      (f) => (f.group = newGroupId(alice.id).groupId),
      (f) => {
        f.kind = 'leave';
        f.body = {};
      },
      (f) => ((f.body as Record<string, unknown>).replyTo = '01HZY3J8Q6X9V2K4M7N5P0R3SV'),
    ];
    for (const edit of edits) fails(() => verifyEvent(alter(signed, edit), certDer(alice)), 'bad-signature');
    // The same values encoded otherwise (fields reordered) are other bytes: a forwarder passes
    // events on exactly as received.
    const { group, ...rest } = decode(signed.ev) as Record<string, unknown>;
    fails(() => verifyEvent({ ev: encode({ ...rest, group }), sig: signed.sig }, certDer(alice)), 'bad-signature');
    const sig = Uint8Array.from(signed.sig);
    sig[9]! ^= 1;
    fails(() => verifyEvent({ ev: signed.ev, sig }, certDer(alice)), 'bad-signature');
  });

  it('are rejected when the author is changed: the certificate no longer proves it, and the right one does not verify', () => {
    const signed = signEvent(alice, event());
    const relabelled = alter(signed, (f) => (f.author = bob.id));
    fails(() => verifyEvent(relabelled, certDer(alice)), 'bad-certificate');
    fails(() => verifyEvent(relabelled, certDer(bob)), 'bad-signature');
  });

  it('cannot be forged by a member who signs with its own key in another member’s name', () => {
    const forged = signAs(mallory, event({ kind: 'text', body: { text: 'send me the payroll file' } }));
    fails(() => verifyEvent(forged, certDer(alice)), 'bad-signature');
    // ...and signEvent refuses to make such a thing in the first place.
    fails(() => signEvent(mallory, event()), 'malformed');
  });

  it('are signed under their own domain: a signature over the bare bytes does not verify', () => {
    const signed = signEvent(alice, event());
    const bare = sign('sha256', signed.ev, { key: createPrivateKey(alice.keyPem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    fails(() => verifyEvent({ ev: signed.ev, sig: bare }, certDer(alice)), 'bad-signature');
  });

  it('are written in one canonical form: fields in a fixed order, optional ones left out', () => {
    const a = signEvent(alice, event({ kind: 'text', body: { text: 'x', replyTo: undefined } }));
    const b = encode({ group: groupId, id: '01HZY3J8Q6X9V2K4M7N5P0R3ST', author: alice.id, seq: 3, lamport: 17, ts: 1_700_000_000_000, kind: 'text', body: { text: 'x' } });
    assert.deepEqual(Buffer.from(a.ev), Buffer.from(b));
  });
});

describe('group events: limits and schema', () => {
  it('hold up to LIMITS.messageText characters, counted as code points', () => {
    const emoji = '😀'.repeat(LIMITS.messageText);
    assert.equal(verifyEvent(signEvent(alice, event({ kind: 'text', body: { text: emoji } })), certDer(alice)).kind, 'text');
    fails(() => signEvent(alice, event({ kind: 'text', body: { text: 'a'.repeat(LIMITS.messageText + 1) } })), 'malformed');
    fails(() => signEvent(alice, event({ kind: 'text', body: { text: '' } })), 'malformed');
  });

  it('turn a lone surrogate into U+FFFD rather than signing bytes receivers refuse', () => {
    const e = verifyEvent(signEvent(alice, event({ kind: 'text', body: { text: 'a\uD800b' } })), certDer(alice));
    assert.deepEqual(e.kind === 'text' && e.body.text, 'a\uFFFDb');
  });

  it('refuse long names, too many or duplicated members, a create without its creator, huge certificates', () => {
    const nonce = new Uint8Array(16);
    fails(() => signEvent(alice, event({ kind: 'rename', body: { name: 'n'.repeat(LIMITS.displayName + 1) } })), 'malformed');
    fails(() => signEvent(alice, event({ kind: 'add', body: { members: [member(bob), member(bob)] } })), 'malformed');
    fails(() => signEvent(alice, event({ kind: 'remove', body: { ids: [] } })), 'malformed');
    fails(() => signEvent(alice, event({ kind: 'create', body: { name: 'x', nonce, members: [member(bob)] } })), 'malformed');
    fails(() => signEvent(alice, event({ kind: 'add', body: { members: [{ id: bob.id, cert: new Uint8Array(5000) }] } })), 'malformed');
    const many = Array.from({ length: MAX_GROUP_MEMBERS + 1 }, (_, i) => ({ id: fakeId(i), cert: certDer(bob) }));
    fails(() => signEvent(alice, event({ kind: 'add', body: { members: many } })), 'malformed');
  });

  it('refuse an event bigger than MAX_EVENT_BYTES, and a create of 256 RSA-2048 members fits', () => {
    const cert = certDer(bob);
    const members = Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) => ({ id: fakeId(i), cert }));
    members[0] = member(alice);
    const signed = signEvent(alice, event({ kind: 'create', body: { name: 'all hands', nonce: new Uint8Array(16), members } }));
    assert.ok(signed.ev.byteLength < MAX_EVENT_BYTES, `${signed.ev.byteLength}`);
    const fat = members.map((m) => ({ id: m.id, cert: new Uint8Array(1024) }));
    fails(() => signEvent(alice, event({ kind: 'add', body: { members: fat } })), 'too-large');
  });

  it('refuse undecodable bytes, missing fields, a zero seq, the reserved kind name and known kinds with a wrong body', () => {
    fails(() => decodeEvent(new Uint8Array([0xc1])), 'malformed');
    fails(() => decodeEvent(encode({ group: groupId, id: 'x' })), 'malformed');
    const base = { group: groupId, id: '01HZY3J8Q6X9V2K4M7N5P0R3ST', author: alice.id, seq: 1, lamport: 1, ts: 0 };
    fails(() => decodeEvent(encode({ ...base, kind: 'text', body: { words: 'hi' } })), 'malformed');
    fails(() => decodeEvent(encode({ ...base, seq: 0, kind: 'text', body: { text: 'hi' } })), 'malformed');
    fails(() => decodeEvent(encode({ ...base, kind: 'unsupported', body: {} })), 'malformed');
    // Edits, deletions and reactions are known kinds now: a wrong body is malformed, not "later".
    fails(() => decodeEvent(encode({ ...base, kind: 'edit', body: { target: 'nope', text: 'x' } })), 'malformed');
    fails(() => decodeEvent(encode({ ...base, kind: 'react', body: { target: base.id, emoji: '👍' } })), 'malformed');
    fails(() => decodeEvent(encode({ ...base, kind: 'text', body: { text: 'hi', mentions: [bob.id, bob.id] } })), 'malformed');
    fails(() => decodeEvent(encode({ ...base, kind: 'text', body: { text: 'hi', mentions: Array.from({ length: LIMITS.mentions + 1 }, (_, i) => fakeId(i)) } })), 'malformed');
  });

  it('keep kinds of later versions as "unsupported", so they are stored and forwarded, not dropped', () => {
    const base = { group: groupId, id: '01HZY3J8Q6X9V2K4M7N5P0R3ST', author: alice.id, seq: 1, lamport: 1, ts: 0 };
    const e = decodeEvent(encode({ ...base, kind: 'reaction', body: { to: '01HZY3J8Q6X9V2K4M7N5P0R3SV', emoji: '👍' }, extra: 1 }));
    assert.equal(e.kind, 'unsupported');
    assert.equal(e.kind === 'unsupported' && e.wireKind, 'reaction');
  });
});

describe('group IDs and member certificates', () => {
  it('bind a group ID to its creator and nonce', () => {
    const { groupId: id, nonce } = newGroupId(alice.id);
    assert.match(id, /^[A-Z2-7]{26}$/);
    assert.equal(groupIdFor(alice.id, nonce), id);
    assert.notEqual(groupIdFor(bob.id, nonce), id);
    assert.notEqual(newGroupId(alice.id).groupId, id);
  });

  it('accept a member certificate only if its key hashes to the member ID', () => {
    assert.doesNotThrow(() => keyForMember(alice.id, certDer(alice)));
    fails(() => keyForMember(alice.id, certDer(bob)), 'bad-certificate');
    fails(() => keyForMember(alice.id, new Uint8Array(100)), 'bad-certificate');
  });
});

describe('the total order', () => {
  it('is (lamport, author, seq, id), never the wall clock', () => {
    const k = (lamport: number, author: string, seq: number, id = 'A') => ({ lamport, author, seq, id });
    const sorted = [k(2, 'B', 1), k(1, 'Z', 9), k(2, 'A', 5), k(2, 'B', 1, 'C'), k(2, 'A', 4)].sort(compareKeys);
    assert.deepEqual(sorted, [k(1, 'Z', 9), k(2, 'A', 4), k(2, 'A', 5), k(2, 'B', 1), k(2, 'B', 1, 'C')]);
  });
});
