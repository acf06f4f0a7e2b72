// The rows the message list virtualises: one per message, keyed by message ID. A day
// separator or the new-messages line travels inside the row of the message it precedes,
// so that every key is stable when older pages are prepended (the virtualiser keeps the
// reader's place by key; a separator whose key changed would lose it).
import type { MessageInfo } from '../../../../main/contract/contract.ts';

export interface Row {
  key: string;
  m: MessageInfo;
  /** Local midnight of a new day that starts with this message. */
  day: number | null;
  /** The new-messages line goes above this message. */
  unreadBefore: boolean;
  /** First of a run by the same author (shows more space above). */
  groupStart: boolean;
  /**
   * A file of a folder whose previous file is the line just above: the folder's Accept and
   * Decline show once, on its first line, not on every file.
   */
  folderFollower: boolean;
}

/** Same author within this long reads as one run. */
const GROUP_GAP_MS = 5 * 60_000;

export function buildRows(messages: MessageInfo[], firstUnreadId: string | null): Row[] {
  const rows: Row[] = new Array(messages.length);
  let dayStart = Number.NaN;
  let dayEnd = Number.NaN;
  let prev: MessageInfo | undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let day: number | null = null;
    if (!(m.ts >= dayStart && m.ts < dayEnd)) {
      const d = new Date(m.ts);
      d.setHours(0, 0, 0, 0);
      const start = d.getTime();
      d.setDate(d.getDate() + 1);
      if (start !== dayStart) day = start;
      dayStart = start;
      dayEnd = d.getTime();
    }
    const unreadBefore = m.id === firstUnreadId;
    // A membership line between two messages breaks the run: the author is named again.
    const groupStart = day !== null || unreadBefore || !prev || prev.author !== m.author || !!prev.change || m.ts - prev.ts > GROUP_GAP_MS || m.ts < prev.ts;
    const folder = m.attachment?.folder?.id;
    const folderFollower = folder !== undefined && prev?.author === m.author && prev.attachment?.folder?.id === folder;
    rows[i] = { key: m.id, m, day, unreadBefore, groupStart, folderFollower };
    prev = m;
  }
  return rows;
}
