import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { LIMITS, type SearchHit } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { LatestOnly } from './latest-only.ts';

/** The core marks matches with \u0002…\u0003; render them as <mark>, everything as text. */
export function Snippet(props: { text: string }) {
  const parts = props.text.split(/(\u0002[^\u0003]*\u0003)/);
  return (
    <>
      {parts.map((p, i) =>
        p.startsWith('\u0002') ? <mark key={i}>{p.slice(1, -1)}</mark> : <span key={i}>{p.replace(/[\u0002\u0003]/g, '')}</span>,
      )}
    </>
  );
}

export function SearchDialog(props: { store: AppStore; onClose: () => void }) {
  const { t, lang } = useI18n();
  const { store } = props;
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [active, setActive] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);
  const fmt = useMemo(() => new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }), [lang]);

  // Every keystroke searches at once; LatestOnly keeps it to one search in flight.
  const searcher = useMemo(
    () =>
      new LatestOnly(
        (q) => store.api.call('search', { query: q, limit: 50 }).catch((): SearchHit[] => []),
        (_q, r: SearchHit[]) => {
          setHits(r);
          setActive(0);
        },
      ),
    [store],
  );

  useEffect(() => {
    const q = query.trim().slice(0, LIMITS.searchQuery);
    searcher.request(q);
    if (!q) setHits(null);
  }, [query, searcher]);

  const open = (hit: SearchHit) => {
    props.onClose();
    void store.jumpTo(hit.message);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    // A search field eats the first Escape to clear itself; here Escape means "close".
    if (e.key === 'Escape') {
      e.preventDefault();
      props.onClose();
      return;
    }
    if (!hits?.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = e.key === 'ArrowDown' ? Math.min(hits.length - 1, active + 1) : Math.max(0, active - 1);
      setActive(next);
      listRef.current?.children[next]?.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const hit = hits[active];
      if (hit) open(hit);
    }
  };

  const nameOf = (hit: SearchHit) => {
    if (hit.message.mine) return t('conv.you');
    return store.peers.get(hit.message.author)?.name ?? hit.message.author.slice(0, 7);
  };
  const convName = (hit: SearchHit) => {
    const conv = store.convs.get(hit.message.convId);
    if (!conv) return '';
    return conv.info.kind === 'group' ? conv.info.group.name : (store.peers.get(conv.info.peerId)?.name ?? conv.info.title);
  };

  return (
    <Dialog title={t('search.title')} closeLabel={t('search.close')} onClose={props.onClose} className="search-dialog">
      <input
        type="search"
        className="search-input"
        autoFocus
        value={query}
        maxLength={LIMITS.searchQuery}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={onKeyDown}
        placeholder={t('search.placeholder')}
        aria-label={t('search.placeholder')}
        aria-controls="search-results"
        aria-activedescendant={hits?.length ? `search-hit-${active}` : undefined}
        role="combobox"
        aria-expanded={!!hits?.length}
      />
      {hits === null ? (
        <p className="muted search-hint">{t('search.hint')}</p>
      ) : hits.length === 0 ? (
        <p className="muted search-hint">{t('search.none', { query: query.trim() })}</p>
      ) : null}
      <ul id="search-results" className="search-results" role="listbox" aria-label={t('search.results')} ref={listRef}>
        {(hits ?? []).map((hit, i) => (
          <li
            key={hit.message.id}
            id={`search-hit-${i}`}
            role="option"
            aria-selected={i === active}
            className={`search-hit${i === active ? ' active' : ''}`}
            onMouseEnter={() => setActive(i)}
            onClick={() => open(hit)}
            data-message-id={hit.message.id}
          >
            <div className="search-hit-head">
              <bdi className="search-hit-conv">{convName(hit)}</bdi>
              <span className="muted">
                <bdi>{nameOf(hit)}</bdi> · {fmt.format(hit.message.ts)}
              </span>
            </div>
            <div className="search-hit-text" dir="auto">
              <Snippet text={hit.snippet} />
            </div>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
