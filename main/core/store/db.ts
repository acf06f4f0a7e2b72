// Opening the history database: refuse damaged, foreign or too-new files without changing a
// byte of them, then set durability pragmas and bring the schema up to date.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { migrations as allMigrations, type Migration } from './migrations/index.ts';

export type StoreErrorCode = 'corrupt' | 'too-new' | 'unreadable';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly file: string;
  constructor(code: StoreErrorCode, file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    this.file = file;
  }
}

/** "PRLY" in the SQLite header: tells our files from any other SQLite database. */
export const APPLICATION_ID = 0x50524c59;

const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if missing) the database at `file` and applies pending migrations.
 * Throws StoreError; never deletes, renames or replaces an existing file.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = allMigrations): Database.Database {
  checkMigrationList(migrations);
  const latest = migrations.length;
  prepareFile(file);
  probe(file, latest);

  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and we
    // acknowledge messages to peers as soon as the commit returns.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    runMigrations(db, migrations, file);
    return db;
  } catch (err) {
    db?.close();
    throw asStoreError(err, file);
  }
}

/** Applies every migration newer than the database's user_version, each in its own transaction. */
export function runMigrations(db: Database.Database, migrations: readonly Migration[], file = db.name): void {
  checkMigrationList(migrations);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) throw tooNew(file, current, migrations.length);
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      if ((db.pragma('application_id', { simple: true }) as number) === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
      m.up(db);
      // user_version lives in the header and is part of this transaction: a failed migration
      // leaves both schema and version as they were.
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}`);
  });
}

/** Creates the owner-only parent directory and an owner-only empty file (an empty file is an empty database). */
function prepareFile(file: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw unreadable(file, (err as Error).message, err);
  }
  try {
    // wx: never truncates an existing file. SQLite gives -wal and -shm the same mode.
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unreadable(file, (err as Error).message, err);
  }
}

/**
 * Inspects an existing file over a read-only connection, which can neither rewrite the
 * header (as journal_mode=WAL would) nor checkpoint a WAL into a damaged file on close.
 */
function probe(file: string, latest: number): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw unreadable(file, (err as Error).message, err);
  }
  if (!stat.isFile()) throw unreadable(file, 'not a regular file');
  if (stat.size === 0) return;

  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
    if (appId !== APPLICATION_ID && (appId !== 0 || version !== 0 || objects > 0)) {
      throw unreadable(file, 'it is not a Parley database');
    }
    if (version > latest) throw tooNew(file, version, latest);
    const problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
    if (problems.length !== 1 || problems[0] !== 'ok') throw corrupt(file, `integrity check: ${problems.join('; ')}`);
  } catch (err) {
    throw asStoreError(err, file);
  } finally {
    db?.close();
  }
}

function asStoreError(err: unknown, file: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const detail = (err as Error).message ?? String(err);
  if (err instanceof Database.SqliteError && (code === 'SQLITE_NOTADB' || String(code).startsWith('SQLITE_CORRUPT'))) {
    return corrupt(file, detail, err);
  }
  return unreadable(file, detail, err);
}

const UNTOUCHED = 'The file was left untouched';

function corrupt(file: string, detail: string, cause?: unknown): StoreError {
  return new StoreError(
    'corrupt',
    file,
    `The message database ${file} is damaged (${detail}). ${UNTOUCHED}: move it aside to start with an empty history, or restore a backup.`,
    { cause },
  );
}

function tooNew(file: string, version: number, latest: number): StoreError {
  return new StoreError(
    'too-new',
    file,
    `The message database ${file} was written by a newer Parley (schema ${version}; this build knows up to ${latest}). ${UNTOUCHED}: use the newer Parley.`,
  );
}

function unreadable(file: string, detail: string, cause?: unknown): StoreError {
  return new StoreError('unreadable', file, `The message database ${file} cannot be opened (${detail}). ${UNTOUCHED}.`, { cause });
}
