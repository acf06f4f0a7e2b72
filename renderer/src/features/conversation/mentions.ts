// @mentions: finding the "@query" being typed before the caret, inserting a picked member,
// and splitting a message's text around the names it mentions so they can be highlighted.
// Pure functions over strings (tested without a browser); nothing here produces markup.

/** The "@query" that ends right at the caret, if the person is typing one. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  // After a space or at the start, so an e-mail address does not open the list; the query
  // may hold one space ("@Ann Lee") but not start with one.
  const m = /(?:^|[\s(])@([^\s@]*(?: [^\s@]+)?)$/u.exec(before);
  if (!m) return null;
  const query = m[1]!;
  if (query.length > 64) return null;
  return { start: caret - query.length - 1, query };
}

/** Replaces "@query" (from `start` to the caret) by "@Name "; returns the new text and caret. */
export function insertMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  return { text: text.slice(0, start) + inserted + text.slice(caret), caret: start + inserted.length };
}

/** Whether a candidate name matches what was typed after the @ (start of any word, any case). */
export function matchesMention(name: string, query: string): boolean {
  const q = query.trim().toLocaleLowerCase();
  if (!q) return true;
  const n = name.toLocaleLowerCase();
  return n.startsWith(q) || n.split(/\s+/).some((w) => w.startsWith(q));
}

/** The picked members whose "@Name" is still in the text when it is sent (deleting it un-mentions). */
export function mentionsInText<T extends { id: string; name: string }>(text: string, picked: readonly T[]): string[] {
  const ids: string[] = [];
  for (const p of picked) if (text.includes(`@${p.name}`) && !ids.includes(p.id)) ids.push(p.id);
  return ids;
}

export type MentionSegment = { kind: 'text'; text: string } | { kind: 'mention'; text: string; id: string };

/**
 * Splits text around "@Name" for each mentioned member (longest name first, so "@Ann Lee"
 * wins over "@Ann"). Names that do not occur are simply not highlighted.
 */
export function splitMentions(text: string, mentioned: ReadonlyArray<{ id: string; name: string }>): MentionSegment[] {
  const names = mentioned.filter((m) => m.name).sort((a, b) => b.name.length - a.name.length);
  if (names.length === 0 || !text.includes('@')) return [{ kind: 'text', text }];
  const out: MentionSegment[] = [];
  let plain = '';
  let i = 0;
  outer: while (i < text.length) {
    if (text[i] === '@') {
      for (const m of names) {
        if (text.startsWith(m.name, i + 1)) {
          if (plain) out.push({ kind: 'text', text: plain });
          plain = '';
          out.push({ kind: 'mention', text: `@${m.name}`, id: m.id });
          i += m.name.length + 1;
          continue outer;
        }
      }
    }
    plain += text[i];
    i++;
  }
  if (plain) out.push({ kind: 'text', text: plain });
  return out;
}
