import type { PeerInfo } from '../../../../main/contract/contract.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Dialog, Icon } from '../../ui/Dialog.tsx';

export function PeerDetailsDialog(props: { peer: PeerInfo; onClose: () => void }) {
  const { t, lang } = useI18n();
  const p = props.peer;
  const lastSeen = p.lastSeen ? new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(p.lastSeen) : t('details.never');
  return (
    <Dialog title={t('details.title')} closeLabel={t('details.close')} onClose={props.onClose} className="details-dialog">
      <div className="details-head">
        <Avatar id={p.id} name={p.name} presence={p.presence} size="lg" />
        <div>
          <bdi className="details-name">{p.name}</bdi>
          <div className="muted">
            {t(`presence.${p.presence}`)}
            {p.link ? ` · ${t(`link.${p.link}`)}` : ''}
          </div>
        </div>
      </div>
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
        <dt>{t('details.id')}</dt>
        <dd>
          <code className="mono selectable display-id" data-testid="peer-display-id">
            {p.displayId}
          </code>
          <p className="field-help">{t('details.idHelp')}</p>
        </dd>
        <dt>{t('details.connection')}</dt>
        <dd>{p.link ? t(`link.${p.link}`) : t('details.notConnected')}</dd>
        <dt>{t('details.addresses')}</dt>
        <dd>{p.addresses.length ? p.addresses.map((a) => <div key={a} className="mono">{a}</div>) : '—'}</dd>
        <dt>{t('details.lastSeen')}</dt>
        <dd>{p.presence !== 'offline' ? t('presence.online') : lastSeen}</dd>
      </dl>
    </Dialog>
  );
}
