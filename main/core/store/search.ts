// Full-text search over message text. People type plain text, not FTS5 syntax: every term
// is quoted, so operators and stray quotes are just words.
import type Database from 'better-sqlite3';
import { checkLimit } from './messages-repo.ts';
import { messageColumns, type MessageRow } from './rows.ts';

export interface SearchResult {
  message: MessageRow;
  /** Text around the matches, each match wrapped in \u0002 … \u0003. */
  snippet: string;
}

/** More terms than this add nothing a person meant and only cost time. */
const MAX_TERMS = 16;
/** Characters the unicode61 tokenizer keeps in tokens (letters, marks, numbers, private use). */
const TOKEN_CHAR = /[\p{L}\p{M}\p{N}\p{Co}]/u;

/**
 * The FTS5 query for plain-text input: all terms must occur, the last one as a prefix (it
 * is usually still being typed). Null when the input has nothing searchable.
 */
export function toFtsQuery(input: string): string | null {
  const terms = input
    .normalize('NFC')
    // FTS5's parser stops at NUL ("unterminated string"); no control character is a word anyway.
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/u)
    .filter((t) => TOKEN_CHAR.test(t))
    .slice(0, MAX_TERMS);
  if (terms.length === 0) return null;
  return terms.map((t, i) => `"${t.replaceAll('"', '""')}"${i === terms.length - 1 ? '*' : ''}`).join(' ');
}

export class MessageSearch {
  private readonly stmt;

  constructor(db: Database.Database) {
    // Newest first = most recently stored; ORDER BY rowid DESC lets FTS5 stop at the limit.
    this.stmt = db.prepare<[string, number], MessageRow & { snippet: string }>(
      `SELECT ${messageColumns('m')}, snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snippet
       FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
       WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?`,
    );
  }

  search(query: string, limit: number): SearchResult[] {
    checkLimit(limit);
    const fts = toFtsQuery(query);
    if (fts === null) return [];
    return this.stmt.all(fts, limit).map(({ snippet, ...message }) => ({ message, snippet }));
  }
}
