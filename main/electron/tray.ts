// The tray: who I am and my presence, the unread count, presence switching, show, quit.
// Template and tooltip builders only, so they stay testable without Electron. Labels come from
// the renderer's catalogues (the shell picks one by the system locale).
import type { MenuItemConstructorOptions } from 'electron';
import type { SelfInfo } from '../contract/contract.ts';
import type { Catalogue } from '../../renderer/src/i18n/en.ts';

export type SettablePresence = 'online' | 'away' | 'busy';

export interface TrayActions {
  setPresence(p: SettablePresence): void;
  show(): void;
  quit(): void;
}

const PRESENCE_KEY = { online: 'presence.online', away: 'presence.away', busy: 'presence.busy' } as const;

function fill(s: string, params: Record<string, string | number>): string {
  return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

export function trayMenuTemplate(self: SelfInfo, unread: number, text: Catalogue, actions: TrayActions): MenuItemConstructorOptions[] {
  const presences: SettablePresence[] = ['online', 'away', 'busy'];
  const current = self.presence === 'offline' ? 'online' : self.presence;
  return [
    { label: `${self.name} — ${text[PRESENCE_KEY[current]]}`, enabled: false },
    ...(unread > 0 ? [{ label: fill(text['tray.unread'], { count: unread }), click: () => actions.show() }] : []),
    { type: 'separator' },
    ...presences.map(
      (p): MenuItemConstructorOptions => ({ label: text[PRESENCE_KEY[p]], type: 'radio', checked: self.presence === p, click: () => actions.setPresence(p) }),
    ),
    { type: 'separator' },
    { label: text['tray.show'], click: () => actions.show() },
    { label: text['tray.quit'], click: () => actions.quit() },
  ];
}

export function trayTooltip(self: SelfInfo, unread: number, text: Catalogue): string {
  return unread > 0 ? `Parley — ${self.name} (${fill(text['tray.unread'], { count: unread })})` : `Parley — ${self.name}`;
}
