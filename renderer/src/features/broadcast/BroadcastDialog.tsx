// An office-wide announcement: one text to everyone visible now, sent as a direct message
// to each (so each has its own delivery state). Below, my broadcasts with who has them.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { LIMITS, type BroadcastInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { stateLabel } from '../conversation/MessageBubble.tsx';

export function BroadcastDialog(props: { store: AppStore; version: number; onClose: () => void }) {
  const { t, lang } = useI18n();
  const { store } = props;
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [sentId, setSentId] = useState<string | null>(null);

  useEffect(() => {
    void store.loadBroadcasts();
  }, [store]);

  // Who it would go to: the people I can see now (the core decides at sending time).
  const recipients = useMemo(
    () => [...store.peers.values()].filter((p) => p.presence !== 'offline').sort((a, b) => a.name.localeCompare(b.name)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [store, props.version],
  );
  const over = text.length - LIMITS.messageText;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (!body || over > 0) return;
    setBusy(true);
    const b = await store.broadcast(body);
    setBusy(false);
    if (b) {
      setText('');
      setSentId(b.id);
    }
  };

  const when = useMemo(() => new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }), [lang]);
  return (
    <Dialog title={t('broadcast.title')} closeLabel={t('broadcast.close')} onClose={props.onClose} className="broadcast-dialog">
      <form onSubmit={submit} className="form">
        <p className="muted small">{t('broadcast.lead')}</p>
        <label className="field">
          <span className="field-label">{t('broadcast.text')}</span>
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} dir="auto" data-testid="broadcast-text" aria-invalid={over > 0} />
        </label>
        <div className="broadcast-recipients" data-testid="broadcast-recipients">
          <span className="field-label">{t('broadcast.recipients', { count: recipients.length })}</span>
          {recipients.length === 0 ? (
            <p className="muted small">{t('broadcast.nobody')}</p>
          ) : (
            <ul role="list" className="chip-list">
              {recipients.map((p) => (
                <li key={p.id} className="chip">
                  <bdi>{p.name}</bdi>
                </li>
              ))}
            </ul>
          )}
        </div>
        {over > 0 ? <p className="form-error">{t('composer.tooLong', { count: over })}</p> : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !text.trim() || over > 0 || recipients.length === 0}>
            {t('broadcast.send')}
          </button>
        </div>
      </form>
      <h3>{t('broadcast.mine')}</h3>
      {store.broadcasts === null ? (
        <p className="muted small">{t('broadcast.loading')}</p>
      ) : store.broadcasts.length === 0 ? (
        <p className="muted small">{t('broadcast.none')}</p>
      ) : (
        <ul role="list" className="broadcast-list" data-testid="broadcast-list">
          {store.broadcasts.map((b) => (
            <BroadcastItem key={b.id} b={b} fresh={b.id === sentId} when={when.format(b.ts)} />
          ))}
        </ul>
      )}
    </Dialog>
  );
}

function BroadcastItem(props: { b: BroadcastInfo; fresh: boolean; when: string }) {
  const { t } = useI18n();
  const { b } = props;
  const delivered = b.recipients.filter((r) => r.state === 'delivered' || r.state === 'read').length;
  return (
    <li className={`broadcast-item${props.fresh ? ' fresh' : ''}`} data-broadcast-id={b.id}>
      <div className="broadcast-head">
        <time className="muted small">{props.when}</time>
        <span className="muted small" data-testid="broadcast-summary">
          {t('broadcast.delivered', { done: delivered, total: b.recipients.length })}
        </span>
      </div>
      <p className="broadcast-text" dir="auto">
        {b.text}
      </p>
      <ul role="list" className="broadcast-states">
        {b.recipients.map((r) => {
          const s = stateLabel({ state: r.state, overdue: false }, t);
          return (
            <li key={r.messageId} className={`broadcast-state state-${s.key}`} data-peer-id={r.peerId} data-state={r.state}>
              <bdi>{r.name}</bdi>
              <span className="muted small">{s.label}</span>
            </li>
          );
        })}
      </ul>
    </li>
  );
}
