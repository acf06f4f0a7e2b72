// The Electron security configuration as small pure functions, so tests can check each one
// with a recording stand-in for Electron's objects. Nothing here imports 'electron' at run
// time (type imports are erased); main.ts injects the real objects.
import type { WebPreferences } from 'electron';

export const APP_SCHEME = 'app';
export const APP_HOST = 'parley';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/** `default-src 'self'`; the renderer needs nothing else (no inline code, no remote hosts). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    experimentalFeatures: false,
    safeDialogs: true,
    spellcheck: true,
  };
}

const EXTERNAL_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** The URL to hand to the OS, or null. Parsed, never pattern-matched (Mattermost CVE-2024-37182). */
export function parseExternalUrl(raw: unknown): URL | null {
  if (typeof raw !== 'string' || raw.length > 4096) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!EXTERNAL_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && (!url.hostname || url.username || url.password)) return null;
  return url;
}

export function isAppUrl(raw: string | undefined | null): boolean {
  if (!raw) return false;
  try {
    const url = new URL(raw);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
  } catch {
    return false;
  }
}

/** IPC only from our own page (Electron checklist item 17). */
export function isTrustedSender(frame: { url: string } | null | undefined): boolean {
  return !!frame && isAppUrl(frame.url);
}

export interface ShellLike {
  openExternal(url: string): Promise<void>;
}

export interface PreventableEvent {
  preventDefault(): void;
}

export interface WebContentsLike {
  on(event: 'will-navigate', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

/** Opens a link in the OS browser when it is safe; says whether it did. */
export function openExternally(shell: ShellLike, raw: unknown): boolean {
  const url = parseExternalUrl(raw);
  if (!url) return false;
  shell.openExternal(url.href).catch(() => undefined);
  return true;
}

/**
 * No navigation away from the app, no new windows, no webviews. Links the renderer marks
 * target=_blank arrive at the window-open handler and go to the OS browser if safe.
 */
export function hardenWebContents(contents: WebContentsLike, shell: ShellLike): void {
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    openExternally(shell, url);
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(shell, url);
    return { action: 'deny' };
  });
}

/**
 * Permission requests (checklist item 5): notifications, and the microphone alone for our own
 * page (voice messages). Never the camera, the screen, or any other origin.
 */
export function permissionRequestHandler(
  _contents: unknown,
  permission: string,
  callback: (granted: boolean) => void,
  details?: { requestingUrl?: string; mediaTypes?: string[] },
): void {
  const types = details?.mediaTypes ?? [];
  callback(permission === 'notifications' || (permission === 'media' && isAppUrl(details?.requestingUrl) && types.length > 0 && types.every((t) => t === 'audio')));
}

export function permissionCheckHandler(_contents: unknown, permission: string, requestingOrigin?: string, details?: { mediaType?: string }): boolean {
  return permission === 'notifications' || (permission === 'media' && requestingOrigin === APP_ORIGIN && details?.mediaType === 'audio');
}
