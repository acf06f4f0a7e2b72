// What the UI offers on a message, decided from the MessageInfo alone.
import type { MessageInfo } from '../../../main/contract/contract.ts';

/**
 * My message can be edited or deleted for everyone: any group message, and a direct one once
 * the peer holds it (until then it is still in my outbox and is canceled instead; the core
 * refuses an edit before delivery, messenger.ts sendOp).
 */
export function canChange(m: MessageInfo): boolean {
  if (m.state === 'canceled' || m.state === 'rejected') return false;
  return m.convId.startsWith('g:') || m.state === 'delivered' || m.state === 'read';
}
