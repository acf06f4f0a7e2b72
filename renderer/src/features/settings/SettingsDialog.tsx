import { useState, type FormEvent } from 'react';
import { LIMITS, type SelfInfo } from '../../../../main/contract/contract.ts';
import type { Prefs, ThemePref } from '../../app/prefs.ts';
import type { AppStore } from '../../app/store.ts';
import { languageNames, useI18n, type LanguagePref } from '../../i18n/i18n.tsx';
import { Dialog, Icon } from '../../ui/Dialog.tsx';

export function SettingsDialog(props: { store: AppStore; self: SelfInfo; prefs: Prefs; onPrefs: (p: Prefs) => void; onClose: () => void }) {
  const { t } = useI18n();
  const { self, prefs } = props;
  const [name, setName] = useState(self.name);
  const [presence, setPresence] = useState<'online' | 'away' | 'busy'>(self.presence === 'offline' ? 'online' : self.presence);
  const [status, setStatus] = useState(self.statusText);
  const [saved, setSaved] = useState(false);
  const [copied, setCopied] = useState(false);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await props.store.setProfile({ name: name.trim(), presence, statusText: status });
    setSaved(ok);
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(self.displayId);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // No clipboard permission: the ID is selectable text anyway.
    }
  };

  const themes: ThemePref[] = ['system', 'light', 'dark'];
  const languages: LanguagePref[] = ['system', 'en', 'zh-CN'];

  return (
    <Dialog title={t('settings.title')} closeLabel={t('settings.close')} onClose={props.onClose} className="settings-dialog">
      <form onSubmit={save} className="form" onChange={() => setSaved(false)}>
        <h3>{t('settings.profile')}</h3>
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
            <input
              name="statusText"
              maxLength={LIMITS.statusText}
              value={status}
              placeholder={t('settings.statusPlaceholder')}
              onChange={(e) => setStatus(e.target.value)}
            />
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

      <h3>{t('settings.appearance')}</h3>
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

      <h3>{t('settings.identity')}</h3>
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
    </Dialog>
  );
}
