// What the person decided about peers' identities (schema 3): verified IDs and key-change
// warnings, kept across reopening and untouched by what peers announce about themselves.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { openStore } from '../../main/core/store/store.ts';
import { BOB, CAROL, ME, closeStores, peer, removeTempDirs, send, tempStore } from '../helpers/store.ts';

afterEach(closeStores);
after(removeTempDirs);

const DAVE = peer('D');
const change = { previousId: BOB, previousName: 'Bob', verifiedBefore: true };

describe('peer trust in the store', () => {
  it('starts unverified and without a warning', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: BOB, name: 'Bob' });
    assert.deepEqual(store.peerTrust(BOB), { verified: false, keyChange: null });
    assert.equal(store.peerTrust(CAROL), undefined);
    assert.equal(store.setVerified(CAROL, true), false, 'an unknown peer is not created');
    assert.equal(store.setKeyChange(CAROL, change), false);
  });

  it('keeps verification and warnings across reopening, and a peer’s own updates never touch them', () => {
    const { store, file } = tempStore();
    store.upsertPeer({ id: BOB, name: 'Bob' });
    store.upsertPeer({ id: DAVE, name: 'Bob' });
    store.setVerified(BOB, true);
    store.setKeyChange(DAVE, change);
    store.upsertPeer({ id: BOB, name: 'Bob', presence: 'online', statusText: 'hi', addresses: ['10.0.0.2:1'], lastSeen: 5 });
    store.upsertPeer({ id: DAVE, name: 'Bobby', presence: 'busy' });
    store.close();

    const again = openStore(file);
    try {
      assert.deepEqual(again.peerTrust(BOB), { verified: true, keyChange: null });
      assert.deepEqual(again.peerTrust(DAVE), { verified: false, keyChange: change });
      assert.deepEqual(again.allPeerTrust().get(DAVE), { verified: false, keyChange: change });
    } finally {
      again.close();
    }
  });

  it('clears a warning when the peer is verified, and not when verification is taken back', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: DAVE, name: 'Bob' });
    store.setKeyChange(DAVE, change);
    store.setVerified(DAVE, false);
    assert.deepEqual(store.peerTrust(DAVE)?.keyChange, change);
    store.setVerified(DAVE, true);
    assert.deepEqual(store.peerTrust(DAVE), { verified: true, keyChange: null });
    store.setKeyChange(DAVE, change);
    store.setKeyChange(DAVE, null);
    assert.equal(store.peerTrust(DAVE)?.keyChange, null);
  });

  it('counts as known contacts the named peers that are verified or that we exchanged messages with', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: BOB, name: 'Bob' });
    store.upsertPeer({ id: CAROL, name: 'Carol' });
    store.upsertPeer({ id: DAVE, name: 'Dave' });
    store.upsertPeer({ id: peer('E'), name: '' });
    store.setVerified(peer('E'), true);
    // An opened but empty conversation is not "talked to".
    store.ensureDirectConversation(ME, CAROL);
    const conv = store.ensureDirectConversation(ME, BOB).id;
    send(store, conv, BOB, ['hello']);
    store.setVerified(DAVE, true);
    const contacts = store.knownContacts().sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(
      contacts.map((c) => [c.name, c.verified]),
      [
        ['Bob', false],
        ['Dave', true],
      ],
    );
  });
});
