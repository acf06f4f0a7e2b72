// The sidebar's "Groups" section, above the people: one row per group conversation, newest
// activity first, with its unread badge and last message.
import { useMemo } from 'react';
import type { GroupConversationInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { previewText } from '../conversation/MessageBubble.tsx';
import './groups.css';

export function GroupList(props: { store: AppStore; version: number; filter: string; onSelect: (convId: string) => void }) {
  const { t } = useI18n();
  const { store, filter } = props;
  const rows = useMemo(() => {
    const q = filter.trim().toLocaleLowerCase();
    return store
      .groupConvs()
      .map((c) => c.info as GroupConversationInfo)
      .filter((info) => !q || info.group.name.toLocaleLowerCase().includes(q))
      .sort((a, b) => (b.lastMessage?.ts ?? 0) - (a.lastMessage?.ts ?? 0));
    // `version` changes whenever the store does.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, props.version, filter]);
  if (rows.length === 0) return null;
  const preview = (info: GroupConversationInfo): string => {
    const last = info.lastMessage;
    if (!last || last.change) return t('groups.memberCount', { count: info.group.members.length });
    const who = last.mine ? t('conv.you') : (store.peers.get(last.author)?.name ?? info.group.members.find((m) => m.id === last.author)?.name ?? last.author.slice(0, 7));
    // One line of preview is all that shows.
    return `${who}: ${previewText(last, t)}`.slice(0, 200);
  };
  return (
    <section className="people-group" aria-labelledby="people-groups" data-group="groups">
      <h3 id="people-groups" className="group-title" aria-label={t('people.groupLabel', { group: t('groups.title'), count: rows.length })}>
        {t('groups.title')} <span className="group-count">{rows.length}</span>
      </h3>
      <ul role="list">
        {rows.map((info) => {
          const selected = store.selectedGroupId === info.id;
          return (
            <li key={info.id}>
              <button
                type="button"
                className={`person group-row${selected ? ' selected' : ''}${info.unread ? ' has-unread' : ''}${info.group.isMember ? '' : ' not-member'}`}
                aria-current={selected ? 'true' : undefined}
                onClick={() => props.onSelect(info.id)}
                data-conv-id={info.id}
              >
                <Avatar id={info.group.id} name={info.group.name} />
                <span className="person-text">
                  <span className="person-name-line">
                    <bdi className="person-name">{info.group.name}</bdi>
                  </span>
                  <bdi className="person-preview">{preview(info)}</bdi>
                </span>
                {info.unread > 0 ? (
                  <span className="badge" aria-label={t('people.unread', { count: info.unread })}>
                    {info.unread > 99 ? '99+' : info.unread}
                  </span>
                ) : null}
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
