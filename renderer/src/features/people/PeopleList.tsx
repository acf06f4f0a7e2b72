// The sidebar list: people grouped by how they can be reached (on this LAN, via a relay,
// offline), filter-as-you-type, unread badges, verified badges and key-change warnings.
// Arrow keys (and Home/End) move between people; Enter opens the conversation.
import { useMemo, useRef, type KeyboardEvent } from 'react';
import type { PeerId, PeerInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { previewText } from '../conversation/MessageBubble.tsx';
import { GROUP_ORDER, groupPeople, sharedNames, type PeopleGroup } from './grouping.ts';
import { useRich, VerifiedBadge } from './Trust.tsx';

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

  const rich = useRich();
  const { groups, shown, total, shared } = useMemo(() => {
    const rows: PersonRow[] = [];
    for (const peer of store.peers.values()) {
      if (!matchesFilter(peer, filter)) continue;
      const conv = store.convForPeer(peer.id);
      const last = conv?.info.lastMessage;
      const preview = peer.statusText || (last ? (last.mine ? `${t('conv.you')}: ${previewText(last, t)}` : previewText(last, t)) : '');
      // One line of preview is all that shows; don't hand the layout 16,000 characters.
      rows.push({ peer, unread: conv?.info.unread ?? 0, preview: preview.slice(0, 200), typing: store.isTyping(peer.id) });
    }
    return { groups: groupPeople(rows), shown: rows.length, total: store.peers.size, shared: sharedNames(store.peers.values()) };
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

  const labels: Record<PeopleGroup, string> = { lan: t('people.lan'), relay: t('people.relay'), offline: t('people.offline') };
  const group = (g: PeopleGroup, rows: PersonRow[]) => {
    const id = `people-${g}`;
    return rows.length === 0 ? null : (
      <section key={g} className="people-group" aria-labelledby={id} data-group={g}>
        <h3 id={id} className="group-title" aria-label={t('people.groupLabel', { group: labels[g], count: rows.length })}>
          {labels[g]} <span className="group-count">{rows.length}</span>
        </h3>
        <ul role="list">
          {rows.map(({ peer, unread, preview, typing }) => {
            const selected = store.selectedPeerId === peer.id;
            return (
              <li key={peer.id}>
                <button
                  type="button"
                  className={`person${selected ? ' selected' : ''}${unread ? ' has-unread' : ''}${peer.keyChange ? ' key-changed' : ''}`}
                  aria-current={selected ? 'true' : undefined}
                  onClick={() => props.onSelect(peer.id)}
                  data-peer-id={peer.id}
                >
                  <Avatar id={peer.id} name={peer.name} presence={peer.presence} />
                  <span className="person-text">
                    <span className="person-name-line">
                      <bdi className="person-name">{peer.name}</bdi>
                      {/* Two people by one name: the start of the ID tells them apart. */}
                      {shared.has(peer.id) ? <span className="person-short-id mono">{peer.shortId}</span> : null}
                      {peer.verified && !peer.keyChange ? <VerifiedBadge compact /> : null}
                    </span>
                    {peer.keyChange ? (
                      <span className="person-key-change" data-testid="person-key-change">
                        <Icon name="warning" />
                        <span>{rich('keyChange.short', { name: peer.keyChange.previousName })}</span>
                      </span>
                    ) : typing ? (
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
  };

  return (
    <div className="people" ref={listRef} onKeyDown={onKeyDown}>
      {GROUP_ORDER.map((g) => group(g, groups[g]))}
      {shown === 0 ? (
        <p className="people-empty">{total === 0 ? t('people.none') : t('people.noMatch', { query: filter })}</p>
      ) : null}
    </div>
  );
}
