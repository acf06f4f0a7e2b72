// Splits message text into plain text and links. Only http, https and mailto URLs become
// links, and only after the URL parser accepts them; everything else (javascript:, data:,
// file:, HTML) stays text. Never produces markup: the caller renders segments with React.
export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const CANDIDATE = /\b(?:https?:\/\/|mailto:)[^\s<>"'`\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+/gi;
const TRAILING = /[.,;:!?'"]$/;

export function safeHref(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol === 'mailto:') return url.pathname.includes('@') ? url.href : null;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname || url.username || url.password) return null;
  return url.href;
}

function trimTrailing(s: string): string {
  let out = s;
  for (;;) {
    if (TRAILING.test(out)) out = out.slice(0, -1);
    else if (out.endsWith(')') && count(out, '(') < count(out, ')')) out = out.slice(0, -1);
    else if (out.endsWith(']') && count(out, '[') < count(out, ']')) out = out.slice(0, -1);
    else return out;
  }
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const raw = trimTrailing(match[0]);
    const href = safeHref(raw);
    if (!href) continue;
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) });
    out.push({ kind: 'link', text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}
