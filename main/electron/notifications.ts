// Desktop notifications for messages that arrive while the window is not focused. Each
// message notifies once (state changes re-send message events). The settings decide whether
// to notify at all, per conversation, and whether the text is shown; "busy" means do not
// disturb. A message that @-mentions me gets through a muted conversation (muting a busy
// group is how people keep up with it), but not "off" or "busy".
import type { MessageInfo, PeerId, Presence, Settings } from '../contract/contract.ts';

export interface NotifierDeps {
  isFocused(): boolean;
  peerName(id: PeerId): string;
  /** Read at each message, so a change applies to the next one. */
  settings(): Settings['notifications'];
  presence(): Presence;
  /** The body when previews are off (localised by the caller). */
  hiddenBody: string;
  show(n: { title: string; body: string; convId: string }): void;
}

const REMEMBER = 500;
const BODY_MAX = 160;

export function createNotifier(deps: NotifierDeps): (m: MessageInfo) => void {
  const seen = new Set<string>();
  return (m) => {
    if (m.mine || seen.has(m.id)) return;
    seen.add(m.id);
    if (seen.size > REMEMBER) seen.delete(seen.values().next().value!);
    if (deps.isFocused()) return;
    const s = deps.settings();
    if (m.deleted) return;
    if (!s.enabled || (s.mutedConversations.includes(m.convId) && !m.mentionsMe) || deps.presence() === 'busy') return;
    const body = !s.showPreview ? deps.hiddenBody : m.text.length > BODY_MAX ? `${m.text.slice(0, BODY_MAX - 1)}…` : m.text;
    deps.show({ title: deps.peerName(m.author), body, convId: m.convId });
  };
}
