import { useState, type FormEvent } from 'react';
import { LIMITS, type SelfInfo } from '../../../../main/contract/contract.ts';
import { useI18n } from '../../i18n/i18n.tsx';

export function FirstRun(props: { self: SelfInfo; onDone: (name: string) => Promise<boolean> }) {
  const { t } = useI18n();
  const [name, setName] = useState(props.self.name);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    if (!(await props.onDone(name.trim()))) setBusy(false);
  };
  return (
    <main className="first-run">
      <form className="first-run-card" onSubmit={submit} aria-labelledby="first-run-title">
        <div className="brand-mark" aria-hidden="true">P</div>
        <h1 id="first-run-title">{t('firstRun.title')}</h1>
        <p className="lead">{t('firstRun.lead')}</p>
        <label className="field">
          <span className="field-label">{t('firstRun.nameLabel')}</span>
          <input
            autoFocus
            required
            maxLength={LIMITS.displayName}
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-describedby="first-run-name-help"
            name="displayName"
          />
          <span className="field-help" id="first-run-name-help">
            {t('firstRun.nameHelp')}
          </span>
        </label>
        <section className="callout" aria-labelledby="firewall-title">
          <h2 id="firewall-title">{t('firstRun.firewallTitle')}</h2>
          <p>{t('firstRun.firewallText')}</p>
        </section>
        <button type="submit" className="primary wide" disabled={busy || !name.trim()}>
          {t('firstRun.start')}
        </button>
        <p className="first-run-id">
          {t('firstRun.yourId')}: <code>{props.self.displayId}</code>
        </p>
      </form>
    </main>
  );
}
