import { memo, useMemo } from 'react';
import type { MessageInfo } from '../../../../main/contract/contract.ts';
import { useI18n, type TFunction } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { linkify } from './linkify.ts';

/** Peer text as text: links are the only elements, and only for http/https/mailto. */
export function MessageText(props: { text: string }) {
  const segments = useMemo(() => linkify(props.text), [props.text]);
  return (
    <>
      {segments.map((s, i) =>
        s.kind === 'link' ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow" title={s.href}>
            {s.text}
          </a>
        ) : (
          <span key={i}>{s.text}</span>
        ),
      )}
    </>
  );
}

/** `hint`, when given, is the tooltip: a longer explanation than the label. */
export function stateLabel(m: MessageInfo, t: TFunction): { key: string; label: string; icon: string; hint?: string } {
  if (m.overdue && (m.state === 'pending' || m.state === 'sent')) return { key: 'overdue', label: t('state.overdue'), icon: 'warning' };
  switch (m.state) {
    case 'pending':
      return { key: 'pending', label: t('state.pending'), icon: 'clock' };
    case 'sent':
      return { key: 'sent', label: t('state.sent'), icon: 'check' };
    case 'stored':
      return { key: 'stored', label: t('state.stored'), icon: 'inbox', hint: t('state.storedHint') };
    case 'delivered':
      return { key: 'delivered', label: t('state.delivered'), icon: 'checks' };
    case 'read':
      return { key: 'read', label: t('state.read'), icon: 'checks' };
    case 'canceled':
      return { key: 'canceled', label: t('state.canceled'), icon: 'close' };
    case 'rejected':
      return { key: 'rejected', label: t('state.rejected'), icon: 'warning' };
  }
}

export const MessageBubble = memo(function MessageBubble(props: {
  m: MessageInfo;
  groupStart: boolean;
  highlighted: boolean;
  /** The newest of my messages spells its state out ("Read"), the others show an icon. */
  latestMine: boolean;
  /** In a group, above the first bubble of someone else's run (peer-supplied: text only). */
  author?: string;
  timeFormat: Intl.DateTimeFormat;
  fullFormat: Intl.DateTimeFormat;
  onRetry: (id: string) => void;
  onCancel: (id: string) => void;
}) {
  const { t } = useI18n();
  const { m } = props;
  const state = m.mine ? stateLabel(m, t) : null;
  const stuck = state?.key === 'overdue';
  return (
    <div
      className={`msg-row ${m.mine ? 'mine' : 'theirs'}${props.groupStart ? ' group-start' : ''}${props.highlighted ? ' highlighted' : ''}`}
      data-message-id={m.id}
      data-state={state?.key}
    >
      {props.author !== undefined ? (
        <bdi className="msg-author" data-testid="msg-author">
          {props.author}
        </bdi>
      ) : null}
      <div className={`bubble${m.state === 'canceled' ? ' canceled' : ''}`} tabIndex={-1}>
        <p className="msg-text" dir="auto">
          <MessageText text={m.text} />
        </p>
        <span className="msg-meta">
          <time dateTime={new Date(m.ts).toISOString()} title={props.fullFormat.format(m.ts)}>
            {props.timeFormat.format(m.ts)}
          </time>
          {state ? (
            <span className={`msg-state state-${state.key}${props.latestMine ? ' spelled' : ''}`} title={state.hint ?? state.label}>
              <Icon name={state.icon} />
              <span className="msg-state-label">{state.label}</span>
            </span>
          ) : null}
        </span>
      </div>
      {stuck ? (
        <div className="msg-actions">
          <button type="button" className="link-button" onClick={() => props.onRetry(m.id)}>
            {t('state.retry')}
          </button>
          <button type="button" className="link-button" onClick={() => props.onCancel(m.id)}>
            {t('state.cancel')}
          </button>
        </div>
      ) : null}
    </div>
  );
});

/** A membership change in a group, as a centred line: "Alice added Bob". */
export function ChangeLine(props: { m: MessageInfo; nameOf: (id: string) => string; selfId: string | undefined }) {
  const { t } = useI18n();
  const { m, nameOf } = props;
  const c = m.change!;
  const author = m.mine ? t('conv.you') : nameOf(m.author);
  // "Alice removed you": as the object of a sentence, not "You".
  const list = (ids: string[]) => ids.map((id) => (id === props.selfId ? t('groups.me') : nameOf(id))).join(', ');
  let text: string;
  switch (c.kind) {
    case 'created':
      text = t('change.created', { author, name: c.name });
      break;
    case 'renamed':
      text = t('change.renamed', { author, name: c.name });
      break;
    case 'added':
      text = t('change.added', { author, members: list(c.members) });
      break;
    case 'removed':
      text = t('change.removed', { author, members: list(c.members) });
      break;
    case 'left':
      text = t('change.left', { author });
      break;
    default:
      text = t('change.unsupported', { kind: c.wireKind });
  }
  return (
    <div className="change-line" role="note" data-message-id={m.id} data-change={c.kind} data-testid="change-line">
      <bdi>{text}</bdi>
    </div>
  );
}
