// What the store keeps for the relay's offline mailbox (migration 0002): messages a relay holds
// for an offline recipient read as 'stored' until the recipient itself acks or reads them, and
// peers' certificates are remembered so a message can be sealed to a peer no relay knows.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { openDatabase } from '../../main/core/store/db.ts';
import { migrations } from '../../main/core/store/migrations/index.ts';
import { openStore, type Store } from '../../main/core/store/store.ts';
import { BOB, CAROL, ME, closeStores, frame, removeTempDirs, send, tempDir, tempStore } from '../helpers/store.ts';

afterEach(closeStores);
after(removeTempDirs);

function withConversation(): { store: Store; conv: string; file: string } {
  const { store, file } = tempStore();
  return { store, file, conv: store.ensureDirectConversation(ME, BOB).id };
}

/** The raw column, read over a second connection (WAL lets it see every commit). */
function storedAt(file: string, id: string): number | null {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[string], number | null>('SELECT stored_at FROM messages WHERE id = ?').pluck().get(id) ?? null;
  } finally {
    db.close();
  }
}

describe('messages stored at a relay', () => {
  it('read as stored once a relay accepted them, and stay in the outbox', () => {
    const { store, conv } = withConversation();
    const [m1, m2, m3] = send(store, conv, BOB, ['one', 'two', 'three']);
    const changed = store.markStored([m1!.id, m2!.id]);
    assert.deepEqual(
      changed.map((r) => [r.text, r.state]),
      [
        ['one', 'stored'],
        ['two', 'stored'],
      ],
    );
    assert.equal(store.getMessage(m1!.id)?.state, 'stored');
    assert.deepEqual(
      store.history(conv, { limit: 10 }).map((r) => r.state),
      ['stored', 'stored', 'pending'],
    );
    assert.deepEqual(
      store.outbox(BOB, 0, 10).map((r) => [r.id, r.state]),
      [
        [m1!.id, 'stored'],
        [m2!.id, 'stored'],
        [m3!.id, 'pending'],
      ],
      'a relay is not the recipient: the outbox still resends them on the next link',
    );
    assert.equal(store.search('two', 10)[0]?.message.state, 'stored');
    assert.deepEqual(
      store.overdue(0, Date.now() + 1, 10).map((r) => r.state),
      ['stored', 'stored', 'pending'],
    );
  });

  it('reports no change when a relay accepts the same message again (a re-deposit after a restart)', () => {
    const { store, conv, file } = withConversation();
    const [m] = send(store, conv, BOB, ['again']);
    store.markStored([m!.id]);
    const first = storedAt(file, m!.id);
    assert.ok(first !== null && first >= m!.createdAt);
    assert.deepEqual(store.markStored([m!.id]), []);
    assert.equal(storedAt(file, m!.id), first, 'keeps the first time a relay took it');
  });

  it('become delivered on the recipient’s ack, which clears the mark', () => {
    const { store, conv, file } = withConversation();
    const [m] = send(store, conv, BOB, ['acked']);
    store.markStored([m!.id]);
    assert.deepEqual(
      store.markDelivered([m!.id]).map((r) => r.state),
      ['delivered'],
    );
    assert.equal(store.getMessage(m!.id)?.state, 'delivered');
    assert.equal(storedAt(file, m!.id), null);
    assert.equal(store.outboxCount(BOB), 0);
    assert.deepEqual(store.markStored([m!.id]), [], 'a late deposit receipt never moves it back');
  });

  it('become read on the recipient’s read marker, which clears the mark', () => {
    const { store, conv, file } = withConversation();
    const [m1, m2] = send(store, conv, BOB, ['seen', 'not yet']);
    store.markStored([m1!.id, m2!.id]);
    assert.deepEqual(
      store.applyPeerRead(conv, m1!.id, ME).map((r) => [r.text, r.state]),
      [['seen', 'read']],
    );
    assert.equal(storedAt(file, m1!.id), null);
    assert.equal(store.getMessage(m2!.id)?.state, 'stored');
  });

  it('give way to canceled and rejected', () => {
    const { store, conv } = withConversation();
    const [m1, m2] = send(store, conv, BOB, ['canceled', 'refused']);
    store.markStored([m1!.id, m2!.id]);
    assert.equal(store.cancel(m1!.id)?.state, 'canceled');
    assert.equal(store.markRejected(m2!.id)?.state, 'rejected');
    assert.deepEqual(store.markStored([m1!.id, m2!.id]), []);
    assert.deepEqual(
      store.history(conv, { limit: 10 }).map((r) => r.state),
      ['canceled', 'rejected'],
    );
  });

  it('never apply to received messages', () => {
    const { store, conv } = withConversation();
    const f = frame(conv, BOB, 1, 1, 'theirs');
    store.insertIncoming([f]);
    assert.deepEqual(store.markStored([f.id]), []);
    assert.equal(store.getMessage(f.id)?.state, 'delivered');
  });
});

describe('peer certificates', () => {
  let bob: Identity;
  let carol: Identity;
  before(() => {
    bob = generateIdentity();
    carol = generateIdentity();
  });
  const der = (who: Identity) => new X509Certificate(who.certPem).raw;

  it('keeps the certificate a known peer proved, as DER, across a reopen', () => {
    const { store, file } = tempStore();
    store.upsertPeer({ id: bob.id, name: 'Bob' });
    assert.equal(store.peerCertificate(bob.id), undefined);
    assert.equal(store.setPeerCertificate(bob.id, der(bob)), true);
    assert.equal(store.setPeerCertificate(bob.id, der(bob)), false, 'the same one again is no change');
    store.close();
    const again = openStore(file);
    try {
      assert.deepEqual(Buffer.from(again.peerCertificate(bob.id)!), der(bob));
      assert.equal(again.getPeer(bob.id)?.name, 'Bob');
    } finally {
      again.close();
    }
  });

  it('stores a PEM certificate as DER', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: bob.id });
    assert.equal(store.setPeerCertificate(bob.id, Buffer.from(bob.certPem)), true);
    assert.deepEqual(Buffer.from(store.peerCertificate(bob.id)!), der(bob));
  });

  it('refuses a certificate whose key is not the peer’s, and bytes that are no certificate', () => {
    const { store } = tempStore();
    store.upsertPeer({ id: bob.id });
    assert.equal(store.setPeerCertificate(bob.id, der(carol)), false);
    assert.equal(store.setPeerCertificate(bob.id, Buffer.from('not a certificate')), false);
    assert.equal(store.setPeerCertificate(bob.id, new Uint8Array(0)), false);
    assert.equal(store.peerCertificate(bob.id), undefined);
    store.setPeerCertificate(bob.id, der(bob));
    assert.equal(store.setPeerCertificate(bob.id, der(carol)), false, 'nor replaces a good one');
    assert.deepEqual(Buffer.from(store.peerCertificate(bob.id)!), der(bob));
  });

  it('takes a re-issued certificate for the same key (the ID stays, the certificate changes)', async () => {
    const { createCertificate } = await import('../../main/core/identity/identity.ts');
    const { store } = tempStore();
    store.upsertPeer({ id: bob.id });
    store.setPeerCertificate(bob.id, der(bob));
    const reissued = new X509Certificate(createCertificate(bob.keyPem)).raw;
    assert.notDeepEqual(reissued, der(bob));
    assert.equal(store.setPeerCertificate(bob.id, reissued), true);
    assert.deepEqual(Buffer.from(store.peerCertificate(bob.id)!), reissued);
  });

  it('stores nothing for an unknown peer, and peer updates leave a stored one alone', () => {
    const { store } = tempStore();
    assert.equal(store.setPeerCertificate(bob.id, der(bob)), false);
    assert.equal(store.peerCertificate(bob.id), undefined);
    store.upsertPeer({ id: bob.id, name: 'Bob' });
    store.setPeerCertificate(bob.id, der(bob));
    store.upsertPeer({ id: bob.id, name: 'Robert', presence: 'busy', addresses: ['10.0.0.2:47474'] });
    assert.deepEqual(Buffer.from(store.peerCertificate(bob.id)!), der(bob));
  });
});

describe('migrating a schema-1 database', () => {
  const conv = `d:${BOB}:${ME}`;

  /** A file as schema 1 left it: the real first migration, then rows as that version wrote them. */
  function schema1File(): string {
    const file = path.join(tempDir(), 'parley.db');
    const db = openDatabase(file, migrations.slice(0, 1));
    db.exec(`
      INSERT INTO meta (key, value) VALUES ('profile.name', 'Mia');
      INSERT INTO peers (id, name, presence, status_text, addresses, last_seen, first_seen)
        VALUES ('${BOB}', 'Bob', 'offline', 'on leave', '["10.0.0.2:47474"]', 5000, 1000);
      INSERT INTO conversations (id, kind, peer_id, title, created_at, lamport, my_seq, read_upto, peer_read_upto)
        VALUES ('${conv}', 'direct', '${BOB}', 'Bob', 1000, 6, 5, '01J00000000000000000000005', '01J00000000000000000000004');
      INSERT INTO messages (rowid, id, conv_id, author, seq, lamport, ts, text, state, created_at) VALUES
        (1, '01J00000000000000000000001', '${conv}', '${ME}', 1, 1, 1001, 'waiting for a link', 'pending', 1001),
        (2, '01J00000000000000000000002', '${conv}', '${ME}', 2, 2, 1002, 'deposited at the relay', 'sent', 1002),
        (3, '01J00000000000000000000003', '${conv}', '${ME}', 3, 3, 1003, 'acked by bob', 'delivered', 1003),
        (4, '01J00000000000000000000004', '${conv}', '${ME}', 4, 4, 1004, 'read by bob', 'read', 1004),
        (5, '01J00000000000000000000005', '${conv}', '${BOB}', 1, 5, 1005, 'hello from bob', 'read', 1005),
        (7, '01J00000000000000000000006', '${conv}', '${ME}', 5, 6, 1006, 'changed my mind', 'canceled', 1006);
      INSERT INTO outbox (message_id, peer_id, enqueued_at) VALUES
        ('01J00000000000000000000001', '${BOB}', 1001),
        ('01J00000000000000000000002', '${BOB}', 1002);
    `);
    db.close();
    return file;
  }

  it('keeps every row, and shows what a relay accepted as stored', () => {
    const file = schema1File();
    const store = openStore(file);
    try {
      const history = store.history(conv, { limit: 10 });
      assert.deepEqual(
        history.map((m) => [m.rowid, m.text, m.state]),
        [
          [1, 'waiting for a link', 'pending'],
          [2, 'deposited at the relay', 'stored'],
          [3, 'acked by bob', 'delivered'],
          [4, 'read by bob', 'read'],
          [5, 'hello from bob', 'read'],
          [7, 'changed my mind', 'canceled'],
        ],
      );
      assert.deepEqual(
        store.outbox(BOB, 0, 10).map((m) => [m.text, m.state]),
        [
          ['waiting for a link', 'pending'],
          ['deposited at the relay', 'stored'],
        ],
      );
      assert.equal(store.getMeta('profile.name'), 'Mia');
      const bob = store.getPeer(BOB);
      assert.deepEqual(bob && { name: bob.name, statusText: bob.statusText, addresses: bob.addresses, lastSeen: bob.lastSeen, firstSeen: bob.firstSeen }, {
        name: 'Bob',
        statusText: 'on leave',
        addresses: ['10.0.0.2:47474'],
        lastSeen: 5000,
        firstSeen: 1000,
      });
      assert.equal(store.peerCertificate(BOB), undefined, 'no certificate until Bob proves one');
      const c = store.getConversation(conv);
      assert.deepEqual(c && [c.lamport, c.mySeq, c.readUpTo, c.peerReadUpTo], [6, 5, '01J00000000000000000000005', '01J00000000000000000000004']);
      // The full-text index still points at the same rows (its content rowid is messages.rowid).
      assert.deepEqual(
        store.search('relay', 10).map((h) => [h.message.rowid, h.message.state]),
        [[2, 'stored']],
      );
      assert.deepEqual(
        store.search('changed', 10).map((h) => h.message.rowid),
        [7],
      );

      // And it goes on from there: the ack, a new message with the next seq and lamport.
      assert.deepEqual(
        store.markDelivered(['01J00000000000000000000002']).map((m) => m.state),
        ['delivered'],
      );
      const [next] = send(store, conv, BOB, ['after the upgrade']);
      assert.deepEqual([next!.seq, next!.lamport], [6, 7]);
      assert.equal(store.search('upgrade', 10).length, 1);
    } finally {
      store.close();
    }
    // Not read-only: FTS5's integrity-check is spelled as an INSERT.
    const db = new Database(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), migrations.length);
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      assert.doesNotThrow(() => db.prepare("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')").run(), 'the FTS index matches its content');
    } finally {
      db.close();
    }
  });

  it('marks a schema-1 message stored only while it waits in the outbox', () => {
    const file = schema1File();
    // A CAROL conversation with a 'sent' row no longer in the outbox cannot come from schema 1,
    // but if it did, nothing says a relay still holds it.
    const db = new Database(file);
    const carolConv = `d:${CAROL}:${ME}`;
    db.exec(`
      INSERT INTO conversations (id, kind, peer_id, title, created_at) VALUES ('${carolConv}', 'direct', '${CAROL}', 'Carol', 1000);
      INSERT INTO messages (id, conv_id, author, seq, lamport, ts, text, state, created_at)
        VALUES ('01J00000000000000000000009', '${carolConv}', '${ME}', 1, 1, 1, 'gone from the outbox', 'sent', 1);
    `);
    db.close();
    const store = openStore(file);
    try {
      assert.equal(store.getMessage('01J00000000000000000000009')?.state, 'sent');
      assert.equal(store.getMessage('01J00000000000000000000002')?.state, 'stored');
    } finally {
      store.close();
    }
  });
});
