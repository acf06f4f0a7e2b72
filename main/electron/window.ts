// The main window's options: sandboxed, isolated, no Node, CSP via the app:// protocol.
import type { BrowserWindowConstructorOptions } from 'electron';
import { APP_URL, secureWebPreferences } from './security.ts';

export function mainWindowOptions(preloadPath: string, iconPath?: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    minWidth: 720,
    minHeight: 520,
    show: false,
    title: 'Parley',
    backgroundColor: '#16181d',
    autoHideMenuBar: true,
    ...(iconPath ? { icon: iconPath } : {}),
    webPreferences: secureWebPreferences(preloadPath),
  };
}

/** The renderer learns that it must ask for a display name from the URL (the preload exposes commands only). */
export function startUrl(needsName: boolean): string {
  return needsName ? `${APP_URL}?setup=1` : APP_URL;
}
