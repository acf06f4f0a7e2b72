// Verified badges and the key-change warning, shared by the people list, the conversation and
// the peer details. Peer-chosen names only ever enter as React text, isolated in <bdi>.
import { Fragment, type ReactNode } from 'react';
import type { PeerInfo } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import type { MessageKey } from '../../i18n/en.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import './trust.css';

/**
 * A catalogue string with its {placeholders} filled by React nodes, each value isolated in
 * <bdi> so that a right-to-left or oddly punctuated name cannot reorder the sentence around it.
 */
export function useRich(): (key: MessageKey, params: Record<string, string>) => ReactNode {
  const { t } = useI18n();
  return (key, params) =>
    t(key)
      .split(/(\{\w+\})/)
      .map((part, i) => {
        const name = /^\{(\w+)\}$/.exec(part)?.[1];
        return name !== undefined && name in params ? <bdi key={i}>{params[name]}</bdi> : <Fragment key={i}>{part}</Fragment>;
      });
}

export function VerifiedBadge(props: { compact?: boolean }) {
  const { t } = useI18n();
  return (
    <span className={`verified-badge${props.compact ? ' compact' : ''}`} title={t('verify.badge')} data-testid="verified-badge">
      <Icon name="shield" />
      {props.compact ? <span className="visually-hidden">{t('verify.badge')}</span> : <span>{t('verify.badge')}</span>}
    </span>
  );
}

/** Verify or dismiss, reporting failures as notices; the core's `peer` event updates the views. */
export async function setVerified(store: AppStore, peer: PeerInfo, verified: boolean): Promise<void> {
  try {
    await store.api.call('setVerified', { peerId: peer.id, verified });
  } catch (err) {
    store.notify((err as Error).message);
  }
}

export async function dismissKeyChange(store: AppStore, peer: PeerInfo): Promise<void> {
  try {
    await store.api.call('dismissKeyChange', { peerId: peer.id });
  } catch (err) {
    store.notify((err as Error).message);
  }
}

/**
 * The loud warning: this ID is not the contact whose name it carries. `onVerify` leads into the
 * verify flow (verifying clears the warning); Dismiss hides it without verifying.
 */
export function KeyChangeWarning(props: { store: AppStore; peer: PeerInfo; variant: 'banner' | 'card'; onVerify: () => void }) {
  const { t } = useI18n();
  const rich = useRich();
  const kc = props.peer.keyChange;
  if (!kc) return null;
  const name = kc.previousName;
  return (
    <div className={`key-change key-change-${props.variant}`} role="alert" data-testid="key-change-warning">
      <Icon name="warning" className="key-change-icon" />
      <div className="key-change-body">
        <strong className="key-change-title">{t('keyChange.title')}</strong>
        <p className="key-change-text">{rich('keyChange.text', { name })}</p>
        {kc.verifiedBefore ? <p className="key-change-text">{rich('keyChange.verifiedBefore', { name })}</p> : null}
        <div className="key-change-actions">
          <button type="button" className="danger-solid" onClick={props.onVerify}>
            {t('keyChange.verify')}
          </button>
          <button type="button" onClick={() => void dismissKeyChange(props.store, props.peer)}>
            {t('keyChange.dismiss')}
          </button>
        </div>
      </div>
    </div>
  );
}
