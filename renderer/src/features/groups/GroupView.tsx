// A group conversation: its name and member count in the header (the members, rename, add,
// remove and leave are in the details dialog), authors named above their bubbles, membership
// changes as centred lines.
import { useCallback, useMemo, useState } from 'react';
import type { GroupConversationInfo } from '../../../../main/contract/contract.ts';
import type { AppStore, ConvView } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { Composer } from '../conversation/Composer.tsx';
import { MessageList } from '../conversation/MessageList.tsx';
import { TypingIndicator } from '../conversation/TypingIndicator.tsx';
import { useFileDrop } from '../files/useFileDrop.ts';
import { GroupDetailsDialog } from './GroupDetailsDialog.tsx';
import './groups.css';

/** A member's name: as this node knows the peer, else as the group has it, else a short ID. */
export function useNameOf(store: AppStore, info: GroupConversationInfo): (id: string) => string {
  const { t } = useI18n();
  return useCallback(
    (id: string) => {
      if (id === store.self?.id) return t('conv.you');
      return store.peers.get(id)?.name ?? info.group.members.find((m) => m.id === id)?.name ?? id.slice(0, 7);
    },
    [store, info, t],
  );
}

export function GroupView(props: { store: AppStore; conv: ConvView; version: number }) {
  const { t } = useI18n();
  const { store, conv } = props;
  const info = conv.info as GroupConversationInfo;
  const name = info.group.name;
  const nameOf = useNameOf(store, info);
  const [details, setDetails] = useState(false);
  const drop = useFileDrop(store, info.id, info.group.isMember);
  // Everyone but me, for @mentions.
  const members = useMemo(() => info.group.members.filter((m) => m.id !== store.self?.id).map((m) => ({ id: m.id, name: nameOf(m.id) })), [info, nameOf, store]);
  return (
    <section className={`conversation group-conversation${drop.over ? ' drop-target' : ''}`} aria-label={name} {...drop.handlers}>
      <header className="conv-header">
        <Avatar id={info.group.id} name={name} />
        <div className="conv-title">
          <h2>
            <bdi data-testid="group-name">{name}</bdi>
          </h2>
          <div className="conv-subtitle" data-testid="group-member-count">
            {t('groups.memberCount', { count: info.group.members.length })}
          </div>
        </div>
        <button type="button" className="icon-button" onClick={() => setDetails(true)} aria-label={t('groups.detailsOpen', { name })} title={t('groups.detailsTitle')}>
          <Icon name="info" />
        </button>
      </header>
      {!info.group.isMember ? (
        <p className="warning banner" role="status" data-testid="not-member">
          {t('groups.notMember')}
        </p>
      ) : null}
      {drop.over ? (
        <div className="drop-hint" aria-hidden="true">
          {t('file.dropHere')}
        </div>
      ) : null}
      {conv.messages ? (
        <MessageList
          key={`list-${info.id}-${conv.window}`}
          store={store}
          conv={conv}
          peerName={name}
          label={t('groups.messages', { name })}
          nameOf={nameOf}
          version={props.version}
          canCompose={info.group.isMember}
        />
      ) : (
        <div className="message-list-wrap" aria-busy="true" />
      )}
      <TypingIndicator names={store.typingIn(info.id).map(nameOf)} />
      {info.group.isMember ? <Composer key={`composer-${info.id}`} store={store} convId={info.id} peerName={name} members={members} nameOf={nameOf} /> : null}
      {details ? <GroupDetailsDialog store={store} info={info} nameOf={nameOf} onClose={() => setDetails(false)} /> : null}
    </section>
  );
}
