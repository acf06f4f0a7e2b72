// Enter sends, Shift+Enter adds a line (and Enter while an IME is composing does neither).
// One draft per conversation, kept across switches and restarts. Typing tells the other
// side (TypingSignal decides how often); sending, clearing or leaving tells it we stopped.
// Above the text: the message being answered or edited (Escape lets go of it). Up in an
// empty composer edits my last message. In a group, "@" opens the member list. Files come
// from the attach button, a paste of images, or a drop on the conversation; the microphone
// records a voice message.
import { useEffect, useId, useLayoutEffect, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent } from 'react';
import { LIMITS, type PeerId } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { sendFiles, sendFolder } from '../files/send-files.ts';
import { VoiceRecorder } from '../files/VoiceRecorder.tsx';
import { insertMention, matchesMention, mentionQuery, mentionsInText } from './mentions.ts';
import { TypingSignal } from './typing-signal.ts';
import './rich.css';

export interface Member {
  id: PeerId;
  name: string;
}

const MAX_SUGGESTIONS = 8;

export function Composer(props: {
  store: AppStore;
  convId: string;
  peerName: string;
  /** In a group: the others, for @mentions. */
  members?: readonly Member[];
  nameOf?: (id: string) => string;
}) {
  const { t } = useI18n();
  const { store, convId } = props;
  const [text, setText] = useState(() => store.drafts.get(convId) ?? '');
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  const over = text.length - LIMITS.messageText;
  const typing = useRef<TypingSignal | null>(null);
  typing.current ??= new TypingSignal((on) => store.setTyping(convId, on));
  const replying = store.replying.get(convId);
  const editing = store.editing.get(convId);
  /** The draft put aside while a message is being edited. */
  const parked = useRef<string | null>(null);
  const picked = useRef<Member[]>([]);
  const [mention, setMention] = useState<{ start: number; query: string; index: number } | null>(null);
  const listId = useId();
  const uploading = store.uploading.get(convId) ?? [];

  const suggestions = mention && props.members ? props.members.filter((m) => matchesMention(m.name, mention.query)).slice(0, MAX_SUGGESTIONS) : [];
  const mentionOpen = suggestions.length > 0;

  useEffect(() => {
    const signal = typing.current!;
    // Closing the tab may not get the message out; then the peer's 6 s expiry covers it.
    const leave = () => signal.stop();
    window.addEventListener('pagehide', leave);
    return () => {
      window.removeEventListener('pagehide', leave);
      signal.stop();
    };
  }, []);

  // Edit mode: the message's text replaces the draft, which comes back when editing ends.
  const editingId = editing?.id ?? null;
  // Before paint, so the bar and the text appear together.
  useLayoutEffect(() => {
    if (editingId) {
      if (parked.current === null) parked.current = text;
      setText(store.editing.get(convId)?.text ?? '');
      requestAnimationFrame(() => {
        const el = ref.current;
        if (el) el.selectionStart = el.selectionEnd = el.value.length;
      });
    } else if (parked.current !== null) {
      setText(parked.current);
      parked.current = null;
    }
    // Only when the message being edited changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editingId]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  const update = (value: string) => {
    setText(value);
    // An edit is not a draft.
    if (!store.editing.has(convId)) store.setDraft(convId, value);
  };

  const lookForMention = (value: string, caret: number) => {
    if (!props.members) return;
    const q = mentionQuery(value, caret);
    setMention(q ? { ...q, index: 0 } : null);
  };

  const pick = (member: Member) => {
    const el = ref.current;
    if (!el || !mention) return;
    const next = insertMention(text, mention.start, el.selectionStart, member.name);
    if (!picked.current.some((p) => p.id === member.id)) picked.current.push(member);
    update(next.text);
    setMention(null);
    requestAnimationFrame(() => {
      el.focus();
      el.selectionStart = el.selectionEnd = next.caret;
    });
  };

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.replace(/\s+$/, '');
    if (!body.trim() || body.length > LIMITS.messageText) return;
    if (editing) {
      if (body !== editing.text && !(await store.act('editMessage', { messageId: editing.id, text: body }))) return;
      store.setEditing(convId, null);
      ref.current?.focus();
      return;
    }
    const mentions = props.members ? mentionsInText(body, picked.current) : [];
    update('');
    setMention(null);
    typing.current?.stop();
    const replyTo = replying?.id;
    const ok = await store.send(convId, body, { ...(replyTo ? { replyTo } : {}), ...(mentions.length ? { mentions } : {}) });
    if (ok) {
      picked.current = [];
      if (replyTo && store.replying.get(convId)?.id === replyTo) store.setReplying(convId, null);
    } else update(body);
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing || e.keyCode === 229) return;
    if (mentionOpen && mention) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = suggestions.length;
        setMention({ ...mention, index: (mention.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick(suggestions[Math.min(mention.index, suggestions.length - 1)]!);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setMention(null);
        return;
      }
    }
    if (e.key === 'Escape' && (editing || replying)) {
      e.preventDefault();
      if (editing) store.setEditing(convId, null);
      else store.setReplying(convId, null);
      return;
    }
    if (e.key === 'ArrowUp' && !text && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      const last = store.lastEditable(convId);
      if (last) {
        e.preventDefault();
        store.setEditing(convId, last);
      }
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void submit();
    }
  };

  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = [...e.clipboardData.files].filter((f) => f.type.startsWith('image/'));
    if (files.length === 0) return;
    e.preventDefault();
    void sendFiles(store, convId, files, replying?.id);
  };

  const quoted = editing ?? replying;
  const nameOf = props.nameOf ?? ((id: string) => (id === store.self?.id ? t('conv.you') : (store.peers.get(id)?.name ?? id.slice(0, 7))));
  const activeId = mentionOpen && mention ? `${listId}-${Math.min(mention.index, suggestions.length - 1)}` : undefined;

  return (
    <form className="composer" onSubmit={submit}>
      {quoted ? (
        <div className={`composer-context ${editing ? 'editing' : 'replying'}`} data-testid={editing ? 'editing-bar' : 'reply-bar'}>
          <Icon name={editing ? 'edit' : 'reply'} />
          <div className="composer-context-text">
            <span className="composer-context-title">{editing ? t('composer.editing') : <Sentence template={t('composer.replyingTo', { name: '\u0000' })} name={nameOf(quoted.author)} />}</span>
            <bdi className="composer-context-excerpt">{quoted.text ? quoted.text.slice(0, LIMITS.replyExcerpt) : (quoted.attachment?.name ?? '')}</bdi>
          </div>
          <button
            type="button"
            className="icon-button small"
            onClick={() => (editing ? store.setEditing(convId, null) : store.setReplying(convId, null))}
            aria-label={editing ? t('composer.cancelEdit') : t('composer.cancelReply')}
            title={editing ? t('composer.cancelEdit') : t('composer.cancelReply')}
          >
            <Icon name="close" />
          </button>
        </div>
      ) : null}
      <div className="composer-row">
        <button type="button" className="icon-button composer-tool" onClick={() => fileRef.current?.click()} aria-label={t('composer.attach')} title={t('composer.attach')} disabled={!!editing}>
          <Icon name="paperclip" />
        </button>
        <input
          ref={fileRef}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void sendFiles(store, convId, files, replying?.id);
          }}
        />
        <button
          type="button"
          className="icon-button composer-tool"
          onClick={() => folderRef.current?.click()}
          aria-label={t('composer.sendFolder')}
          title={t('composer.sendFolder')}
          disabled={!!editing}
          data-testid="send-folder"
        >
          <Icon name="folder" />
        </button>
        <input
          ref={(el) => {
            folderRef.current = el;
            // Not in React's attribute list; the folder chooser of Chromium (and so Electron) and of other browsers.
            if (el) el.webkitdirectory = true;
          }}
          type="file"
          hidden
          data-testid="folder-input"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void sendFolder(store, convId, files, t);
          }}
        />
        <div className="composer-input">
          <textarea
            ref={ref}
            rows={1}
            value={text}
            onChange={(e) => {
              update(e.target.value);
              if (!store.editing.has(convId)) typing.current?.input(e.target.value);
              lookForMention(e.target.value, e.target.selectionStart);
            }}
            onSelect={(e) => {
              if (mention) lookForMention(e.currentTarget.value, e.currentTarget.selectionStart);
            }}
            onBlur={() => setMention(null)}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
            placeholder={t('composer.placeholder', { name: props.peerName })}
            aria-label={t('composer.label')}
            aria-describedby="composer-hint"
            aria-invalid={over > 0}
            aria-autocomplete={props.members ? 'list' : undefined}
            aria-controls={mentionOpen ? listId : undefined}
            aria-expanded={props.members ? mentionOpen : undefined}
            aria-activedescendant={activeId}
            role={props.members ? 'combobox' : undefined}
            dir="auto"
            autoFocus
            data-testid="composer"
          />
          {mentionOpen && mention ? (
            <ul id={listId} role="listbox" className="mention-list" aria-label={t('composer.mentionList')} data-testid="mention-list">
              {suggestions.map((m, i) => (
                <li
                  key={m.id}
                  id={`${listId}-${i}`}
                  role="option"
                  aria-selected={i === mention.index}
                  className={i === mention.index ? 'active' : undefined}
                  // Before the textarea's blur closes the list.
                  onMouseDown={(e) => {
                    e.preventDefault();
                    pick(m);
                  }}
                >
                  <bdi>{m.name}</bdi>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        <VoiceRecorder store={store} convId={convId} disabled={!!editing} />
        <button type="submit" className="send-button" aria-label={editing ? t('composer.save') : t('composer.send')} title={editing ? t('composer.save') : t('composer.send')} disabled={!text.trim() || over > 0}>
          <Icon name={editing ? 'check' : 'send'} />
        </button>
      </div>
      <span id="composer-hint" className={`composer-hint${over > 0 ? ' error' : ''}`}>
        {over > 0
          ? t('composer.tooLong', { count: over })
          : uploading.length
            ? t('composer.uploading', { name: uploading.join(', ') })
            : editing
              ? t('composer.editHint')
              : t('composer.hint')}
      </span>
    </form>
  );
}

/** A sentence around one peer-supplied name, which sits in a <bdi> (the name stays text). */
function Sentence(props: { template: string; name: string }) {
  const at = props.template.indexOf('\u0000');
  if (at < 0) return <>{props.template}</>;
  return (
    <>
      {props.template.slice(0, at)}
      <bdi>{props.name}</bdi>
      {props.template.slice(at + 1)}
    </>
  );
}
