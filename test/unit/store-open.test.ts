import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, openDatabase, runMigrations } from '../../main/core/store/db.ts';
import { migrations } from '../../main/core/store/migrations/index.ts';
import type { Migration } from '../../main/core/store/migrations/migration.ts';
import { openStore, StoreError } from '../../main/core/store/store.ts';
import { BOB, ME, frame, removeTempDirs, send, tempDir } from '../helpers/store.ts';

after(removeTempDirs);

const dbFile = () => path.join(tempDir(), 'parley.db');

/** A store file with some history in it, closed. */
function populatedFile(messages = 300): string {
  const file = dbFile();
  const store = openStore(file);
  const conv = store.ensureDirectConversation(ME, BOB).id;
  send(store, conv, BOB, Array.from({ length: messages }, (_, i) => `outgoing message ${i} `.repeat(5)));
  store.insertIncoming(Array.from({ length: messages }, (_, i) => frame(conv, BOB, i + 1, i + 1, `incoming message ${i} `.repeat(5))));
  store.close();
  return file;
}

function rawVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

/** Opening must fail with `code`, naming the file, and leave the file's bytes exactly as they were. */
function assertRefusedUntouched(file: string, code: StoreError['code']): StoreError {
  const before = readFileSync(file);
  const names = readdirSync(path.dirname(file));
  let caught: unknown;
  try {
    openStore(file).close();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.file, file);
  assert.ok(caught.message.includes(file), 'the message names the file');
  assert.match(caught.message, /left untouched/);
  assert.deepEqual(readFileSync(file), before, 'the file bytes are unchanged');
  for (const name of names) assert.ok(readdirSync(path.dirname(file)).includes(name), `${name} is still there`);
  return caught;
}

describe('opening the store', () => {
  it('creates the database and an owner-only parent directory when neither exists', () => {
    const file = path.join(tempDir(), 'nested', 'data', 'parley.db');
    openStore(file).close();
    assert.ok(statSync(file).isFile());
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o077, 0, 'the database is not readable by group or others');
  });

  it('uses WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const db = openDatabase(dbFile());
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.ok((db.pragma('busy_timeout', { simple: true }) as number) >= 1000);
    } finally {
      db.close();
    }
  });

  it('applies every migration to a fresh database and marks the file as ours', () => {
    const file = dbFile();
    openStore(file).close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), migrations.length);
      assert.equal(db.pragma('application_id', { simple: true }), APPLICATION_ID);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all();
      for (const t of ['meta', 'peers', 'conversations', 'messages', 'outbox', 'messages_fts']) assert.ok(tables.includes(t), `table ${t}`);
    } finally {
      db.close();
    }
  });

  it('treats an empty file as a new database', () => {
    const file = dbFile();
    writeFileSync(file, '');
    const store = openStore(file);
    store.setMeta('k', 'v');
    store.close();
    assert.equal(rawVersion(file), migrations.length);
  });

  it('runs each migration once: reopening applies only what is new', () => {
    const file = dbFile();
    let runs = 0;
    const next: Migration = { version: migrations.length + 1, name: 'counting', up: (db) => void (runs++, db.exec('CREATE TABLE extra (x)')) };
    openDatabase(file).close();
    openDatabase(file, [...migrations, next]).close();
    openDatabase(file, [...migrations, next]).close();
    assert.equal(runs, 1);
    assert.equal(rawVersion(file), migrations.length + 1);
  });

  it('rolls a failing migration back completely and keeps the previous version', () => {
    const file = dbFile();
    const store = openStore(file);
    store.setMeta('kept', 'yes');
    store.close();
    const broken: Migration = {
      version: migrations.length + 1,
      name: 'half done',
      up(db) {
        db.exec('CREATE TABLE half (x)');
        throw new Error('disk on fire');
      },
    };
    assert.throws(() => openDatabase(file, [...migrations, broken]), (err: unknown) => err instanceof StoreError && /disk on fire/.test(err.message));
    assert.equal(rawVersion(file), migrations.length);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get(), 0);
    } finally {
      db.close();
    }
    const reopened = openStore(file);
    assert.equal(reopened.getMeta('kept'), 'yes');
    reopened.close();
  });

  it('refuses a migration list with gaps (a programming error, caught before touching anything)', () => {
    const db = new Database(':memory:');
    const skip: Migration = { version: migrations.length + 2, name: 'skips one', up: () => {} };
    assert.throws(() => runMigrations(db, [...migrations, skip]), new RegExp(`expected ${migrations.length + 1}`));
    db.close();
  });

  it('keeps everything across close and reopen', () => {
    const file = dbFile();
    const a = openStore(file);
    a.setMeta('profile.name', 'Mia');
    a.upsertPeer({ id: BOB, name: 'Bob', addresses: ['10.0.0.2:4711'] });
    const conv = a.ensureDirectConversation(ME, BOB).id;
    const [mine] = send(a, conv, BOB, ['hello bob']);
    const incoming = frame(conv, BOB, 1, 2, 'hello mia');
    a.insertIncoming([incoming]);
    a.markReadUpTo(conv, incoming.id, ME);
    a.close();

    const b = openStore(file);
    assert.equal(b.getMeta('profile.name'), 'Mia');
    assert.deepEqual(b.getPeer(BOB)?.addresses, ['10.0.0.2:4711']);
    assert.deepEqual(
      b.history(conv, { limit: 10 }).map((m) => m.text),
      ['hello bob', 'hello mia'],
    );
    assert.equal(b.getConversation(conv)?.readUpTo, incoming.id);
    assert.deepEqual(b.outbox(BOB, 0, 10).map((m) => m.id), [mine!.id]);
    assert.equal(b.search('hello', 10).length, 2);
    b.close();
  });

  it('keeps committed messages when the process dies without closing the database', () => {
    const file = dbFile();
    const child = `
      import { openStore } from ${JSON.stringify(path.resolve('main/core/store/store.ts'))};
      const s = openStore(${JSON.stringify(file)});
      const conv = s.ensureDirectConversation('${ME}', '${BOB}').id;
      s.insertOutgoing(Array.from({ length: 50 }, (_, i) => ({ id: 'ID' + String(i).padStart(24, '0'), convId: conv, author: '${ME}', text: 'm' + i, ts: i, peerId: '${BOB}' })));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const store = openStore(file);
    assert.equal(store.outboxCount(BOB), 50);
    assert.equal(store.history(store.directConversationId(ME, BOB), { limit: 100 }).length, 50);
    store.close();
  });
});

describe('refusing a database it cannot trust', () => {
  it('refuses a file of random bytes as corrupt and leaves it untouched', () => {
    const file = dbFile();
    writeFileSync(file, randomBytes(64 * 1024));
    assertRefusedUntouched(file, 'corrupt');
  });

  it('refuses a truncated database as corrupt and leaves it untouched', () => {
    const file = populatedFile();
    truncateSync(file, Math.floor(statSync(file).size / 2));
    assertRefusedUntouched(file, 'corrupt');
  });

  it('refuses a database with a damaged page in the middle as corrupt', () => {
    const file = populatedFile();
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    // 0xA5 is no valid b-tree page type, so the damage is always detectable.
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    assertRefusedUntouched(file, 'corrupt');
  });

  it('refuses a database written by a newer schema, and says so', () => {
    const file = populatedFile(5);
    const db = new Database(file);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    const err = assertRefusedUntouched(file, 'too-new');
    assert.match(err.message, /newer Parley/);
  });

  it('refuses an SQLite database that is not a Parley database', () => {
    const file = dbFile();
    const db = new Database(file);
    db.exec("CREATE TABLE messages (whatever TEXT); INSERT INTO messages VALUES ('someone else''s data')");
    db.close();
    const err = assertRefusedUntouched(file, 'unreadable');
    assert.match(err.message, /not a Parley database/);
  });

  it('reports a path that is a directory as unreadable', () => {
    const file = dbFile();
    mkdirSync(file);
    assert.throws(() => openStore(file), (err: unknown) => err instanceof StoreError && err.code === 'unreadable' && err.message.includes(file));
    assert.ok(statSync(file).isDirectory());
  });

  it('reports a parent path that is a file as unreadable', () => {
    const parent = path.join(tempDir(), 'not-a-dir');
    writeFileSync(parent, 'x');
    const file = path.join(parent, 'parley.db');
    assert.throws(() => openStore(file), (err: unknown) => err instanceof StoreError && err.code === 'unreadable');
    assert.equal(readFileSync(parent, 'utf8'), 'x');
  });
});
