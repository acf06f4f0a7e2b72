// The microphone button: records a voice message (Opus in WebM where the browser has it),
// shows the time while recording, and sends it when stopped. Recording needs the person's
// permission; a refusal or a missing microphone is said plainly, never retried behind
// their back.
import { useEffect, useRef, useState } from 'react';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { formatDuration } from './media.ts';

const PREFERRED = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm'];
/** A voice message is a message, not a recording session. */
const MAX_MS = 15 * 60_000;

interface Recording {
  recorder: MediaRecorder;
  stream: MediaStream;
  started: number;
  chunks: Blob[];
  /** False when the person cancelled: the recording is dropped. */
  keep: boolean;
}

export function VoiceRecorder(props: { store: AppStore; convId: string; disabled?: boolean }) {
  const { t } = useI18n();
  const { store, convId } = props;
  const rec = useRef<Recording | null>(null);
  const [elapsed, setElapsed] = useState<number | null>(null);

  useEffect(() => {
    if (elapsed === null) return;
    const timer = setInterval(() => {
      const r = rec.current;
      if (!r) return;
      const ms = Date.now() - r.started;
      setElapsed(ms);
      if (ms >= MAX_MS) stop(true);
    }, 250);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [elapsed === null]);

  // Leaving the conversation mid-recording drops it and frees the microphone.
  useEffect(() => () => stop(false), []);

  const start = async () => {
    if (rec.current) return;
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
      store.notify(t('voice.unsupported'), 'warning');
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      const name = (err as DOMException).name;
      store.notify(name === 'NotAllowedError' || name === 'SecurityError' ? t('voice.denied') : name === 'NotFoundError' ? t('voice.noMic') : t('voice.failed', { reason: (err as Error).message }), 'warning');
      return;
    }
    const mimeType = PREFERRED.find((m) => MediaRecorder.isTypeSupported(m));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    const r: Recording = { recorder, stream, started: Date.now(), chunks: [], keep: true };
    rec.current = r;
    recorder.ondataavailable = (e) => {
      if (e.data.size) r.chunks.push(e.data);
    };
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      const durationMs = Date.now() - r.started;
      if (!r.keep || r.chunks.length === 0) return;
      const type = (recorder.mimeType || mimeType || 'audio/webm').split(';')[0]!;
      const blob = new Blob(r.chunks, { type });
      const stamp = new Date(r.started).toISOString().replace(/[:.]/g, '-').slice(0, 19);
      void store.sendFile(convId, blob, { name: `voice-${stamp}.${type.includes('ogg') ? 'ogg' : 'webm'}`, kind: 'voice', durationMs });
    };
    recorder.start(1000);
    setElapsed(0);
  };

  function stop(keep: boolean): void {
    const r = rec.current;
    if (!r) return;
    rec.current = null;
    r.keep = keep;
    if (r.recorder.state !== 'inactive') r.recorder.stop();
    else for (const track of r.stream.getTracks()) track.stop();
    setElapsed(null);
  }

  if (elapsed !== null) {
    return (
      <div className="voice-recording" role="group" aria-label={t('voice.recording')}>
        <span className="rec-dot" aria-hidden="true" />
        <span className="rec-time" role="timer" aria-live="off" data-testid="voice-elapsed">
          {formatDuration(elapsed)}
        </span>
        <button type="button" className="icon-button small" onClick={() => stop(false)} aria-label={t('voice.cancel')} title={t('voice.cancel')}>
          <Icon name="close" />
        </button>
        <button type="button" className="icon-button small rec-stop" onClick={() => stop(true)} aria-label={t('voice.stop')} title={t('voice.stop')}>
          <Icon name="stop" />
        </button>
      </div>
    );
  }
  return (
    <button type="button" className="icon-button composer-tool" onClick={() => void start()} aria-label={t('voice.record')} title={t('voice.record')} disabled={props.disabled}>
      <Icon name="mic" />
    </button>
  );
}
