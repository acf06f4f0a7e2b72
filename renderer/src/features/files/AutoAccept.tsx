// "Accept files without asking": the default limit (Settings → Files) and one person's own
// limit (their details). Both write Settings.autoAccept; the core applies it to each offer.
import { useId, useState } from 'react';
import type { PeerInfo, Settings } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { formatBytes } from './media.ts';

const MB = 1024 * 1024;
/** The choices offered; "any size" is the largest limit the core accepts (64 GiB). */
const ANY_SIZE = 64 * 1024 * MB;
export const AUTO_ACCEPT_CHOICES = [0, 10 * MB, 100 * MB, 1024 * MB, ANY_SIZE] as const;
/** Images and voice messages up to this size come in from anyone (main/core/attachments/auto-accept.ts). */
const MEDIA_ALWAYS = 4 * MB;

function useLimitLabel() {
  const { t, lang } = useI18n();
  return (bytes: number) =>
    bytes === 0 ? t('autoAccept.ask') : bytes >= ANY_SIZE ? t('autoAccept.any') : t('autoAccept.upTo', { size: formatBytes(bytes, lang) });
}

function choices(current: number): number[] {
  const all: number[] = [...AUTO_ACCEPT_CHOICES];
  if (!all.includes(current)) all.push(current); // a value set elsewhere (the API) is shown as it is
  return all.sort((a, b) => a - b);
}

async function save(store: AppStore, update: Parameters<AppStore['updateSettings']>[0], setError: (e: string | null) => void) {
  try {
    await store.updateSettings(update);
    setError(null);
  } catch (err) {
    setError((err as Error).message);
  }
}

function SaveError(props: { message: string | null }) {
  const { t } = useI18n();
  if (!props.message) return null;
  return (
    <p className="form-error" role="alert">
      {t('settings.error', { message: props.message })}
    </p>
  );
}

/** The default for everyone, in Settings → Files. */
export function AutoAcceptDefault(props: { store: AppStore; settings: Settings }) {
  const { t } = useI18n();
  const label = useLimitLabel();
  const [error, setError] = useState<string | null>(null);
  const helpId = useId();
  const value = props.settings.autoAccept.defaultMaxBytes;
  return (
    <>
      <label className="field">
        <span className="field-label">{t('autoAccept.default')}</span>
        <select
          name="autoAcceptDefault"
          value={value}
          aria-describedby={helpId}
          onChange={(e) => void save(props.store, { autoAccept: { defaultMaxBytes: Number(e.target.value) } }, setError)}
        >
          {choices(value).map((v) => (
            <option key={v} value={v}>
              {label(v)}
            </option>
          ))}
        </select>
        <span className="field-help" id={helpId}>
          {t('autoAccept.help', { size: `${MEDIA_ALWAYS / MB} MB` })}
        </span>
      </label>
      <SaveError message={error} />
    </>
  );
}

/** One person's own limit, in their details; "as in Settings" removes it. */
export function AutoAcceptForPeer(props: { store: AppStore; peer: PeerInfo }) {
  const { t } = useI18n();
  const label = useLimitLabel();
  const [error, setError] = useState<string | null>(null);
  const settings = props.store.settings;
  if (!settings) return null;
  const own = settings.autoAccept.peers[props.peer.id];
  const DEFAULT = 'default';
  const update = (raw: string) => {
    const peers = { ...settings.autoAccept.peers };
    if (raw === DEFAULT) delete peers[props.peer.id];
    else peers[props.peer.id] = Number(raw);
    void save(props.store, { autoAccept: { peers } }, setError);
  };
  return (
    <>
      <label className="field">
        <span className="field-label">{t('autoAccept.peer')}</span>
        <select name="autoAcceptPeer" value={own === undefined ? DEFAULT : own} onChange={(e) => update(e.target.value)}>
          <option value={DEFAULT}>{t('autoAccept.asDefault', { limit: label(settings.autoAccept.defaultMaxBytes) })}</option>
          {choices(own ?? 0).map((v) => (
            <option key={v} value={v}>
              {label(v)}
            </option>
          ))}
        </select>
      </label>
      <SaveError message={error} />
    </>
  );
}
