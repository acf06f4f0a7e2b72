// The key-change rule. A peer's identity is the hash of its key, so when a colleague reinstalls
// Parley (new key) — or someone poses as them — nothing about the old ID changes: a NEW peer ID
// turns up carrying a name we already know. Names are peer-chosen and prove nothing, so we never
// merge the two; instead the newcomer is flagged loudly until the person verifies its ID out of
// band or dismisses the warning (design notes §1: "on a key change, warn and never silently merge").
//
// Precisely, peer X is flagged when all of these hold:
//  1. X's name is learned for the first time (X never seen before, or known only by ID, e.g.
//     added by address) or X's name changes to a different one (same nameKey = no change);
//     from any source that names peers: a link's Hello or presence update, a relay's
//     directory, LAN discovery (unproven candidates: flagged in memory only, key-change-watch.ts).
//  2. nameKey(new name) equals nameKey(name of C) for some known contact C with C ≠ X, where a
//     known contact is a peer we marked verified or have exchanged at least one message with
//     (in either direction): someone the person has reason to recognise by name.
//  3. X has no key-change flag yet (the first one stands until verified or dismissed).
// X itself being verified or a contact does not exempt it: a verified colleague renaming
// themselves to another contact's name is exactly as confusing.
// The flag names C (preferring a verified C, then the one seen most recently).
import type { KeyChange, PeerId } from '../../contract/contract.ts';

/** Format characters (zero-width spaces and joiners, bidi controls, BOM): invisible on screen. */
const INVISIBLE = /\p{Cf}/gu;

/**
 * The form in which two display names count as the same: NFC, invisible format characters
 * removed (they would let "Alice\u200B" pass for "Alice"), runs of white space as one space,
 * trimmed, case-folded. Look-alike letters from other scripts (Cyrillic "а") are not folded:
 * that needs Unicode's confusables table, and a verified badge is the real answer to it.
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').replace(INVISIBLE, '').replace(/\s+/gu, ' ').trim().toLowerCase();
}

export interface KnownContact {
  id: PeerId;
  name: string;
  verified: boolean;
  lastSeen: number | null;
}

/** Condition 1: a first name, or a real change of name (case, spacing or NFC form do not count). */
export function isNewName(previousName: string | undefined, name: string): boolean {
  return nameKey(name) !== '' && nameKey(previousName ?? '') !== nameKey(name);
}

/** Condition 2: the contact whose name `peerId` now carries, if any. */
export function keyChangeFor(peerId: PeerId, name: string, contacts: readonly KnownContact[]): KeyChange | null {
  const key = nameKey(name);
  if (!key) return null;
  let best: KnownContact | undefined;
  for (const c of contacts) {
    if (c.id === peerId || nameKey(c.name) !== key) continue;
    if (!best || rank(c) > rank(best)) best = c;
  }
  return best ? { previousId: best.id, previousName: best.name, verifiedBefore: best.verified } : null;
}

function rank(c: KnownContact): number {
  // A verified contact first: that is the identity the person relies on.
  return (c.verified ? 2 ** 52 : 0) + (c.lastSeen ?? 0);
}
