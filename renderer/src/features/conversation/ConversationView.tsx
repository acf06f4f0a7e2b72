import type { PeerInfo } from '../../../../main/contract/contract.ts';
import type { AppStore, ConvView } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { useFileDrop } from '../files/useFileDrop.ts';
import { KeyChangeWarning, VerifiedBadge } from '../people/Trust.tsx';
import { Composer } from './Composer.tsx';
import { MessageList } from './MessageList.tsx';
import { TypingIndicator } from './TypingIndicator.tsx';

export function ConversationView(props: { store: AppStore; peer: PeerInfo; conv: ConvView | undefined; version: number; onDetails: () => void; onVerify: () => void }) {
  const { t } = useI18n();
  const { peer, conv } = props;
  const drop = useFileDrop(props.store, conv?.info.id ?? null);
  return (
    <section className={`conversation${drop.over ? ' drop-target' : ''}`} aria-label={peer.name} {...drop.handlers}>
      <header className="conv-header">
        <Avatar id={peer.id} name={peer.name} presence={peer.presence} />
        <div className="conv-title">
          <h2>
            <bdi>{peer.name}</bdi>
            {peer.verified && !peer.keyChange ? <VerifiedBadge compact /> : null}
          </h2>
          <div className="conv-subtitle">
            <span>{t(`presence.${peer.presence}`)}</span>
            {peer.link ? <span> · {t(`link.${peer.link}`)}</span> : null}
            {peer.statusText ? (
              <>
                <span> · </span>
                <bdi className="conv-status">{peer.statusText}</bdi>
              </>
            ) : null}
          </div>
        </div>
        {conv ? <MuteToggle store={props.store} convId={conv.info.id} name={peer.name} /> : null}
        <button type="button" className="icon-button" onClick={props.onDetails} aria-label={t('conv.details', { name: peer.name })} title={t('details.title')}>
          <Icon name="info" />
        </button>
      </header>
      <KeyChangeWarning store={props.store} peer={peer} variant="banner" onVerify={props.onVerify} />
      {peer.warning ? (
        <p className="warning banner" role="alert">
          <Icon name="warning" /> <bdi>{peer.warning}</bdi>
        </p>
      ) : null}
      {drop.over ? (
        <div className="drop-hint" aria-hidden="true">
          {t('file.dropHere')}
        </div>
      ) : null}
      {conv?.messages ? (
        // Keyed by the loaded window too: a jump that replaces it starts the list afresh.
        <MessageList key={`list-${conv.info.id}-${conv.window}`} store={props.store} conv={conv} peerName={peer.name} version={props.version} />
      ) : (
        <div className="message-list-wrap" aria-busy="true" />
      )}
      <TypingIndicator names={conv ? props.store.typingIn(conv.info.id).map((id) => (id === peer.id ? peer.name : (props.store.peers.get(id)?.name ?? id.slice(0, 7)))) : []} />
      {conv ? <Composer key={`composer-${conv.info.id}`} store={props.store} convId={conv.info.id} peerName={peer.name} /> : null}
    </section>
  );
}

/** Notifications for this conversation on or off (the core's settings; the shell obeys them). */
function MuteToggle(props: { store: AppStore; convId: string; name: string }) {
  const { t } = useI18n();
  const muted = props.store.isMuted(props.convId);
  // A toggle keeps its name; aria-pressed says which way it is.
  return (
    <button
      type="button"
      className={`icon-button mute-toggle${muted ? ' is-muted' : ''}`}
      aria-pressed={muted}
      aria-label={t('conv.mute', { name: props.name })}
      title={t(muted ? 'conv.unmute' : 'conv.mute', { name: props.name })}
      disabled={!props.store.settings}
      onClick={() => void props.store.setMuted(props.convId, !muted)}
    >
      <Icon name={muted ? 'bell-off' : 'bell'} />
    </button>
  );
}
