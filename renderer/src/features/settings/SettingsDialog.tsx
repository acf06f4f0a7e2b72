// Settings, one scrollable dialog in sections with a list to jump between them. The profile is
// saved with its button (a name change reaches every peer); everything else applies when
// changed. Theme and language belong to this screen (prefs.ts); the rest is the core's
// (getSettings/updateSettings), so it is the same in the desktop app and in web mode.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { LIMITS, type DiagnosticsInfo, type RelayInfo, type SelfInfo, type Settings } from '../../../../main/contract/contract.ts';
import type { Prefs, ThemePref } from '../../app/prefs.ts';
import type { AppStore } from '../../app/store.ts';
import { languageNames, useI18n, type LanguagePref } from '../../i18n/i18n.tsx';
import type { MessageKey } from '../../i18n/en.ts';
import { Dialog, Icon } from '../../ui/Dialog.tsx';
import './settings.css';
import { AutoAcceptDefault } from '../files/AutoAccept.tsx';

type SectionId = 'profile' | 'appearance' | 'notifications' | 'away' | 'network' | 'files' | 'startup' | 'identity';

const SECTION_TITLES: Record<SectionId, MessageKey> = {
  profile: 'settings.profile',
  appearance: 'settings.appearance',
  notifications: 'settings.notifications',
  away: 'settings.away',
  network: 'settings.network',
  files: 'settings.files',
  startup: 'settings.startup',
  identity: 'settings.identity',
};

export function SettingsDialog(props: { store: AppStore; self: SelfInfo; prefs: Prefs; onPrefs: (p: Prefs) => void; onClose: () => void }) {
  const { t } = useI18n();
  const { store } = props;
  const settings = store.settings;
  const idPrefix = useId();
  const contentRef = useRef<HTMLDivElement>(null);
  // The core's sections appear once its settings have arrived (right after connecting).
  const core: SectionId[] = settings ? ['notifications', 'away', 'network', 'files', ...(store.api.kind === 'electron' ? (['startup'] as const) : [])] : [];
  const sections: SectionId[] = ['profile', 'appearance', ...core, 'identity'];
  const [current, setCurrent] = useState<SectionId>('profile');
  /** The section jumped to stays current while its heading is in view (the last ones cannot scroll to the top). */
  const pinned = useRef<SectionId | null>(null);
  const sectionId = (s: SectionId) => `${idPrefix}-${s}`;

  // The section list follows scrolling: the last section whose top has scrolled past.
  useEffect(() => {
    const content = contentRef.current;
    if (!content) return;
    const onScroll = () => {
      const heading = pinned.current && document.getElementById(`${sectionId(pinned.current)}-title`);
      if (heading) {
        const top = heading.getBoundingClientRect().top - content.getBoundingClientRect().top;
        if (top >= -2 && top < content.clientHeight) return;
        pinned.current = null;
      }
      let at: SectionId = sections[0]!;
      for (const s of sections) {
        const el = document.getElementById(sectionId(s));
        if (el && el.offsetTop - content.offsetTop <= content.scrollTop + 24) at = s;
      }
      if (content.scrollTop + content.clientHeight >= content.scrollHeight - 2) at = sections[sections.length - 1]!;
      setCurrent(at);
    };
    content.addEventListener('scroll', onScroll, { passive: true });
    return () => content.removeEventListener('scroll', onScroll);
  });

  const jump = (s: SectionId) => {
    const heading = document.getElementById(`${sectionId(s)}-title`);
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
    pinned.current = s;
    setCurrent(s);
  };

  const section = (s: SectionId, body: ReactNode) => (
    <section key={s} id={sectionId(s)} className="settings-section" aria-labelledby={`${sectionId(s)}-title`} data-section={s}>
      <h3 id={`${sectionId(s)}-title`} tabIndex={-1}>
        {t(SECTION_TITLES[s])}
      </h3>
      {body}
    </section>
  );

  return (
    <Dialog title={t('settings.title')} closeLabel={t('settings.close')} onClose={props.onClose} className="settings-dialog">
      <div className="settings-layout">
        <nav className="settings-nav" aria-label={t('settings.sections')}>
          <ul>
            {sections.map((s) => (
              <li key={s}>
                <button type="button" aria-current={current === s ? 'true' : undefined} onClick={() => jump(s)}>
                  {t(SECTION_TITLES[s])}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div className="settings-content" ref={contentRef} data-testid="settings-content">
          {section('profile', <ProfileSection store={store} self={props.self} />)}
          {section('appearance', <AppearanceSection prefs={props.prefs} onPrefs={props.onPrefs} />)}
          {settings ? (
            <>
              {section('notifications', <NotificationsSection store={store} settings={settings} />)}
              {section('away', <AwaySection store={store} settings={settings} />)}
              {section('network', <NetworkSection store={store} settings={settings} />)}
              {section(
                'files',
                <>
                  <FilesSection store={store} settings={settings} />
                  <AutoAcceptDefault store={store} settings={settings} />
                </>,
              )}
              {store.api.kind === 'electron' ? section('startup', <StartupSection store={store} settings={settings} />) : null}
            </>
          ) : null}
          {section('identity', <IdentitySection self={props.self} />)}
        </div>
      </div>
    </Dialog>
  );
}

/** Runs one settings change, keeping its error (the core's reason) to show next to the field. */
function useSave(store: AppStore) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (update: Parameters<AppStore['updateSettings']>[0]): Promise<Settings | null> => {
    setBusy(true);
    try {
      const s = await store.updateSettings(update);
      setError(null);
      return s;
    } catch (err) {
      setError((err as Error).message);
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, run };
}

function ErrorText(props: { message: string | null; raw?: boolean }) {
  const { t } = useI18n();
  if (!props.message) return null;
  return (
    <p className="form-error" role="alert">
      {props.raw ? props.message : t('settings.error', { message: props.message })}
    </p>
  );
}

function Overridden(props: { settings: Settings; field: Settings['overridden'][number] }) {
  const { t } = useI18n();
  if (!props.settings.overridden.includes(props.field)) return null;
  return (
    <p className="field-help settings-overridden">
      <Icon name="info" /> {t('settings.overridden')}
    </p>
  );
}

function ProfileSection(props: { store: AppStore; self: SelfInfo }) {
  const { t } = useI18n();
  const { self } = props;
  const [name, setName] = useState(self.name);
  const [presence, setPresence] = useState<'online' | 'away' | 'busy'>(self.presence === 'offline' ? 'online' : self.presence);
  const [status, setStatus] = useState(self.statusText);
  const [saved, setSaved] = useState(false);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await props.store.setProfile({ name: name.trim(), presence, statusText: status });
    setSaved(ok);
  };

  return (
    <form onSubmit={save} className="form profile-form" onChange={() => setSaved(false)}>
      <label className="field">
        <span className="field-label">{t('settings.name')}</span>
        <input name="displayName" required maxLength={LIMITS.displayName} value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <div className="field-row">
        <label className="field">
          <span className="field-label">{t('settings.presence')}</span>
          <select name="presence" value={presence} onChange={(e) => setPresence(e.target.value as 'online' | 'away' | 'busy')}>
            <option value="online">{t('presence.online')}</option>
            <option value="away">{t('presence.away')}</option>
            <option value="busy">{t('presence.busy')}</option>
          </select>
        </label>
        <label className="field grow">
          <span className="field-label">{t('settings.status')}</span>
          <input name="statusText" maxLength={LIMITS.statusText} value={status} placeholder={t('settings.statusPlaceholder')} onChange={(e) => setStatus(e.target.value)} />
        </label>
      </div>
      <div className="actions">
        {saved ? (
          <span className="saved" role="status">
            <Icon name="check" /> {t('settings.saved')}
          </span>
        ) : null}
        <button type="submit" className="primary" disabled={!name.trim()}>
          {t('settings.save')}
        </button>
      </div>
    </form>
  );
}

function AppearanceSection(props: { prefs: Prefs; onPrefs: (p: Prefs) => void }) {
  const { t } = useI18n();
  const { prefs } = props;
  const themes: ThemePref[] = ['system', 'light', 'dark'];
  const languages: LanguagePref[] = ['system', 'en', 'zh-CN'];
  return (
    <>
      <fieldset className="segmented" aria-label={t('settings.theme')}>
        <legend className="field-label">{t('settings.theme')}</legend>
        {themes.map((theme) => (
          <label key={theme} className={prefs.theme === theme ? 'checked' : ''}>
            <input type="radio" name="theme" value={theme} checked={prefs.theme === theme} onChange={() => props.onPrefs({ ...prefs, theme })} />
            {t(`settings.theme.${theme}`)}
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span className="field-label">{t('settings.language')}</span>
        <select name="language" value={prefs.language} onChange={(e) => props.onPrefs({ ...prefs, language: e.target.value as LanguagePref })}>
          {languages.map((l) => (
            <option key={l} value={l}>
              {l === 'system' ? t('settings.language.system') : languageNames[l]}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

/**
 * Shows the new value while the core stores it (the settings come back with the answer), and
 * the stored one again if it refused.
 */
function usePending<T>(stored: T): [T, (value: T, save: () => Promise<unknown>) => void] {
  const [pending, setPending] = useState<{ value: T } | null>(null);
  const set = (value: T, save: () => Promise<unknown>) => {
    setPending({ value });
    void save().finally(() => setPending(null));
  };
  return [pending ? pending.value : stored, set];
}

function Check(props: { name: string; checked: boolean; disabled?: boolean; onChange: (v: boolean) => Promise<unknown>; label: string; help?: string }) {
  const helpId = useId();
  const [checked, setChecked] = usePending(props.checked);
  return (
    <div className="check-field">
      <label className="check">
        <input
          type="checkbox"
          name={props.name}
          checked={checked}
          disabled={props.disabled}
          aria-describedby={props.help ? helpId : undefined}
          onChange={(e) => {
            const v = e.target.checked;
            setChecked(v, () => props.onChange(v));
          }}
        />
        <span>{props.label}</span>
      </label>
      {props.help ? (
        <p className="field-help" id={helpId}>
          {props.help}
        </p>
      ) : null}
    </div>
  );
}

function NotificationsSection(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const { store, settings } = props;
  const n = settings.notifications;
  const save = useSave(store);
  const titleOf = (convId: string) => {
    const conv = store.convs.get(convId);
    if (!conv) return convId.slice(0, 12);
    if (conv.info.kind === 'group') return conv.info.group.name;
    return store.peers.get(conv.info.peerId)?.name || conv.info.title;
  };
  return (
    <>
      {store.api.kind === 'web' ? <p className="field-help settings-note">{t('settings.notifications.webNote')}</p> : null}
      <Check name="notificationsEnabled" checked={n.enabled} label={t('settings.notifications.enabled')} onChange={(enabled) => save.run({ notifications: { enabled } })} />
      <Check
        name="notificationsPreview"
        checked={n.showPreview}
        disabled={!n.enabled}
        label={t('settings.notifications.preview')}
        help={t('settings.notifications.previewHelp')}
        onChange={(showPreview) => save.run({ notifications: { showPreview } })}
      />
      <ErrorText message={save.error} />
      <h4 className="field-label settings-subhead">{t('settings.notifications.muted')}</h4>
      {n.mutedConversations.length === 0 ? (
        <p className="field-help">{t('settings.notifications.mutedNone')}</p>
      ) : (
        <ul className="settings-list" data-testid="muted-list">
          {n.mutedConversations.map((convId) => (
            <li key={convId}>
              <Icon name="bell-off" className="muted" />
              <bdi className="grow settings-list-name">{titleOf(convId)}</bdi>
              <button
                type="button"
                aria-label={t('settings.notifications.unmute', { name: titleOf(convId) })}
                onClick={() => void save.run({ notifications: { mutedConversations: n.mutedConversations.filter((c) => c !== convId) } })}
              >
                {t('settings.notifications.unmuteShort')}
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const AWAY_MINUTES = [1, 2, 5, 10, 15, 30, 60];

function AwaySection(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const save = useSave(props.store);
  const [ms, setMs] = usePending(props.settings.autoAwayMs);
  const options = [0, ...AWAY_MINUTES.map((m) => m * 60_000)];
  // A value from --auto-away (seconds) need not be one of the choices: it is shown as it is.
  if (!options.includes(ms)) options.push(ms);
  options.sort((a, b) => a - b);
  const label = (v: number) => (v === 0 ? t('settings.autoAway.off') : t('settings.autoAway.minutes', { count: Math.round((v / 60_000) * 10) / 10 }));
  const helpId = useId();
  return (
    <>
      <label className="field">
        <span className="field-label">{t('settings.autoAway')}</span>
        <select
          name="autoAway"
          value={ms}
          aria-describedby={helpId}
          onChange={(e) => {
            const v = Number(e.target.value);
            setMs(v, () => save.run({ autoAwayMs: v }));
          }}
        >
          {options.map((v) => (
            <option key={v} value={v}>
              {label(v)}
            </option>
          ))}
        </select>
        <span className="field-help" id={helpId}>
          {t('settings.autoAway.help')}
        </span>
      </label>
      <Overridden settings={props.settings} field="autoAwayMs" />
      <ErrorText message={save.error} />
    </>
  );
}

function NetworkSection(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  return (
    <>
      <h4 className="field-label settings-subhead">{t('settings.relays')}</h4>
      <p className="field-help">{t('settings.relays.help')}</p>
      <Overridden settings={props.settings} field="relays" />
      <RelaysEditor store={props.store} settings={props.settings} />
      <h4 className="field-label settings-subhead">{t('settings.interfaces')}</h4>
      <p className="field-help">{t('settings.interfaces.help')}</p>
      <Overridden settings={props.settings} field="interfaces" />
      <InterfacesChooser store={props.store} settings={props.settings} />
    </>
  );
}

const RELAY_SHAPE = /^parley-relay:\/\/[^/?#\s]+[^\s]*[?&]id=[^&\s]+/i;

function RelaysEditor(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const { store, settings } = props;
  const save = useSave(store);
  const [address, setAddress] = useState('');
  const [token, setToken] = useState('');
  const [shapeError, setShapeError] = useState<string | null>(null);
  const infoOf = (a: string): RelayInfo | undefined => store.relays.find((r) => r.address === a);
  const keep = settings.relays.map((r) => ({ address: r.address }));

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const a = address.trim();
    if (!RELAY_SHAPE.test(a)) return setShapeError(t('settings.relays.badAddress'));
    if (settings.relays.some((r) => r.address === a)) return setShapeError(t('settings.relays.duplicate'));
    setShapeError(null);
    const s = await save.run({ relays: [...keep, { address: a, token: token || null }] });
    if (s) {
      setAddress('');
      setToken('');
    }
  };

  return (
    <>
      {settings.relays.length === 0 ? (
        <p className="field-help">{t('settings.relays.none')}</p>
      ) : (
        <ul className="settings-list relay-list" data-testid="relay-list">
          {settings.relays.map((r) => {
            const info = infoOf(r.address);
            const state = info?.state ?? 'idle';
            const others = info?.members.length ?? 0;
            return (
              <li key={r.address} className="relay-row" data-address={r.address} data-state={state}>
                <div className="grow relay-text">
                  <span className="mono relay-address" title={r.address}>
                    {r.address}
                  </span>
                  <span className="relay-meta">
                    <span className={`relay-state relay-state-${state}`} title={info?.detail}>
                      {t(`settings.relays.state.${state}`)}
                    </span>
                    {r.hasToken ? <span className="muted"> · {t('settings.relays.tokenSet')}</span> : null}
                    {state === 'connected' ? <span className="muted"> · {t('settings.relays.members', { count: others })}</span> : null}
                  </span>
                </div>
                <button
                  type="button"
                  aria-label={t('settings.relays.remove', { address: r.address })}
                  disabled={save.busy}
                  onClick={() => void save.run({ relays: keep.filter((k) => k.address !== r.address) })}
                >
                  {t('settings.relays.removeShort')}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <form className="form relay-add" onSubmit={add} noValidate>
        <div className="field-row wrap">
          <label className="field grow">
            <span className="field-label">{t('settings.relays.address')}</span>
            <input
              name="relayAddress"
              className="mono"
              value={address}
              maxLength={400}
              autoComplete="off"
              spellCheck={false}
              placeholder="parley-relay://relay.example.org:47480/?id=…"
              aria-invalid={shapeError ? true : undefined}
              onChange={(e) => {
                setAddress(e.target.value);
                setShapeError(null);
              }}
            />
          </label>
          <label className="field relay-token">
            <span className="field-label">{t('settings.relays.token')}</span>
            <input name="relayToken" type="password" value={token} maxLength={200} autoComplete="off" onChange={(e) => setToken(e.target.value)} />
          </label>
        </div>
        <ErrorText message={shapeError} raw />
        <ErrorText message={save.error} />
        <div className="actions">
          <button type="submit" disabled={!address.trim() || save.busy}>
            <Icon name="plus" /> {t('settings.relays.add')}
          </button>
        </div>
      </form>
    </>
  );
}

interface InterfaceChoice {
  name: string;
  addresses: string[];
  reason: string | null;
}

function InterfacesChooser(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const { store, settings } = props;
  const save = useSave(store);
  const [diag, setDiag] = useState<DiagnosticsInfo | null>(null);
  const [mode, setMode] = useState<'all' | 'some'>(settings.interfaces.length ? 'some' : 'all');
  const [picked, setPicked] = useState<string[]>(settings.interfaces);
  const [needOne, setNeedOne] = useState(false);
  const groupId = useId();

  useEffect(() => {
    let live = true;
    store.api.call('diagnostics', {}).then(
      (d) => live && setDiag(d),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [store]);

  const choices: InterfaceChoice[] = [];
  const seen = new Set<string>();
  const push = (c: InterfaceChoice) => {
    if (seen.has(c.name)) return;
    seen.add(c.name);
    choices.push(c);
  };
  for (const i of diag?.discovery.interfaces ?? []) push({ name: i.name, addresses: i.addresses, reason: null });
  for (const s of diag?.discovery.skippedInterfaces ?? []) push({ name: s.name, addresses: [], reason: reasonText(s.reason) });
  for (const name of settings.interfaces) push({ name, addresses: [], reason: t('settings.interfaces.notPresent') });
  choices.sort((a, b) => a.name.localeCompare(b.name));

  /** The core's reasons (interfaces.ts) in the reader's language; an unknown one as it is. */
  function reasonText(reason: string): string {
    if (reason === 'not present') return t('settings.interfaces.notPresent');
    if (reason === 'loopback') return t('settings.interfaces.loopback');
    if (reason === 'no usable address') return t('settings.interfaces.noAddress');
    if (reason === 'discovery is off') return t('settings.interfaces.discoveryOff');
    if (reason.startsWith('virtual adapter')) return t('settings.interfaces.virtual');
    return reason;
  }

  const apply = async (list: string[]) => {
    setPicked(list);
    if (list.length === 0) return setNeedOne(true);
    setNeedOne(false);
    await save.run({ interfaces: list });
  };

  return (
    <div className="interfaces">
      <div role="radiogroup" aria-label={t('settings.interfaces')} className="radio-list">
        <label className="check">
          <input
            type="radio"
            name="interfacesMode"
            value="all"
            checked={mode === 'all'}
            onChange={() => {
              setMode('all');
              setNeedOne(false);
              void save.run({ interfaces: [] });
            }}
          />
          <span>{t('settings.interfaces.all')}</span>
        </label>
        <label className="check">
          <input
            type="radio"
            name="interfacesMode"
            value="some"
            checked={mode === 'some'}
            aria-controls={groupId}
            onChange={() => {
              setMode('some');
              // Start from what "all suitable" announces now.
              const start = picked.length ? picked : (diag?.discovery.interfaces.map((i) => i.name) ?? []);
              void apply(start);
            }}
          />
          <span>{t('settings.interfaces.some')}</span>
        </label>
      </div>
      <fieldset id={groupId} className="interface-list" disabled={mode !== 'some'} aria-label={t('settings.interfaces.some')}>
        {choices.length === 0 ? <p className="field-help">{diag ? t('settings.interfaces.none') : '…'}</p> : null}
        {choices.map((c) => (
          <label key={c.name} className="check interface-choice">
            <input
              type="checkbox"
              name="interface"
              value={c.name}
              checked={mode === 'all' ? c.reason === null : picked.includes(c.name)}
              onChange={(e) => void apply(e.target.checked ? [...picked, c.name] : picked.filter((p) => p !== c.name))}
            />
            <span className="mono">{c.name}</span>
            <span className="muted interface-detail">{c.addresses.length ? c.addresses.join(', ') : (c.reason ?? '')}</span>
          </label>
        ))}
      </fieldset>
      {needOne ? (
        <p className="form-error" role="alert">
          {t('settings.interfaces.pick')}
        </p>
      ) : null}
      <ErrorText message={save.error} />
    </div>
  );
}

/** Absolute on some system: the core checks it for its own. */
const ABSOLUTE = /^(\/|[A-Za-z]:[\\/]|\\\\)/;

function FilesSection(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const save = useSave(props.store);
  const [folder, setFolder] = useState(props.settings.downloadFolder ?? '');
  const [saved, setSaved] = useState(false);
  const [localError, setLocalError] = useState<string | null>(null);
  const helpId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = folder.trim();
    if (value && !ABSOLUTE.test(value)) {
      save.setError(null);
      setSaved(false);
      return setLocalError(t('settings.downloadFolder.absolute'));
    }
    setLocalError(null);
    const s = await save.run({ downloadFolder: value || null });
    if (s) {
      setFolder(s.downloadFolder ?? '');
      setSaved(true);
    }
  };

  return (
    <form className="form folder-form" onSubmit={submit} noValidate>
      <label className="field">
        <span className="field-label">{t('settings.downloadFolder')}</span>
        <input
          name="downloadFolder"
          className="mono"
          value={folder}
          maxLength={4096}
          spellCheck={false}
          autoComplete="off"
          placeholder={t('settings.downloadFolder.placeholder')}
          aria-describedby={helpId}
          aria-invalid={localError || save.error ? true : undefined}
          onChange={(e) => {
            setFolder(e.target.value);
            setSaved(false);
            setLocalError(null);
          }}
        />
        <span className="field-help" id={helpId}>
          {t('settings.downloadFolder.help')}
        </span>
      </label>
      <ErrorText message={localError} raw />
      <ErrorText message={save.error} />
      <div className="actions">
        {saved ? (
          <span className="field-saved" role="status">
            <Icon name="check" /> {t('settings.downloadFolder.saved')}
          </span>
        ) : null}
        <button type="submit" disabled={save.busy}>
          {t('settings.downloadFolder.save')}
        </button>
      </div>
    </form>
  );
}

function StartupSection(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const save = useSave(props.store);
  return (
    <>
      <Check name="startAtLogin" checked={props.settings.startAtLogin} label={t('settings.startAtLogin')} onChange={(startAtLogin) => save.run({ startAtLogin })} />
      <ErrorText message={save.error} />
    </>
  );
}

function IdentitySection(props: { self: SelfInfo }) {
  const { t } = useI18n();
  const { self } = props;
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(self.displayId);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // No clipboard permission: the ID is selectable text anyway.
    }
  };
  return (
    <>
      <p className="field-help">{t('settings.identityHelp')}</p>
      <div className="identity-box">
        <code className="mono selectable display-id" data-testid="self-display-id">
          {self.displayId}
        </code>
        <button type="button" className="icon-button" onClick={copy} aria-label={t('settings.copy')} title={copied ? t('settings.copied') : t('settings.copy')}>
          <Icon name={copied ? 'check' : 'copy'} />
        </button>
      </div>
      <p className="muted">
        {t('settings.port')}: <span className="mono" data-testid="self-port">{self.port}</span>
      </p>
    </>
  );
}
