import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { PeerId } from '../../../main/contract/contract.ts';
import { BroadcastDialog } from '../features/broadcast/BroadcastDialog.tsx';
import { ConversationView } from '../features/conversation/ConversationView.tsx';
import { DiagnosticsDialog } from '../features/diagnostics/DiagnosticsDialog.tsx';
import { FirstRun } from '../features/first-run/FirstRun.tsx';
import { GroupList } from '../features/groups/GroupList.tsx';
import { GroupView } from '../features/groups/GroupView.tsx';
import { NewGroupDialog } from '../features/groups/NewGroupDialog.tsx';
import { AddPeerDialog } from '../features/people/AddPeerDialog.tsx';
import { PeerDetailsDialog } from '../features/people/PeerDetailsDialog.tsx';
import { PeopleList } from '../features/people/PeopleList.tsx';
import { SearchDialog } from '../features/search/SearchDialog.tsx';
import { SettingsDialog } from '../features/settings/SettingsDialog.tsx';
import { I18nContext, makeT, resolveLanguage, useI18n } from '../i18n/i18n.tsx';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Dialog.tsx';
import { cleanPeer } from './labels.ts';
import { loadPrefs, savePrefs, type Prefs } from './prefs.ts';
import type { AppStore } from './store.ts';

type Modal = 'settings' | 'add' | 'newGroup' | 'search' | 'details' | 'verify' | 'diagnostics' | 'broadcast' | null;

function useSystemDark(): boolean {
  const query = useMemo(() => window.matchMedia('(prefers-color-scheme: dark)'), []);
  return useSyncExternalStore(
    (cb) => {
      query.addEventListener('change', cb);
      return () => query.removeEventListener('change', cb);
    },
    () => query.matches,
  );
}

export function App(props: { store: AppStore }) {
  const { store } = props;
  const version = useSyncExternalStore(store.subscribe, store.getVersion);
  const [prefs, setPrefsState] = useState<Prefs>(loadPrefs);
  const systemDark = useSystemDark();
  const lang = resolveLanguage(prefs.language);
  const i18n = useMemo(() => ({ lang, t: makeT(lang) }), [lang]);
  const theme = prefs.theme === 'system' ? (systemDark ? 'dark' : 'light') : prefs.theme;

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    document.documentElement.lang = lang;
    document.title = i18n.t('app.title');
  }, [theme, lang, i18n]);

  const setPrefs = useCallback((p: Prefs) => {
    setPrefsState(p);
    savePrefs(p);
  }, []);

  let body;
  if (!store.self) body = <Splash state={store.connection} />;
  else if (store.needsName) body = <FirstRun self={store.self} onDone={(name) => store.setProfile({ name })} />;
  else body = <Main store={store} version={version} prefs={prefs} setPrefs={setPrefs} />;
  return <I18nContext.Provider value={i18n}>{body}</I18nContext.Provider>;
}

function Splash(props: { state: string }) {
  const { t } = useI18n();
  return (
    <main className="splash">
      <div className="brand-mark" aria-hidden="true">P</div>
      <p role="status">{props.state === 'refused' ? t('app.refused') : t('app.connecting')}</p>
    </main>
  );
}

function Main(props: { store: AppStore; version: number; prefs: Prefs; setPrefs: (p: Prefs) => void }) {
  const { t } = useI18n();
  const { store, version } = props;
  const self = store.self!;
  const [modal, setModal] = useState<Modal>(null);
  const [filter, setFilter] = useState('');
  const filterRef = useRef<HTMLInputElement>(null);
  const peer = store.selectedPeerId && !store.selectedGroupId ? store.peers.get(store.selectedPeerId) : undefined;
  const conv = store.selectedConv();
  const groupConv = store.selectedGroupId && conv?.info.kind === 'group' ? conv : undefined;

  const select = useCallback((id: PeerId) => void store.select(id).catch((err: Error) => store.notify(err.message)), [store]);
  const selectGroup = useCallback((convId: string) => void store.selectGroup(convId).catch((err: Error) => store.notify(err.message)), [store]);
  // The store raises group warnings; the sentence is in the language on screen.
  useEffect(() => {
    store.warningText = (w) => t(w.forged ? 'groups.warning' : 'groups.warningInvalid', { name: w.name, group: w.group });
  }, [store, t]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        filterRef.current?.focus();
      } else if (mod && (e.key.toLowerCase() === 'f' || (e.shiftKey && e.key.toLowerCase() === 'f'))) {
        e.preventDefault();
        setModal('search');
      } else if (mod && e.key === ',') {
        e.preventDefault();
        setModal('settings');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="app">
      <a className="skip-link" href="#composer-area" onClick={(e) => {
        e.preventDefault();
        document.querySelector<HTMLElement>('[data-testid="composer"]')?.focus();
      }}>
        {t('composer.label')}
      </a>
      <aside className="sidebar" aria-label={t('people.title')}>
        <header className="sidebar-header">
          <button type="button" className="self-button" onClick={() => setModal('settings')} aria-label={`${t('settings.open')}: ${self.name}`}>
            <Avatar id={self.id} name={self.name} presence={self.presence} />
            <span className="self-text">
              <bdi className="self-name">{self.name}</bdi>
              <bdi className="self-status">{self.statusText || t(`presence.${self.presence}`)}</bdi>
            </span>
          </button>
          <button type="button" className="icon-button" onClick={() => setModal('search')} aria-label={t('search.open')} title={t('search.open')}>
            <Icon name="search" />
          </button>
          <button type="button" className="icon-button" onClick={() => setModal('diagnostics')} aria-label={t('diag.open')} title={t('diag.open')}>
            <Icon name="pulse" />
          </button>
          <button type="button" className="icon-button" onClick={() => setModal('settings')} aria-label={t('settings.open')} title={t('settings.open')}>
            <Icon name="settings" />
          </button>
        </header>
        <div className="sidebar-tools">
          <input
            ref={filterRef}
            type="search"
            className="filter"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder={t('people.filter')}
            aria-label={t('people.filter')}
            onKeyDown={(e) => {
              if (e.key === 'ArrowDown') {
                e.preventDefault();
                document.querySelector<HTMLButtonElement>('.people button.person')?.focus();
              } else if (e.key === 'Escape') setFilter('');
            }}
          />
          <button type="button" className="add-button" onClick={() => setModal('add')} aria-label={t('people.add')} title={t('people.add')}>
            <Icon name="plus" />
          </button>
          <button type="button" className="add-button" onClick={() => setModal('newGroup')} aria-label={t('groups.new')} title={t('groups.new')} data-testid="new-group">
            <Icon name="group" />
          </button>
          <button type="button" className="add-button" onClick={() => setModal('broadcast')} aria-label={t('broadcast.open')} title={t('broadcast.open')} data-testid="broadcast-open">
            <Icon name="megaphone" />
          </button>
        </div>
        <nav aria-label={t('people.title')} className="people-nav">
          <GroupList store={store} version={version} filter={filter} onSelect={selectGroup} />
          <PeopleList store={store} version={version} filter={filter} onSelect={select} />
        </nav>
      </aside>
      <main className="main" id="composer-area">
        {store.connection === 'closed' || store.connection === 'refused' ? (
          <p className="banner offline-banner" role="alert">
            {store.connection === 'refused' ? t('app.refused') : t('app.disconnected')}
          </p>
        ) : null}
        {groupConv ? (
          <GroupView key={groupConv.info.id} store={store} conv={groupConv} version={version} />
        ) : peer ? (
          <ConversationView store={store} peer={peer} conv={conv} version={version} onDetails={() => setModal('details')} onVerify={() => setModal('verify')} />
        ) : (
          <div className="empty-state">
            <div className="brand-mark big" aria-hidden="true">P</div>
            <p>{t('conv.empty')}</p>
          </div>
        )}
      </main>
      {modal === 'settings' ? (
        <SettingsDialog store={store} self={self} prefs={props.prefs} onPrefs={props.setPrefs} onClose={() => setModal(null)} />
      ) : modal === 'add' ? (
        <AddPeerDialog
          api={store.api}
          self={self}
          onClose={() => setModal(null)}
          onAdded={(p) => {
            setModal(null);
            store.peers.set(p.id, store.peers.get(p.id) ?? cleanPeer(p));
            select(p.id);
          }}
        />
      ) : modal === 'newGroup' ? (
        <NewGroupDialog
          store={store}
          onClose={() => setModal(null)}
          onCreated={(c) => {
            setModal(null);
            store.upsertConv(c);
            selectGroup(c.id);
          }}
        />
      ) : modal === 'search' ? (
        <SearchDialog store={store} onClose={() => setModal(null)} />
      ) : (modal === 'details' || modal === 'verify') && peer ? (
        <PeerDetailsDialog store={store} peer={peer} self={self} focus={modal === 'verify' ? 'verify' : undefined} onClose={() => setModal(null)} />
      ) : modal === 'diagnostics' ? (
        <DiagnosticsDialog store={store} onClose={() => setModal(null)} />
      ) : modal === 'broadcast' ? (
        <BroadcastDialog store={store} version={version} onClose={() => setModal(null)} />
      ) : null}
      <div className="notices" aria-live="assertive">
        {store.notices.map((n) => (
          <div key={n.id} className="notice" role="alert">
            <span>{n.kind === 'warning' ? n.text : t('error.generic', { message: n.text })}</span>
            <button type="button" className="link-button" onClick={() => store.dismiss(n.id)}>
              {t('error.dismiss')}
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}
