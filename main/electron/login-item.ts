// "Start at login" is a core setting that only the desktop shell can carry out: it asks the
// system for a login item (macOS, Windows; Electron does nothing on Linux) when the setting
// changes, and once at start so that the system agrees with the settings.
import type { ParleyApi, Settings } from '../contract/contract.ts';
import type { Logger } from '../core/log.ts';

export interface LoginItemApp {
  setLoginItemSettings(s: { openAtLogin: boolean }): void;
}

export function syncLoginItem(app: LoginItemApp, api: ParleyApi, log?: Logger): () => void {
  let applied: boolean | null = null;
  const apply = (s: Settings) => {
    if (s.startAtLogin === applied) return;
    applied = s.startAtLogin;
    try {
      app.setLoginItemSettings({ openAtLogin: s.startAtLogin });
      log?.info({ startAtLogin: s.startAtLogin }, 'login item updated');
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'login item could not be changed');
    }
  };
  const off = api.on('settings', apply);
  void api.call('getSettings', {}).then(apply, (err: Error) => log?.warn({ err: err.message }, 'settings unavailable for the login item'));
  return off;
}
