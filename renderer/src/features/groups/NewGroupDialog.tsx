import { useState, type FormEvent } from 'react';
import { LIMITS, type GroupConversationInfo, type PeerId } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { MemberPicker } from './MemberPicker.tsx';

export function NewGroupDialog(props: { store: AppStore; onClose: () => void; onCreated: (c: GroupConversationInfo) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<Set<PeerId>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const info = await props.store.api.call('createGroup', { name: name.trim(), members: [...picked] });
      props.onCreated(info);
    } catch (err) {
      // The core's reason is a sentence: e.g. who was never connected here, so their certificate is unknown.
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('groups.newTitle')} closeLabel={t('groups.cancel')} onClose={props.onClose} className="group-dialog">
      <form onSubmit={submit} className="form">
        <label className="field">
          <span className="field-label">{t('groups.name')}</span>
          <input autoFocus required name="groupName" value={name} onChange={(e) => setName(e.target.value)} maxLength={LIMITS.displayName} autoComplete="off" />
        </label>
        <MemberPicker legend={t('groups.members')} peers={[...props.store.peers.values()]} picked={picked} onChange={setPicked} />
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            {t('groups.cancel')}
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim() || picked.size === 0}>
            {t('groups.create')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
