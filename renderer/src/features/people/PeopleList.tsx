// The sidebar list: people grouped online/offline, filter-as-you-type, unread badges.
// Arrow keys move between people; Enter opens the conversation.
import { useMemo, useRef, type KeyboardEvent } from 'react';
import type { PeerId, PeerInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';

export interface PersonRow {
  peer: PeerInfo;
  unread: number;
  preview: string;
  typing: boolean;
}

export function matchesFilter(peer: PeerInfo, query: string): boolean {
  const q = query.trim().toLocaleLowerCase();
  if (!q) return true;
  const compactQ = q.replace(/[\s-]/g, '');
  return (
    peer.name.toLocaleLowerCase().includes(q) ||
    peer.statusText.toLocaleLowerCase().includes(q) ||
    (compactQ.length >= 4 && peer.id.toLocaleLowerCase().startsWith(compactQ))
  );
}

export function PeopleList(props: { store: AppStore; version: number; filter: string; onSelect: (id: PeerId) => void }) {
  const { t } = useI18n();
  const { store, filter } = props;
  const listRef = useRef<HTMLDivElement>(null);

  const { online, offline, total } = useMemo(() => {
    const rows: PersonRow[] = [];
    for (const peer of store.peers.values()) {
      if (!matchesFilter(peer, filter)) continue;
      const conv = store.convForPeer(peer.id);
      const last = conv?.info.lastMessage;
      const preview = peer.statusText || (last ? (last.mine ? `${t('conv.you')}: ${last.text}` : last.text) : '');
      // One line of preview is all that shows; don't hand the layout 16,000 characters.
      rows.push({ peer, unread: conv?.info.unread ?? 0, preview: preview.slice(0, 200), typing: store.isTyping(peer.id) });
    }
    const byName = (a: PersonRow, b: PersonRow) => a.peer.name.localeCompare(b.peer.name) || a.peer.id.localeCompare(b.peer.id);
    return {
      online: rows.filter((r) => r.peer.presence !== 'offline').sort(byName),
      offline: rows.filter((r) => r.peer.presence === 'offline').sort(byName),
      total: store.peers.size,
    };
    // `version` changes whenever the store does.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, props.version, filter, t]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const items = [...(listRef.current?.querySelectorAll<HTMLButtonElement>('button.person') ?? [])];
    if (items.length === 0) return;
    e.preventDefault();
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1 : e.key === 'ArrowDown' ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
    items[next]?.focus();
  };

  const group = (label: string, rows: PersonRow[], id: string) =>
    rows.length === 0 ? null : (
      <section className="people-group" aria-labelledby={id}>
        <h3 id={id} className="group-title">
          {label} <span className="group-count">{rows.length}</span>
        </h3>
        <ul role="list">
          {rows.map(({ peer, unread, preview, typing }) => {
            const selected = store.selectedPeerId === peer.id;
            return (
              <li key={peer.id}>
                <button
                  type="button"
                  className={`person${selected ? ' selected' : ''}${unread ? ' has-unread' : ''}`}
                  aria-current={selected ? 'true' : undefined}
                  onClick={() => props.onSelect(peer.id)}
                  data-peer-id={peer.id}
                >
                  <Avatar id={peer.id} name={peer.name} presence={peer.presence} />
                  <span className="person-text">
                    <bdi className="person-name">{peer.name}</bdi>
                    {typing ? (
                      <span className="person-preview typing">{t('people.typing')}</span>
                    ) : preview ? (
                      <bdi className="person-preview">{preview}</bdi>
                    ) : null}
                  </span>
                  {unread > 0 ? (
                    <span className="badge" aria-label={t('people.unread', { count: unread })}>
                      {unread > 99 ? '99+' : unread}
                    </span>
                  ) : null}
                </button>
              </li>
            );
          })}
        </ul>
      </section>
    );

  return (
    <div className="people" ref={listRef} onKeyDown={onKeyDown}>
      {group(t('people.online'), online, 'people-online')}
      {group(t('people.offline'), offline, 'people-offline')}
      {online.length + offline.length === 0 ? (
        <p className="people-empty">{total === 0 ? t('people.none') : t('people.noMatch', { query: filter })}</p>
      ) : null}
    </div>
  );
}
