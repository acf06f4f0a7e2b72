// Conversation order, identical to the store's: (lamport, author, seq, id). Never wall clocks.
import type { MessageInfo } from '../../../main/contract/contract.ts';

export function compareMessages(a: MessageInfo, b: MessageInfo): number {
  if (a.lamport !== b.lamport) return a.lamport - b.lamport;
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Inserts or replaces `m` in an ordered list, returning a new array (or the same one when
 * nothing changed). New messages almost always belong at the end, so search from there.
 */
export function upsertMessage(list: MessageInfo[], m: MessageInfo): MessageInfo[] {
  for (let i = list.length - 1; i >= 0; i--) {
    const cur = list[i]!;
    if (cur.id === m.id) {
      if (sameMessage(cur, m)) return list;
      const next = list.slice();
      next[i] = m;
      return next;
    }
    if (compareMessages(cur, m) < 0) {
      // Still check that no copy of m sits earlier (it would have the same order key, so it cannot).
      const next = list.slice();
      next.splice(i + 1, 0, m);
      return next;
    }
  }
  return [m, ...list];
}

/** Whether an event for a message changes nothing on screen (a repeat), so the list can stay as it is. */
export function sameMessage(a: MessageInfo, b: MessageInfo): boolean {
  if (a === b) return true;
  if (a.state !== b.state || a.overdue !== b.overdue || a.text !== b.text || a.editedAt !== b.editedAt || !!a.deleted !== !!b.deleted) return false;
  // The rest is small: comparing it as JSON is cheaper than a re-render.
  const rest = (m: MessageInfo) => JSON.stringify([m.reactions ?? null, m.attachment ?? null, m.replyTo ?? null, m.mentions ?? null, m.mentionsMe ?? false, m.broadcast ?? false]);
  return rest(a) === rest(b);
}

/** Older page + current list, dropping any overlap. */
export function prependPage(page: MessageInfo[], list: MessageInfo[]): MessageInfo[] {
  if (page.length === 0) return list;
  const have = new Set<string>();
  for (let i = 0; i < Math.min(list.length, page.length + 1); i++) have.add(list[i]!.id);
  const fresh = page.filter((m) => !have.has(m.id));
  return fresh.length ? fresh.concat(list) : list;
}

/** Current list + newer page (scrolling down from a search hit), dropping any overlap. */
export function appendPage(list: MessageInfo[], page: MessageInfo[]): MessageInfo[] {
  if (page.length === 0) return list;
  const have = new Set<string>();
  for (let i = Math.max(0, list.length - page.length - 1); i < list.length; i++) have.add(list[i]!.id);
  const fresh = page.filter((m) => !have.has(m.id));
  return fresh.length ? list.concat(fresh) : list;
}

/**
 * Whether a live message belongs in a loaded window that may stop short of the newest
 * message: one past the window's end would leave a gap, so it waits until that end is loaded.
 */
export function fitsWindow(list: MessageInfo[], m: MessageInfo, reachesNewest: boolean): boolean {
  if (reachesNewest) return true;
  const last = list[list.length - 1];
  return !!last && compareMessages(m, last) <= 0;
}
