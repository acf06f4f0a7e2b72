// Which offers are received without asking. Settings.autoAccept: a contact's own limit wins
// (0 = always ask this contact, even for a photo); otherwise defaultMaxBytes (0 = ask). On top
// of that, images and voice notes up to MEDIA_AUTO_ACCEPT_BYTES come in without asking, as in
// common messengers, so a photo shows in the conversation at once. The kind is the sender's
// word, so this is a size rule: whatever it is, it lands in the download folder, is never
// opened, and the receiver's free-space reserve still applies.
import type { AttachmentKind, PeerId } from '../../contract/contract.ts';

export const MEDIA_AUTO_ACCEPT_BYTES = 4 * 1024 * 1024;

export function autoAccepts(rules: { defaultMaxBytes: number; peers: Record<string, number> }, from: PeerId, kind: AttachmentKind, size: number): boolean {
  const own = rules.peers[from];
  if (own !== undefined) return own > 0 && size <= own;
  if (rules.defaultMaxBytes > 0 && size <= rules.defaultMaxBytes) return true;
  return (kind === 'image' || kind === 'voice') && size <= MEDIA_AUTO_ACCEPT_BYTES;
}
