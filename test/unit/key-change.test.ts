// The key-change rule's pure parts: when two display names count as the same, and which known
// contact a newcomer's name points at.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNewName, keyChangeFor, nameKey, type KnownContact } from '../../main/core/trust/key-change.ts';

const id = (ch: string) => ch.repeat(52);
const contact = (ch: string, name: string, verified = false, lastSeen: number | null = null): KnownContact => ({ id: id(ch), name, verified, lastSeen });

describe('display names that count as the same', () => {
  it('ignores case, surrounding and repeated white space, and the Unicode normal form', () => {
    assert.equal(nameKey('  Alice  '), nameKey('alice'));
    assert.equal(nameKey('ALICE'), nameKey('alice'));
    assert.equal(nameKey('Anna\u00a0 Lee'), nameKey('anna lee'));
    // "Zoë" composed (U+00EB) and decomposed (e + U+0308).
    assert.equal(nameKey('Zo\u00eb'), nameKey('ZOE\u0308'));
  });

  it('ignores invisible format characters that would let a copy pass for the original', () => {
    assert.equal(nameKey('Ali\u200bce'), nameKey('Alice'));
    assert.equal(nameKey('\u202eAlice\u202c'), nameKey('Alice'));
    assert.equal(nameKey('Alice\ufeff'), nameKey('Alice'));
  });

  it('keeps different names apart, look-alike letters from other scripts included', () => {
    assert.notEqual(nameKey('Alice'), nameKey('Alicia'));
    assert.notEqual(nameKey('Alice'), nameKey('Аlice')); // Cyrillic А: needs the confusables table, not folded
    assert.equal(nameKey('   '), '');
  });

  it('counts a first name and a real rename as new, but not a change of case or spacing', () => {
    assert.equal(isNewName(undefined, 'Bob'), true);
    assert.equal(isNewName('', 'Bob'), true);
    assert.equal(isNewName('Robert', 'Bob'), true);
    assert.equal(isNewName('Bob', ' BOB '), false);
    assert.equal(isNewName('Bob', ''), false);
  });
});

describe('which contact a newcomer claims to be', () => {
  it('names the known contact with the same name and a different ID', () => {
    const contacts = [contact('A', 'Alice'), contact('B', 'Bob')];
    assert.deepEqual(keyChangeFor(id('X'), ' alice', contacts), { previousId: id('A'), previousName: 'Alice', verifiedBefore: false });
    assert.equal(keyChangeFor(id('X'), 'Carol', contacts), null);
  });

  it('never flags a peer for carrying its own name', () => {
    assert.equal(keyChangeFor(id('A'), 'Alice', [contact('A', 'Alice')]), null);
  });

  it('prefers the verified contact, then the one seen most recently', () => {
    const contacts = [contact('A', 'Alice', false, 300), contact('B', 'alice', true, 100), contact('C', 'ALICE', false, 200)];
    assert.deepEqual(keyChangeFor(id('X'), 'Alice', contacts), { previousId: id('B'), previousName: 'alice', verifiedBefore: true });
    assert.equal(keyChangeFor(id('X'), 'Alice', contacts.filter((c) => !c.verified))?.previousId, id('A'));
  });

  it('has nothing to say about an empty name', () => {
    assert.equal(keyChangeFor(id('X'), ' ', [contact('A', ' ')]), null);
  });
});
