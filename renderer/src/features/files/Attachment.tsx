// A file in a message: an image preview (click for the full size), an audio or video player
// once the bytes are here, or a card with the name, size and state. While a transfer runs
// there is a progress bar with speed and time left; offers to me have Accept and Decline.
// Names are the sender's text: shown as text, never used as a path here.
import { useState } from 'react';
import type { AttachmentInfo, MessageInfo } from '../../../../main/contract/contract.ts';
import { useI18n, type TFunction } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { formatBytes, formatDuration, thumbnailUrl } from './media.ts';

export type FileAction = 'accept' | 'decline' | 'cancel' | 'retry' | 'showInFolder' | 'view';

const ACTIVE = new Set(['offered', 'waiting', 'running']);

function stateText(a: AttachmentInfo, t: TFunction): string {
  const tr = a.transfer;
  switch (tr.state) {
    case 'offered':
      return tr.direction === 'receive' ? t('file.offeredToMe') : t('file.offered');
    case 'waiting':
      return t('file.waiting');
    case 'running':
      return tr.direction === 'receive' ? t('file.receiving') : t('file.sending');
    case 'done':
      if (tr.recipients && tr.direction === 'send') return t('file.doneOf', { done: tr.recipients.done, total: tr.recipients.total });
      return tr.direction === 'receive' ? t('file.received') : t('file.sent');
    case 'declined':
      return t('file.declined');
    case 'canceled':
      return t('file.canceled');
    case 'failed':
      return tr.reason ? t('file.failedWhy', { reason: reasonText(tr.reason, t) }) : t('file.failed');
  }
}

/** The core's failure code in words where there are words for it (the code otherwise). */
function reasonText(code: string, t: TFunction): string {
  if (code === 'disk-full' || code === 'insufficient-space' || code === 'quota-exceeded') return t('file.reason.space');
  if (code === 'not-writable' || code === 'unsafe-path' || code === 'path-too-long') return t('file.reason.write');
  if (code === 'source-changed') return t('file.reason.changed');
  if (code === 'too-large' || code === 'too-large-for-filesystem') return t('file.reason.tooLarge');
  if (code === 'unsafe-name') return t('file.reason.unsafeName');
  return code;
}

export function Attachment(props: { m: MessageInfo; desktop: boolean; folderFollower?: boolean; onAction: (action: FileAction, m: MessageInfo) => void }) {
  const { t, lang } = useI18n();
  const { m } = props;
  const a = m.attachment!;
  const tr = a.transfer;
  const [broken, setBroken] = useState(false);
  const thumb = thumbnailUrl(a.thumbnail);
  const pct = tr.bytesTotal > 0 ? Math.min(100, Math.floor((tr.bytesDone / tr.bytesTotal) * 100)) : 0;
  const act = (action: FileAction) => () => props.onAction(action, m);
  const showsBar = tr.state === 'running' || (tr.state === 'waiting' && tr.bytesDone > 0);
  // The sender's words for where this file sits in its folder ("Project/src"): text only.
  const folderPath = a.folder ? [a.folder.name, a.folder.path].filter((p) => p !== '').join('/') : null;

  let media = null;
  if (a.kind === 'image') {
    media =
      thumb && !broken ? (
        <button type="button" className="attachment-image" onClick={act('view')} aria-label={t('file.viewImage', { name: a.name })} data-testid="attachment-image">
          <img
            src={thumb}
            alt={a.name}
            width={a.width && a.height ? Math.min(320, a.width) : undefined}
            style={a.width && a.height ? { aspectRatio: `${a.width} / ${a.height}` } : undefined}
            onError={() => setBroken(true)}
            draggable={false}
          />
        </button>
      ) : a.url ? (
        // No preview (or one that would not decode), but the image is here: it opens full size.
        <button type="button" className="attachment-placeholder" onClick={act('view')} aria-label={t('file.viewImage', { name: a.name })} data-testid="image-placeholder">
          <Icon name="image" />
        </button>
      ) : (
        <div className="attachment-placeholder" role="img" aria-label={t('file.noPreview')} data-testid="image-placeholder">
          <Icon name="image" />
        </div>
      );
  } else if (a.url && (a.kind === 'audio' || a.kind === 'voice')) {
    media = <audio className="attachment-audio" controls preload="metadata" src={a.url} data-testid="attachment-audio" />;
  } else if (a.url && a.kind === 'video') {
    media = <video className="attachment-video" controls preload="metadata" src={a.url} data-testid="attachment-video" />;
  }

  const icon = a.kind === 'image' ? 'image' : a.kind === 'audio' || a.kind === 'voice' ? 'mic' : a.kind === 'video' ? 'video' : 'file';
  return (
    <div className={`attachment kind-${a.kind} tstate-${tr.state}`} data-testid="attachment" data-transfer-state={tr.state}>
      {media}
      <div className="attachment-card">
        <Icon name={icon} className="attachment-icon" />
        <div className="attachment-info">
          <bdi className="attachment-name" title={a.name}>
            {a.kind === 'voice' ? t('file.voice') : a.name}
          </bdi>
          {folderPath !== null ? (
            <span className="attachment-folder" title={t('file.inFolder', { path: folderPath })} data-testid="attachment-folder">
              <Icon name="folder" />
              <bdi>{folderPath}</bdi>
            </span>
          ) : null}
          <span className="attachment-meta">
            {formatBytes(a.size, lang)}
            {a.durationMs ? ` · ${formatDuration(a.durationMs)}` : ''}
            {' · '}
            <span data-testid="attachment-state">{stateText(a, t)}</span>
          </span>
          {showsBar ? (
            <div className="transfer-progress">
              <div
                className="progress"
                role="progressbar"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={pct}
                aria-label={t('file.progress', { name: a.name })}
                data-testid="transfer-progress"
              >
                <div className="progress-fill" style={{ width: `${pct}%` }} />
              </div>
              <span className="transfer-figures">
                {t('file.figures', {
                  done: formatBytes(tr.bytesDone, lang),
                  total: formatBytes(tr.bytesTotal, lang),
                  speed: `${formatBytes(tr.bytesPerSec, lang)}/s`,
                })}
                {tr.etaMs !== null ? ` · ${t('file.eta', { time: formatDuration(tr.etaMs) })}` : ''}
              </span>
            </div>
          ) : null}
        </div>
      </div>
      <div className="attachment-actions">
        {tr.state === 'offered' && tr.direction === 'receive' && !props.folderFollower ? (
          <>
            <button type="button" className="small-button primary" onClick={act('accept')}>
              {a.folder
                ? t(a.folder.count === 1 ? 'file.acceptFolderOne' : 'file.acceptFolder', { count: a.folder.count, size: formatBytes(a.folder.bytes, lang) })
                : t('file.accept')}
            </button>
            <button type="button" className="small-button" onClick={act('decline')}>
              {t('file.decline')}
            </button>
          </>
        ) : null}
        {ACTIVE.has(tr.state) && !(tr.state === 'offered' && tr.direction === 'receive') ? (
          <button type="button" className="small-button" onClick={act('cancel')}>
            {t('file.cancel')}
          </button>
        ) : null}
        {tr.state === 'failed' && tr.resumable ? (
          <button type="button" className="small-button" onClick={act('retry')}>
            {t('file.retry')}
          </button>
        ) : null}
        {props.desktop && tr.state === 'done' && tr.direction === 'receive' ? (
          <button type="button" className="small-button" onClick={act('showInFolder')}>
            {t('file.showInFolder')}
          </button>
        ) : null}
        {a.url && a.kind === 'file' && !props.desktop ? (
          // Served as an attachment (Content-Disposition), never opened by the app.
          <a className="small-button" href={a.url} download={a.name}>
            {t('file.save')}
          </a>
        ) : null}
      </div>
    </div>
  );
}
