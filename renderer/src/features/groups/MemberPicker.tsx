// Checkboxes over the known peers, with a filter: used to found a group and to add to one.
import { useState } from 'react';
import type { PeerId, PeerInfo } from '../../../../main/contract/contract.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { matchesFilter } from '../people/PeopleList.tsx';

export function MemberPicker(props: { legend: string; peers: PeerInfo[]; picked: ReadonlySet<PeerId>; onChange: (picked: Set<PeerId>) => void }) {
  const { t } = useI18n();
  const [filter, setFilter] = useState('');
  const shown = props.peers.filter((p) => matchesFilter(p, filter)).sort((a, b) => a.name.localeCompare(b.name));
  const toggle = (id: PeerId, on: boolean) => {
    const next = new Set(props.picked);
    if (on) next.add(id);
    else next.delete(id);
    props.onChange(next);
  };
  return (
    <fieldset className="member-picker">
      <legend className="field-label">
        {props.legend} <span className="muted">({t('groups.selected', { count: props.picked.size })})</span>
      </legend>
      {props.peers.length === 0 ? (
        <p className="muted small">{t('groups.noPeers')}</p>
      ) : (
        <>
          <input type="search" className="filter" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder={t('groups.filterMembers')} aria-label={t('groups.filterMembers')} />
          <ul role="list" className="member-options">
            {shown.map((p) => (
              <li key={p.id}>
                <label className="member-option">
                  <input type="checkbox" checked={props.picked.has(p.id)} onChange={(e) => toggle(p.id, e.target.checked)} data-peer-id={p.id} />
                  <bdi>{p.name}</bdi>
                  <span className="mono muted small">{p.shortId}</span>
                </label>
              </li>
            ))}
          </ul>
        </>
      )}
    </fieldset>
  );
}

