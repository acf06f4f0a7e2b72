import type { PeerInfo } from '../../../../main/contract/contract.ts';
import type { AppStore, ConvView } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { Composer } from './Composer.tsx';
import { MessageList } from './MessageList.tsx';
import { TypingIndicator } from './TypingIndicator.tsx';

export function ConversationView(props: { store: AppStore; peer: PeerInfo; conv: ConvView | undefined; version: number; onDetails: () => void }) {
  const { t } = useI18n();
  const { peer, conv } = props;
  return (
    <section className="conversation" aria-label={peer.name}>
      <header className="conv-header">
        <Avatar id={peer.id} name={peer.name} presence={peer.presence} />
        <div className="conv-title">
          <h2>
            <bdi>{peer.name}</bdi>
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
        <button type="button" className="icon-button" onClick={props.onDetails} aria-label={t('conv.details', { name: peer.name })} title={t('details.title')}>
          <Icon name="info" />
        </button>
      </header>
      {peer.warning ? (
        <p className="warning banner" role="alert">
          <Icon name="warning" /> <bdi>{peer.warning}</bdi>
        </p>
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
