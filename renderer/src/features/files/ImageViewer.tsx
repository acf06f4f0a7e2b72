// The full-size image in the app: a modal dialog (Escape or the backdrop closes it). The
// bytes come from the host ('/media/<id>', served with a checked image type); until they are
// here, the sender's preview stands in. An image that fails to decode shows a placeholder.
import { useState } from 'react';
import type { MessageInfo } from '../../../../main/contract/contract.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Dialog, Icon } from '../../ui/Dialog.tsx';
import { thumbnailUrl } from './media.ts';

export function ImageViewer(props: { m: MessageInfo; onClose: () => void }) {
  const { t } = useI18n();
  const a = props.m.attachment!;
  const [broken, setBroken] = useState(false);
  const src = a.url ?? thumbnailUrl(a.thumbnail);
  return (
    <Dialog title={a.name} closeLabel={t('file.closeViewer')} onClose={props.onClose} className="image-viewer">
      <div className="image-viewer-body">
        {src && !broken ? (
          <img src={src} alt={a.name} onError={() => setBroken(true)} data-testid="image-full" data-full={a.url ? 'true' : 'false'} />
        ) : (
          <div className="attachment-placeholder big" role="img" aria-label={t('file.noPreview')} data-testid="image-placeholder">
            <Icon name="image" />
          </div>
        )}
        {!a.url ? <p className="muted small">{t('file.previewOnly')}</p> : null}
      </div>
    </Dialog>
  );
}
