// Peer-chosen labels (names, status texts) are shown in many small places next to our own
// UI text. Bidi isolation (<bdi>) keeps them from reordering what surrounds them, but an
// explicit override inside a label still lets "\u202Egnp.exe" pose as "exe.png". Names
// never need explicit embedding or override controls (the implicit algorithm lays out
// Arabic and Hebrew correctly), so labels lose them; message text keeps them, isolated.
import type { PeerInfo, SelfInfo } from '../../../main/contract/contract.ts';

const EXPLICIT_BIDI = /[\u202A-\u202E\u2066-\u2069]/g;

export function cleanLabel(s: string): string {
  return s.replace(EXPLICIT_BIDI, '');
}

export function cleanPeer(p: PeerInfo): PeerInfo {
  const keyChange = p.keyChange ? { ...p.keyChange, previousName: cleanLabel(p.keyChange.previousName) } : p.keyChange;
  return { ...p, name: cleanLabel(p.name), statusText: cleanLabel(p.statusText), keyChange };
}

export function cleanSelf(s: SelfInfo): SelfInfo {
  return { ...s, name: cleanLabel(s.name), statusText: cleanLabel(s.statusText) };
}
