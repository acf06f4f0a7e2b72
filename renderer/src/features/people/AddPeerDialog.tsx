import { useState, type FormEvent } from 'react';
import type { PeerInfo, SelfInfo } from '../../../../main/contract/contract.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Transport } from '../../transport/transport.ts';
import { Dialog } from '../../ui/Dialog.tsx';

export function AddPeerDialog(props: { api: Transport; self: SelfInfo; onClose: () => void; onAdded: (p: PeerInfo) => void }) {
  const { t } = useI18n();
  const [address, setAddress] = useState('');
  const [id, setId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const peer = await props.api.call('addPeer', { address: address.trim(), id: id.replace(/\s+/g, '') });
      props.onAdded(peer);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('addPeer.title')} closeLabel={t('addPeer.cancel')} onClose={props.onClose}>
      <form onSubmit={submit} className="form">
        <p className="lead small">{t('addPeer.lead')}</p>
        <label className="field">
          <span className="field-label">{t('addPeer.address')}</span>
          <input
            autoFocus
            required
            name="address"
            value={address}
            onChange={(e) => setAddress(e.target.value)}
            placeholder="192.168.1.20:47474"
            maxLength={300}
            spellCheck={false}
            autoComplete="off"
            aria-describedby="add-address-help"
          />
          <span className="field-help" id="add-address-help">
            {t('addPeer.addressHelp')}
          </span>
        </label>
        <label className="field">
          <span className="field-label">{t('addPeer.id')}</span>
          <textarea
            required
            name="peerId"
            rows={2}
            value={id}
            onChange={(e) => setId(e.target.value)}
            maxLength={120}
            spellCheck={false}
            className="mono"
            aria-describedby="add-id-help"
          />
          <span className="field-help" id="add-id-help">
            {t('addPeer.idHelp')}
          </span>
        </label>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <div className="share-box">
          <span>{t('addPeer.mine', { port: props.self.port })}</span>
          <code className="mono selectable">{props.self.displayId}</code>
        </div>
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            {t('addPeer.cancel')}
          </button>
          <button type="submit" className="primary" disabled={busy || !address.trim() || id.replace(/[\s-]/g, '').length < 52}>
            {t('addPeer.submit')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
