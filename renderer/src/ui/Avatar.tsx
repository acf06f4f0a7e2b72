import type { Presence } from '../../../main/contract/contract.ts';
import { useI18n } from '../i18n/i18n.tsx';

/** First letter of up to two words; grapheme-aware so emoji and CJK names work. */
export function initials(name: string): string {
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const words = name.trim().split(/\s+/).filter(Boolean).slice(0, 2);
  return words.map((w) => seg.segment(w)[Symbol.iterator]().next().value?.segment ?? '').join('').toUpperCase() || '?';
}

/** A stable hue per peer ID, so the same person keeps their colour everywhere. */
export function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

export function Avatar(props: { id: string; name: string; presence?: Presence | undefined; size?: 'sm' | 'md' | 'lg' }) {
  const { t } = useI18n();
  return (
    <span className={`avatar avatar-${props.size ?? 'md'}`} aria-hidden={props.presence ? undefined : true}>
      <span className="avatar-face" style={{ ['--hue' as string]: String(hueOf(props.id)) }} aria-hidden="true">
        {initials(props.name)}
      </span>
      {props.presence ? <PresenceDot presence={props.presence} label={t(`presence.${props.presence}`)} /> : null}
    </span>
  );
}

export function PresenceDot(props: { presence: Presence; label: string }) {
  return <span className={`presence-dot presence-${props.presence}`} role="img" aria-label={props.label} title={props.label} />;
}
