// A peer's details: who it is (full ID with check characters), how we reach it, and the verify
// flow: both IDs side by side, compared out of band, then marked verified.
import { Fragment, useEffect, useId, useRef } from 'react';
import type { PeerInfo, SelfInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Dialog, Icon } from '../../ui/Dialog.tsx';
import { AutoAcceptForPeer } from '../files/AutoAccept.tsx';
import { KeyChangeWarning, setVerified, useRich, VerifiedBadge } from './Trust.tsx';

/** The display form (ABCDEFG-HIJKLMN-…) with each group in its own box, easier to read aloud; the text stays the same. */
function GroupedId(props: { value: string; testId: string }) {
  return (
    <code className="mono selectable display-id grouped-id" data-testid={props.testId}>
      {props.value.split('-').map((g, i) => (
        <Fragment key={i}>
          {i > 0 ? <span className="id-dash">-</span> : null}
          <span className="id-group">{g}</span>
        </Fragment>
      ))}
    </code>
  );
}

export function PeerDetailsDialog(props: { store: AppStore; peer: PeerInfo; self: SelfInfo; focus?: 'verify' | undefined; onClose: () => void }) {
  const { t, lang } = useI18n();
  const rich = useRich();
  const p = props.peer;
  const verifyRef = useRef<HTMLElement>(null);
  const verifyTitle = useId();
  const lastSeen = p.lastSeen ? new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(p.lastSeen) : t('details.never');

  const toVerify = () => {
    verifyRef.current?.scrollIntoView({ block: 'nearest' });
    verifyRef.current?.querySelector<HTMLButtonElement>('button[data-action=verify]')?.focus();
  };
  // Opened from "Verify new ID": start at the comparison, not at the top.
  useEffect(() => {
    if (props.focus === 'verify') toVerify();
    // Only when the dialog opens.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <Dialog title={t('details.title')} closeLabel={t('details.close')} onClose={props.onClose} className="details-dialog">
      <div className="details-head">
        <Avatar id={p.id} name={p.name} presence={p.presence} size="lg" />
        <div>
          <bdi className="details-name">{p.name}</bdi>
          {p.verified ? <VerifiedBadge /> : null}
          <div className="muted">
            {t(`presence.${p.presence}`)}
            {p.link ? ` · ${t(`link.${p.link}`)}` : ''}
          </div>
        </div>
      </div>
      <KeyChangeWarning store={props.store} peer={p} variant="card" onVerify={toVerify} />
      {p.warning ? (
        <p className="warning" role="alert">
          <Icon name="warning" /> <strong>{t('details.warning')}:</strong> <bdi>{p.warning}</bdi>
        </p>
      ) : null}
      <dl className="details-list">
        {p.statusText ? (
          <>
            <dt>{t('details.status')}</dt>
            <dd>
              <bdi>{p.statusText}</bdi>
            </dd>
          </>
        ) : null}
        <dt>{t('details.connection')}</dt>
        <dd>{p.link ? t(`link.${p.link}`) : t('details.notConnected')}</dd>
        <dt>{t('details.addresses')}</dt>
        <dd>{p.addresses.length ? p.addresses.map((a) => <div key={a} className="mono">{a}</div>) : '—'}</dd>
        <dt>{t('details.lastSeen')}</dt>
        <dd>{p.presence !== 'offline' ? t('presence.online') : lastSeen}</dd>
      </dl>
      <AutoAcceptForPeer store={props.store} peer={p} />
      <section className={`verify${p.verified ? ' is-verified' : ''}`} ref={verifyRef} aria-labelledby={verifyTitle} data-testid="verify-section">
        <h3 id={verifyTitle}>{t('verify.title')}</h3>
        <p className="field-help">{rich('verify.lead', { name: p.name })}</p>
        <div className="id-compare">
          <div className="id-compare-row">
            <span className="field-label">{rich('verify.theirId', { name: p.name })}</span>
            <GroupedId value={p.displayId} testId="peer-display-id" />
          </div>
          <div className="id-compare-row">
            <span className="field-label">{t('verify.myId')}</span>
            <GroupedId value={props.self.displayId} testId="my-display-id" />
          </div>
        </div>
        <p className="field-help">{rich('verify.how', { name: p.name })}</p>
        <div className="verify-state" aria-live="polite">
          {p.verified ? (
            <p>
              <VerifiedBadge />
              <span>{rich('verify.isVerified', { name: p.name })}</span>
            </p>
          ) : (
            <p className="muted">{t('verify.notVerified')}</p>
          )}
        </div>
        <div className="actions">
          {p.verified ? (
            <button type="button" onClick={() => void setVerified(props.store, p, false)}>
              {t('verify.unmark')}
            </button>
          ) : null}
          {/* A verified peer that has since taken another contact's name is asked to be confirmed again. */}
          {!p.verified || p.keyChange ? (
            <button type="button" className="primary" data-action="verify" onClick={() => void setVerified(props.store, p, true)}>
              {t('verify.mark')}
            </button>
          ) : null}
        </div>
      </section>
    </Dialog>
  );
}
