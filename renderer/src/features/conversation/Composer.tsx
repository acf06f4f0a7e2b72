// Enter sends, Shift+Enter adds a line (and Enter while an IME is composing does neither).
// One draft per conversation, kept across switches and restarts. Typing tells the other
// side (TypingSignal decides how often); sending, clearing or leaving tells it we stopped.
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { LIMITS } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { TypingSignal } from './typing-signal.ts';

export function Composer(props: { store: AppStore; convId: string; peerName: string }) {
  const { t } = useI18n();
  const { store, convId } = props;
  const [text, setText] = useState(() => store.drafts.get(convId) ?? '');
  const ref = useRef<HTMLTextAreaElement>(null);
  const over = text.length - LIMITS.messageText;
  const typing = useRef<TypingSignal | null>(null);
  typing.current ??= new TypingSignal((on) => store.setTyping(convId, on));

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

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  const update = (value: string) => {
    setText(value);
    store.setDraft(convId, value);
  };

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.replace(/\s+$/, '');
    if (!body.trim() || body.length > LIMITS.messageText) return;
    update('');
    typing.current?.stop();
    if (!(await store.send(convId, body))) update(body);
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      void submit();
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      <textarea
        ref={ref}
        rows={1}
        value={text}
        onChange={(e) => {
          update(e.target.value);
          typing.current?.input(e.target.value);
        }}
        onKeyDown={onKeyDown}
        placeholder={t('composer.placeholder', { name: props.peerName })}
        aria-label={t('composer.label')}
        aria-describedby="composer-hint"
        aria-invalid={over > 0}
        dir="auto"
        autoFocus
        data-testid="composer"
      />
      <button type="submit" className="send-button" aria-label={t('composer.send')} title={t('composer.send')} disabled={!text.trim() || over > 0}>
        <Icon name="send" />
      </button>
      <span id="composer-hint" className={`composer-hint${over > 0 ? ' error' : ''}`}>
        {over > 0 ? t('composer.tooLong', { count: over }) : t('composer.hint')}
      </span>
    </form>
  );
}
