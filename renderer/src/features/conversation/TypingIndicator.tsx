// "Bob is typing…" between the messages and the composer. The live region is always in the
// DOM (a region that appears together with its text is not announced by every screen
// reader); only its content comes and goes. Names are peer text, so each sits in a <bdi>.
import { useI18n } from '../../i18n/i18n.tsx';

/** Splits a message around its {name} placeholder so the name can be isolated in the markup. */
function around(template: string): [string, string] {
  const at = template.indexOf('\u0000');
  return at < 0 ? [template, ''] : [template.slice(0, at), template.slice(at + 1)];
}

export function TypingIndicator(props: { names: string[] }) {
  const { t } = useI18n();
  const { names } = props;
  let content = null;
  if (names.length > 0) {
    // Conversations are one-to-one, so there is one name here.
    const [before, after] = around(t('conv.typing', { name: '\u0000' }));
    content = (
      <span className="typing-pill">
        <span className="typing-dots" aria-hidden="true">
          <span />
          <span />
          <span />
        </span>
        <span>
          {before}
          <bdi>{names[0]}</bdi>
          {after}
        </span>
      </span>
    );
  }
  return (
    <div className="typing-slot">
      <div className="typing-indicator" aria-live="polite" aria-atomic="true" data-testid="typing-indicator">
        {content}
      </div>
    </div>
  );
}
