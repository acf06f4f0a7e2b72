import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { MessageInfo } from '../../../../main/contract/contract.ts';
import { canChange } from '../../app/message-rules.ts';
import { useI18n, type TFunction } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { Attachment, type FileAction } from '../files/Attachment.tsx';
import { linkify } from './linkify.ts';
import { splitMentions } from './mentions.ts';

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

/** One line for the sidebar: the text, or what a file or a deleted message is. */
export function previewText(m: MessageInfo, t: TFunction): string {
  if (m.deleted) return t('msg.deleted');
  if (m.text) return m.text;
  if (m.attachment) return m.attachment.kind === 'voice' ? t('file.voice') : `📎 ${m.attachment.name}`;
  return '';
}

/** `hint`, when given, is the tooltip: a longer explanation than the label. */
export function stateLabel(m: Pick<MessageInfo, 'state' | 'overdue'>, t: TFunction): { key: string; label: string; icon: string; hint?: string } {
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

/** What the person can do to a message from its toolbar, its reactions and its attachment. */
export type BubbleAction = 'reply' | 'edit' | 'delete' | 'react' | 'jumpReply' | FileAction;

/** A few common reactions; any emoji already on a message is one click away as its chip. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉', '👀', '🙏'];

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
  /** Names for reply authors and reactions (peer-supplied: text only); "You" for me. */
  nameOf: (id: string) => string;
  /** Names as "@Name" is written: my own name for me, as the sender typed it. */
  mentionNameOf: (id: string) => string;
  /** Reply, react, edit and delete; absent where the conversation takes nothing new. */
  onAction?: (action: BubbleAction, m: MessageInfo, reaction?: { emoji: string; on: boolean }) => void;
  /** The desktop shell can show a received file in its folder. */
  desktop: boolean;
  /** False where nothing new can be said (a group I left): no reply, react, edit or delete. */
  canCompose: boolean;
  /** A later file of a folder offered just above: its Accept/Decline are on the first file. */
  folderFollower?: boolean;
}) {
  const { t } = useI18n();
  const { m, nameOf, onAction } = props;
  const state = m.mine ? stateLabel(m, t) : null;
  const stuck = state?.key === 'overdue';
  const [picking, setPicking] = useState(false);
  const pickerRef = useRef<HTMLDivElement>(null);
  const reactRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (picking) pickerRef.current?.querySelector<HTMLButtonElement>('button')?.focus();
  }, [picking]);
  const mentionNameOf = props.mentionNameOf;
  const mentioned = useMemo(() => (m.mentions ?? []).map((id) => ({ id, name: mentionNameOf(id) })), [m.mentions, mentionNameOf]);
  const reactions = m.reactions ?? [];
  const canAct = onAction && props.canCompose && !m.deleted && m.state !== 'canceled' && m.state !== 'rejected';
  const canDelete = m.mine && canChange(m);
  const canEdit = canDelete && m.text.length > 0;
  const react = (emoji: string, on: boolean) => {
    setPicking(false);
    onAction?.('react', m, { emoji, on });
  };
  return (
    <div
      className={`msg-row ${m.mine ? 'mine' : 'theirs'}${props.groupStart ? ' group-start' : ''}${props.highlighted ? ' highlighted' : ''}${m.mentionsMe ? ' mentions-me' : ''}${m.deleted ? ' deleted' : ''}`}
      data-message-id={m.id}
      data-state={state?.key}
    >
      {props.author !== undefined ? (
        <bdi className="msg-author" data-testid="msg-author">
          {props.author}
        </bdi>
      ) : null}
      <div className="bubble-line">
        <div className={`bubble${m.state === 'canceled' ? ' canceled' : ''}${m.attachment && !m.deleted ? ' has-attachment' : ''}`} tabIndex={-1}>
          {m.broadcast && !m.deleted ? (
            <span className="broadcast-badge" data-testid="broadcast-badge">
              <Icon name="megaphone" />
              {t('broadcast.badge')}
            </span>
          ) : null}
          {m.replyTo && !m.deleted ? (
            <button
              type="button"
              className="reply-quote"
              onClick={() => onAction?.('jumpReply', m)}
              aria-label={t('reply.jump', { name: m.replyTo.author ? nameOf(m.replyTo.author) : t('reply.unknown') })}
              data-testid="reply-quote"
            >
              <bdi className="reply-author">{m.replyTo.author ? nameOf(m.replyTo.author) : t('reply.unknown')}</bdi>
              <bdi className="reply-excerpt">{m.replyTo.deleted ? t('msg.deleted') : m.replyTo.excerpt}</bdi>
            </button>
          ) : null}
          {m.deleted ? (
            <p className="msg-text msg-deleted" data-testid="msg-deleted">
              {t('msg.deleted')}
            </p>
          ) : (
            <>
              {m.attachment ? <Attachment m={m} desktop={props.desktop} folderFollower={props.folderFollower ?? false} onAction={(a) => onAction?.(a, m)} /> : null}
              {m.text ? (
                <p className="msg-text" dir="auto">
                  <RichText text={m.text} mentioned={mentioned} />
                </p>
              ) : null}
            </>
          )}
          <span className="msg-meta">
            {m.editedAt && !m.deleted ? (
              <span className="msg-edited" title={t('msg.editedAt', { time: props.fullFormat.format(m.editedAt) })} data-testid="msg-edited">
                {t('msg.edited')}
              </span>
            ) : null}
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
        {canAct ? (
          <div
            className={`msg-toolbar${picking ? ' open' : ''}`}
            role="toolbar"
            aria-label={t('msg.actions')}
            onBlur={(e) => {
              // The picker closes when focus leaves the toolbar (a click elsewhere, Tab away).
              if (picking && !e.currentTarget.contains(e.relatedTarget as Node | null)) setPicking(false);
            }}
          >
            <button
              type="button"
              ref={reactRef}
              className="icon-button small"
              onClick={() => setPicking((p) => !p)}
              aria-label={t('msg.react')}
              title={t('msg.react')}
              aria-expanded={picking}
            >
              <Icon name="smile" />
            </button>
            <button type="button" className="icon-button small" onClick={() => onAction('reply', m)} aria-label={t('msg.reply')} title={t('msg.reply')}>
              <Icon name="reply" />
            </button>
            {canEdit ? (
              <button type="button" className="icon-button small" onClick={() => onAction('edit', m)} aria-label={t('msg.edit')} title={t('msg.edit')}>
                <Icon name="edit" />
              </button>
            ) : null}
            {canDelete ? (
              <button type="button" className="icon-button small" onClick={() => onAction('delete', m)} aria-label={t('msg.delete')} title={t('msg.delete')}>
                <Icon name="trash" />
              </button>
            ) : null}
            {picking ? (
              <div
                className="reaction-picker"
                ref={pickerRef}
                role="group"
                aria-label={t('msg.react')}
                onKeyDown={(e) => {
                  if (e.key === 'Escape') {
                    e.stopPropagation();
                    setPicking(false);
                    reactRef.current?.focus();
                  }
                }}
              >
                {QUICK_REACTIONS.map((emoji) => {
                  const mine = reactions.some((r) => r.emoji === emoji && r.mine);
                  return (
                    <button key={emoji} type="button" className="emoji-button" onClick={() => react(emoji, !mine)} aria-pressed={mine} aria-label={t('msg.reactWith', { emoji })}>
                      {emoji}
                    </button>
                  );
                })}
              </div>
            ) : null}
          </div>
        ) : null}
      </div>
      {reactions.length && !m.deleted ? (
        <div className="reactions" data-testid="reactions">
          {reactions.map((r) => {
            const who = r.by.map(nameOf).join(', ');
            return (
              <button
                key={r.emoji}
                type="button"
                className={`reaction-chip${r.mine ? ' mine' : ''}`}
                aria-pressed={r.mine}
                title={who}
                aria-label={t('msg.reactionLabel', { emoji: r.emoji, count: r.by.length, names: who })}
                disabled={!onAction || !props.canCompose}
                onClick={() => react(r.emoji, !r.mine)}
                data-emoji={r.emoji}
              >
                <span className="reaction-emoji">{r.emoji}</span>
                <span className="reaction-count">{r.by.length}</span>
              </button>
            );
          })}
        </div>
      ) : null}
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

/** Message text with the mentioned names highlighted; still text only (mentions are spans). */
export function RichText(props: { text: string; mentioned: ReadonlyArray<{ id: string; name: string }> }) {
  const parts = useMemo(() => splitMentions(props.text, props.mentioned), [props.text, props.mentioned]);
  if (parts.length === 1 && parts[0]!.kind === 'text') return <MessageText text={props.text} />;
  return (
    <>
      {parts.map((p, i) =>
        p.kind === 'mention' ? (
          <span key={i} className="mention" data-peer-id={p.id} data-testid="mention">
            {p.text}
          </span>
        ) : (
          <MessageText key={i} text={p.text} />
        ),
      )}
    </>
  );
}

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
