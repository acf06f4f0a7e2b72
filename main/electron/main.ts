// The Electron main process: a thin shell around the same core that web mode and the
// headless CLI run. Bundled to dist/electron/main.cjs by scripts/build.ts; `npm start`.
import path from 'node:path';
import { BrowserWindow, Menu, Notification, Tray, app, ipcMain, nativeImage, powerMonitor, protocol, session, shell } from 'electron';
import type { MessageInfo } from '../contract/contract.ts';
import { createLogger } from '../core/log.ts';
import { startNode, type ParleyNode } from '../core/node.ts';
import { needsName, planName, trackNameChoice } from '../web/name-setup.ts';
import { APP_SCHEME_PRIVILEGES, createAppProtocolHandler } from './app-protocol.ts';
import { en } from '../../renderer/src/i18n/en.ts';
import { zhCN } from '../../renderer/src/i18n/zh-CN.ts';
import { watchIdle } from './idle.ts';
import { forwardEvents, registerCommandHandlers } from './ipc.ts';
import { syncLoginItem } from './login-item.ts';
import { createNotifier } from './notifications.ts';
import { APP_SCHEME, hardenWebContents, permissionCheckHandler, permissionRequestHandler } from './security.ts';
import { trayMenuTemplate, trayTooltip } from './tray.ts';
import { mainWindowOptions, startUrl } from './window.ts';

// Parallel test instances must not find each other through the single-instance lock.
const TEST_MODE = process.env.PARLEY_TEST === '1';
const here = import.meta.dirname; // dist/electron once bundled (esbuild defines it)
const rendererDir = path.join(here, '..', 'renderer');
const log = createLogger('parley-desktop');

protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
app.enableSandbox();

let node: ParleyNode | null = null;
let win: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;

function showWindow(): void {
  if (!win) return;
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

async function createWindow(dataDir: string): Promise<void> {
  win = new BrowserWindow(mainWindowOptions(path.join(here, 'preload.cjs'), path.join(here, 'icon.png')));
  win.once('ready-to-show', () => win?.show());
  win.on('close', (e) => {
    // With a tray the app keeps receiving in the background; Quit is in the tray menu.
    if (tray && !quitting) {
      e.preventDefault();
      win?.hide();
    }
  });
  win.on('closed', () => {
    win = null;
  });
  await win.loadURL(startUrl(needsName(dataDir)));
}

function createTray(n: ParleyNode): void {
  try {
    tray = new Tray(nativeImage.createFromPath(path.join(here, 'tray.png')));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no tray available');
    return;
  }
  const refresh = () => {
    tray?.setToolTip(trayTooltip(n.self));
    tray?.setContextMenu(
      Menu.buildFromTemplate(
        trayMenuTemplate(n.self, {
          setPresence: (presence) => void n.api.call('setProfile', { presence }).catch(() => undefined),
          show: showWindow,
          quit: () => app.quit(),
        }),
      ),
    );
  };
  refresh();
  n.api.on('self', refresh);
  tray.on('click', showWindow);
}

async function start(): Promise<void> {
  const dataDir = process.env.PARLEY_DATA_DIR ?? path.join(app.getPath('userData'), 'profile');
  const plan = planName(dataDir);
  node = await startNode({
    dataDir,
    ...(plan.name ? { name: plan.name } : {}),
    // Automated runs wire peers by address and must not find each other on the LAN.
    ...(process.env.PARLEY_NO_DISCOVERY === '1' ? { discovery: false as const } : {}),
    log,
  });
  const api = trackNameChoice(node.api, dataDir);

  protocol.handle(APP_SCHEME, createAppProtocolHandler(rendererDir));
  session.defaultSession.setPermissionRequestHandler(permissionRequestHandler);
  session.defaultSession.setPermissionCheckHandler(permissionCheckHandler);
  registerCommandHandlers(ipcMain, api, log);
  forwardEvents(api, (channel, event, payload) => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, event, payload);
  });

  const n = node;
  // The page's language choice lives in the page; the system's is the best guess out here.
  const catalogue = app.getLocale().toLowerCase().startsWith('zh') ? zhCN : en;
  const notify = createNotifier({
    isFocused: () => !!win && win.isVisible() && win.isFocused(),
    peerName: (id) => n.store.getPeer(id)?.name || id.slice(0, 7),
    settings: () => n.settings.current.notifications,
    presence: () => n.self.presence,
    hiddenBody: catalogue['notify.hiddenBody'],
    show: ({ title, body }) => {
      if (!Notification.isSupported()) return;
      const notification = new Notification({ title, body, silent: false });
      notification.on('click', showWindow);
      notification.show();
    },
  });
  api.on('message', (m: MessageInfo) => notify(m));
  syncLoginItem(app, api, log);
  watchIdle({
    idleSeconds: () => powerMonitor.getSystemIdleTime(),
    locked: () => powerMonitor.getSystemIdleState(1) === 'locked',
    report: (idleMs) => void api.call('reportActivity', { idleMs }).catch(() => undefined),
    onLock: (listener) => powerMonitor.on('lock-screen', listener),
  });

  createTray(n);
  await createWindow(dataDir);
}

if (!TEST_MODE && !app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', showWindow);
  app.on('web-contents-created', (_e, contents) => hardenWebContents(contents, shell));
  app.on('activate', () => (win ? showWindow() : node && void createWindow(process.env.PARLEY_DATA_DIR ?? path.join(app.getPath('userData'), 'profile'))));
  app.on('window-all-closed', () => {
    if (!tray) app.quit();
  });
  // Stop the core (close links, flush and close the database) before the process exits.
  app.on('before-quit', (e) => {
    quitting = true;
    if (!node) return;
    e.preventDefault();
    const n = node;
    node = null;
    void n
      .stop()
      .catch((err: Error) => log.error({ err: err.message }, 'clean shutdown failed'))
      .finally(() => app.quit());
  });
  app.whenReady().then(start, () => undefined).catch((err: Error) => {
    log.error({ err: err.message }, 'could not start');
    app.exit(1);
  });
}
