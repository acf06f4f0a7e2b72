// Message catalogues and the `t` function. Strings never contain markup: placeholders are
// filled with plain text and rendered by React as text.
import { createContext, useContext } from 'react';
import { en, type Catalogue, type MessageKey } from './en.ts';
import { zhCN } from './zh-CN.ts';

export type Language = 'en' | 'zh-CN';
export type LanguagePref = Language | 'system';

export const catalogues: Record<Language, Catalogue> = { en, 'zh-CN': zhCN };
/** Shown in the language picker in their own script. */
export const languageNames: Record<Language, string> = { en: 'English', 'zh-CN': '简体中文' };

export function resolveLanguage(pref: LanguagePref, navigatorLanguage = navigator.language): Language {
  if (pref !== 'system') return pref;
  return navigatorLanguage.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export type TFunction = (key: MessageKey, params?: Record<string, string | number>) => string;

export function makeT(lang: Language): TFunction {
  const cat = catalogues[lang];
  return (key, params) => {
    const s = cat[key] ?? en[key];
    if (!params) return s;
    return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
  };
}

export const I18nContext = createContext<{ lang: Language; t: TFunction }>({ lang: 'en', t: makeT('en') });

export function useI18n(): { lang: Language; t: TFunction } {
  return useContext(I18nContext);
}
