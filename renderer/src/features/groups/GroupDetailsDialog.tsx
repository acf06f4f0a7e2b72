import { useState, type FormEvent } from 'react';
import { LIMITS, type GroupConversationInfo, type PeerId } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Avatar } from '../../ui/Avatar.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { MemberPicker } from './MemberPicker.tsx';

export function GroupDetailsDialog(props: { store: AppStore; info: GroupConversationInfo; nameOf: (id: string) => string; onClose: () => void }) {
  const { t } = useI18n();
  const { store, info } = props;
  const selfId = store.self?.id;
  const isOwner = info.group.isMember && info.group.owner === selfId;
  const [name, setName] = useState(info.group.name);
  const [adding, setAdding] = useState<Set<PeerId>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<GroupConversationInfo>) => {
    setBusy(true);
    setError(null);
    try {
      store.upsertConv(await work());
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const rename = (e: FormEvent) => {
    e.preventDefault();
    void run(() => store.api.call('renameGroup', { convId: info.id, name: name.trim() }));
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (await run(() => store.api.call('addGroupMembers', { convId: info.id, members: [...adding] }))) setAdding(new Set());
  };
  const leave = async () => {
    if (!window.confirm(t('groups.leaveConfirm'))) return;
    if (await run(() => store.api.call('leaveGroup', { convId: info.id }))) props.onClose();
  };
  const memberIds = new Set(info.group.members.map((m) => m.id));
  const candidates = [...store.peers.values()].filter((p) => !memberIds.has(p.id));

  return (
    <Dialog title={t('groups.detailsTitle')} closeLabel={t('groups.cancel')} onClose={props.onClose} className="group-dialog">
      <div className="form">
        {info.group.isMember ? (
          <form onSubmit={rename} className="inline-form">
            <label className="field">
              <span className="field-label">{t('groups.name')}</span>
              <input required name="groupName" value={name} onChange={(e) => setName(e.target.value)} maxLength={LIMITS.displayName} autoComplete="off" />
            </label>
            <button type="submit" disabled={busy || !name.trim() || name.trim() === info.group.name}>
              {t('groups.rename')}
            </button>
          </form>
        ) : (
          <p className="lead">
            <bdi>{info.group.name}</bdi>
          </p>
        )}
        <h3 className="field-label">
          {t('groups.members')} <span className="muted">({info.group.members.length})</span>
        </h3>
        <ul role="list" className="member-list" data-testid="member-list">
          {info.group.members.map((m) => {
            const name = m.id === selfId ? (store.self?.name ?? '') : props.nameOf(m.id);
            return (
            <li key={m.id} className="member" data-peer-id={m.id}>
              <Avatar id={m.id} name={name} size="sm" />
              <bdi className="member-name">{name}</bdi>
              {m.id === selfId ? <span className="muted small">({t('groups.me')})</span> : null}
              {m.id === info.group.owner ? <span className="tag">{t('groups.owner')}</span> : null}
              {isOwner && m.id !== selfId ? (
                <button
                  type="button"
                  className="link-button"
                  disabled={busy}
                  aria-label={t('groups.removeLabel', { name: props.nameOf(m.id) })}
                  onClick={() => void run(() => store.api.call('removeGroupMember', { convId: info.id, peerId: m.id }))}
                >
                  {t('groups.remove')}
                </button>
              ) : null}
            </li>
            );
          })}
        </ul>
        {isOwner && candidates.length > 0 ? (
          <form onSubmit={add} className="add-members">
            <MemberPicker legend={t('groups.add')} peers={candidates} picked={adding} onChange={setAdding} />
            <div className="actions">
              <button type="submit" disabled={busy || adding.size === 0}>
                {t('groups.addSubmit')}
              </button>
            </div>
          </form>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        {info.group.isMember ? (
          <div className="actions">
            <button type="button" className="danger" disabled={busy} onClick={() => void leave()}>
              {t('groups.leave')}
            </button>
          </div>
        ) : null}
      </div>
    </Dialog>
  );
}
