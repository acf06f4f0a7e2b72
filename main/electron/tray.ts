// The tray menu: presence, show the window, quit. A template builder, so it stays testable.
import type { MenuItemConstructorOptions } from 'electron';
import type { SelfInfo } from '../contract/contract.ts';

export type SettablePresence = 'online' | 'away' | 'busy';

export interface TrayActions {
  setPresence(p: SettablePresence): void;
  show(): void;
  quit(): void;
}

const LABELS: Record<SettablePresence, string> = { online: 'Online', away: 'Away', busy: 'Busy' };

export function trayMenuTemplate(self: SelfInfo, actions: TrayActions): MenuItemConstructorOptions[] {
  const presences: SettablePresence[] = ['online', 'away', 'busy'];
  return [
    { label: `${self.name} — ${LABELS[self.presence === 'offline' ? 'online' : self.presence]}`, enabled: false },
    { type: 'separator' },
    ...presences.map(
      (p): MenuItemConstructorOptions => ({ label: LABELS[p], type: 'radio', checked: self.presence === p, click: () => actions.setPresence(p) }),
    ),
    { type: 'separator' },
    { label: 'Show Parley', click: () => actions.show() },
    { label: 'Quit Parley', click: () => actions.quit() },
  ];
}

export function trayTooltip(self: SelfInfo): string {
  return `Parley — ${self.name}`;
}
