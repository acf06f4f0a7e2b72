import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { openDatabase } from '../../main/core/store/db.ts';
import { toFtsQuery } from '../../main/core/store/search.ts';
import { Store } from '../../main/core/store/store.ts';
import { BOB, ME, closeStores, frame, removeTempDirs, send, tempDir, tempStore } from '../helpers/store.ts';

afterEach(closeStores);
after(removeTempDirs);

const HOSTILE = ['"', '""', "'", 'AND', 'OR', 'NOT', 'NEAR', 'NEAR(a b)', '*', 'a*', '^a', '(', ')', '-x', '+x', ':', 'text:x', '{a b}', 'a:b', '\\', '\u0000', 'x\u00000', 'a"b', '"unterminated', 'x OR', '* * *', '  ', '💬', 'ß', 'İ', '\ud800'];

function withMessages(texts: string[]) {
  const { store } = tempStore();
  const conv = store.ensureDirectConversation(ME, BOB).id;
  const rows = send(store, conv, BOB, texts);
  return { store, conv, rows };
}

describe('search', () => {
  it('finds the message that contains every term, with the matches marked in the snippet', () => {
    const { store, rows } = withMessages(['lunch at noon?', 'the build is green again', 'noon works, see you at lunch']);
    const hits = store.search('lunch noon', 10);
    assert.deepEqual(
      hits.map((h) => h.message.id),
      [rows[2]!.id, rows[0]!.id],
      'newest first',
    );
    assert.equal(hits[1]!.snippet, '\u0002lunch\u0003 at \u0002noon\u0003?');
    assert.deepEqual(store.search('build', 10)[0]?.message, rows[1]);
  });

  it('treats operators and quotes in the query as plain words and never throws', () => {
    const { store, rows } = withMessages(['this AND that', 'say "hi" to -x', 'near the (door)', 'nothing here']);
    for (const q of HOSTILE) assert.ok(Array.isArray(store.search(q, 10)), `query ${JSON.stringify(q)}`);
    assert.deepEqual(
      store.search('AND', 10).map((h) => h.message.id),
      [rows[0]!.id],
    );
    assert.deepEqual(
      store.search('"hi"', 10).map((h) => h.message.id),
      [rows[1]!.id],
    );
    assert.deepEqual(
      store.search('-x', 10).map((h) => h.message.id),
      [rows[1]!.id],
    );
    assert.deepEqual(
      store.search('NEAR (door', 10).map((h) => h.message.id),
      [rows[2]!.id],
    );
    assert.deepEqual(store.search('" * ( ) -', 10), [], 'nothing searchable, nothing found');
  });

  it('matches the last term as a prefix (it is still being typed) and the others whole', () => {
    const { store, rows } = withMessages(['hello world', 'help wanted']);
    assert.deepEqual(
      store.search('hel', 10).map((h) => h.message.id),
      [rows[1]!.id, rows[0]!.id],
    );
    assert.deepEqual(
      store.search('hello wor', 10).map((h) => h.message.id),
      [rows[0]!.id],
    );
    assert.deepEqual(store.search('hel world', 10), []);
  });

  it('ignores case and diacritics', () => {
    const { store, rows } = withMessages(['Wir treffen uns überall', 'CAFÉ later']);
    assert.equal(store.search('uberall', 10)[0]?.message.id, rows[0]!.id);
    assert.equal(store.search('cafe', 10)[0]?.message.id, rows[1]!.id);
  });

  it('returns at most `limit` hits, newest first, across conversations and directions', () => {
    const { store, conv } = withMessages(['ping 1', 'ping 2']);
    store.insertIncoming([frame(conv, BOB, 1, 1, 'ping 3 from bob')]);
    const hits = store.search('ping', 2);
    assert.deepEqual(
      hits.map((h) => h.message.text),
      ['ping 3 from bob', 'ping 2'],
    );
    assert.throws(() => store.search('ping', 0), RangeError);
  });

  it('keeps the index in step when message text is edited or deleted', () => {
    const db = openDatabase(`${tempDir()}/parley.db`);
    const store = new Store(db);
    try {
      const conv = store.ensureDirectConversation(ME, BOB).id;
      const [a, b] = send(store, conv, BOB, ['original words', 'doomed words']);
      db.prepare('UPDATE messages SET text = ? WHERE id = ?').run('edited text', a!.id);
      assert.deepEqual(store.search('original', 10), []);
      assert.equal(store.search('edited', 10)[0]?.message.id, a!.id);
      db.prepare('DELETE FROM outbox WHERE message_id = ?').run(b!.id);
      db.prepare('DELETE FROM messages WHERE id = ?').run(b!.id);
      assert.deepEqual(store.search('doomed', 10), []);
      // Throws SQLITE_CORRUPT_VTAB when the index and the messages disagree.
      db.prepare("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").run();
    } finally {
      store.close();
    }
  });

  it('builds a query FTS5 accepts from any input at all', () => {
    const db = new Database(':memory:');
    db.exec("CREATE VIRTUAL TABLE t USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2'); INSERT INTO t VALUES ('some text');");
    const match = db.prepare('SELECT count(*) FROM t WHERE t MATCH ?').pluck();
    try {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom(...HOSTILE)), (input) => {
          const q = toFtsQuery(input);
          if (q !== null) match.get(q);
        }),
        { numRuns: 2000 },
      );
    } finally {
      db.close();
    }
  });
});

describe('message text', () => {
  it('round-trips any text, and a resend of it is recognised as a duplicate', () => {
    const { store } = tempStore();
    const conv = store.ensureDirectConversation(ME, BOB).id;
    let seq = 0;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), (text) => {
        seq++;
        const f = frame(conv, BOB, seq, seq, text);
        assert.deepEqual(store.insertIncoming([f]), ['stored']);
        const stored = store.getMessage(f.id)!.text;
        // Lone surrogates cannot be stored as UTF-8; everything else comes back as sent.
        assert.equal(stored, text.replace(/\p{Cs}/gu, '\uFFFD'));
        assert.deepEqual(store.insertIncoming([{ ...f }]), ['duplicate']);
      }),
      { numRuns: 300 },
    );
  });
});
