import type BetterSqlite3 from 'better-sqlite3';

/** One schema step. `up` runs inside a transaction that also records `version` as user_version. */
export interface Migration {
  version: number;
  name: string;
  up(db: BetterSqlite3.Database): void;
}
