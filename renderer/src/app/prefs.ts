// Per-device UI preferences (theme, language) and drafts, kept in localStorage: they belong to
// this screen, not to the profile that peers see. Parsed defensively: storage is user-editable.
import type { LanguagePref } from '../i18n/i18n.tsx';

export type ThemePref = 'system' | 'light' | 'dark';
export interface Prefs {
  theme: ThemePref;
  language: LanguagePref;
}

const PREFS_KEY = 'parley.prefs';
const DRAFTS_KEY = 'parley.drafts';
const DEFAULTS: Prefs = { theme: 'system', language: 'system' };

export function loadPrefs(): Prefs {
  try {
    const raw = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') as Record<string, unknown>;
    const theme = raw.theme === 'light' || raw.theme === 'dark' || raw.theme === 'system' ? raw.theme : DEFAULTS.theme;
    const language = raw.language === 'en' || raw.language === 'zh-CN' || raw.language === 'system' ? raw.language : DEFAULTS.language;
    return { theme, language };
  } catch {
    return { ...DEFAULTS };
  }
}

export function savePrefs(p: Prefs): void {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(p));
  } catch {
    // Storage full or disabled: the preference just won't survive a restart.
  }
}

export function loadDrafts(): Map<string, string> {
  try {
    const raw = JSON.parse(localStorage.getItem(DRAFTS_KEY) ?? '{}') as Record<string, unknown>;
    return new Map(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return new Map();
  }
}

export function saveDrafts(drafts: Map<string, string>): void {
  try {
    localStorage.setItem(DRAFTS_KEY, JSON.stringify(Object.fromEntries([...drafts].filter(([, v]) => v))));
  } catch {
    // As above.
  }
}
