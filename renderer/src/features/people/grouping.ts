// Which section of the people list a peer belongs in. Pure, so it is tested under Node
// (test/ui/renderer-logic.test.ts).
import type { PeerInfo } from '../../../../main/contract/contract.ts';

export type PeopleGroup = 'lan' | 'relay' | 'offline';
export const GROUP_ORDER: readonly PeopleGroup[] = ['lan', 'relay', 'offline'];

/**
 * A proven link decides first (direct → on this LAN, relayed → via relay); without one, where
 * the peer is announced right now (LAN discovery before a relay's directory); otherwise offline.
 */
export function groupOf(peer: Pick<PeerInfo, 'link' | 'seenVia'>): PeopleGroup {
  if (peer.link === 'direct') return 'lan';
  if (peer.link === 'relay') return 'relay';
  if (peer.seenVia === 'lan') return 'lan';
  if (peer.seenVia === 'relay') return 'relay';
  return 'offline';
}

/** Rows split into the three sections, each sorted by name (then ID, so equal names keep a stable order). */
export function groupPeople<T extends { peer: Pick<PeerInfo, 'id' | 'name' | 'link' | 'seenVia'> }>(rows: readonly T[]): Record<PeopleGroup, T[]> {
  const groups: Record<PeopleGroup, T[]> = { lan: [], relay: [], offline: [] };
  for (const r of rows) groups[groupOf(r.peer)].push(r);
  const byName = (a: T, b: T) => a.peer.name.localeCompare(b.peer.name) || (a.peer.id < b.peer.id ? -1 : a.peer.id > b.peer.id ? 1 : 0);
  for (const g of GROUP_ORDER) groups[g].sort(byName);
  return groups;
}

/**
 * IDs of peers whose name another peer also carries (case- and space-insensitive, as the core's
 * key-change rule compares them), so the list can show which is which.
 */
export function sharedNames(peers: Iterable<Pick<PeerInfo, 'id' | 'name'>>): Set<string> {
  const byName = new Map<string, string[]>();
  for (const p of peers) {
    // The core's nameKey (main/core/trust/key-change.ts), which the renderer cannot import.
    const key = p.name.normalize('NFC').replace(/\p{Cf}/gu, '').replace(/\s+/gu, ' ').trim().toLowerCase();
    byName.set(key, [...(byName.get(key) ?? []), p.id]);
  }
  return new Set([...byName.values()].filter((ids) => ids.length > 1).flat());
}
