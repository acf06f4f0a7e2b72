// The Electron main process: a thin shell around the same core that web mode and the
// headless CLI run. Bundled to dist/electron/main.cjs by scripts/build.ts; `npm start`.
import path from 'node:path';
import { BrowserWindow, Menu, Notification, Tray, app, ipcMain, nativeImage, powerMonitor, protocol, session, shell } from 'electron';
import { commands, type MessageInfo } from '../contract/contract.ts';
import { ApiError } from '../core/api.ts';
import { AttachmentError } from '../core/attachments/service.ts';
import { createLogger } from '../core/log.ts';
import { startNode, type ParleyNode } from '../core/node.ts';
import { needsName, planName, trackNameChoice } from '../web/name-setup.ts';
import { APP_SCHEME_PRIVILEGES, createAppProtocolHandler } from './app-protocol.ts';
import { en } from '../../renderer/src/i18n/en.ts';
import { zhCN } from '../../renderer/src/i18n/zh-CN.ts';
import type { Catalogue } from '../../renderer/src/i18n/en.ts';
import { watchIdle } from './idle.ts';
import { forwardEvents, registerCommandHandlers } from './ipc.ts';
import { syncLoginItem } from './login-item.ts';
import { createNotifier } from './notifications.ts';
import { APP_SCHEME, hardenWebContents, permissionCheckHandler, permissionRequestHandler } from './security.ts';
import { trayMenuTemplate, trayTooltip } from './tray.ts';
import { EVENT_CHANNEL } from '../../preload/channels.ts';
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

/** Keeps the tray (tooltip, menu, unread count) and the dock/launcher badge current; returns a refresh to call when the unread count may have changed. */
function createTray(n: ParleyNode, text: Catalogue): () => void {
  try {
    tray = new Tray(nativeImage.createFromPath(path.join(here, 'tray.png')));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no tray available');
    return () => undefined;
  }
  let unread = 0;
  const render = () => {
    tray?.setToolTip(trayTooltip(n.self, unread, text));
    tray?.setContextMenu(
      Menu.buildFromTemplate(
        trayMenuTemplate(n.self, unread, text, {
          setPresence: (presence) => void n.api.call('setProfile', { presence }).catch(() => undefined),
          show: showWindow,
          quit: () => app.quit(),
        }),
      ),
    );
    app.setBadgeCount(unread);
  };
  // Messages can arrive in bursts of thousands: count at most a few times a second.
  let pending: NodeJS.Timeout | null = null;
  const refreshUnread = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      void n.api
        .call('listConversations', {})
        .then((convs) => {
          unread = convs.reduce((sum, c) => sum + c.unread, 0);
          render();
        })
        .catch(() => undefined);
    }, 250);
  };
  render();
  refreshUnread();
  n.api.on('self', render);
  n.api.on('message', refreshUnread);
  tray.on('click', showWindow);
  return refreshUnread;
}

/** The core knows where a received file is; the system's file manager shows it (never opens it). */
function showInFolder(n: ParleyNode, args: unknown): { ok: true } {
  const parsed = commands.showInFolder.args.safeParse(args ?? {});
  if (!parsed.success) throw new ApiError('invalid-args', 'showInFolder: messageId is not a message ID');
  try {
    shell.showItemInFolder(n.attachments.localPath(parsed.data.messageId));
  } catch (err) {
    if (err instanceof AttachmentError) throw new ApiError(err.code, err.message);
    throw err;
  }
  return { ok: true };
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

  protocol.handle(APP_SCHEME, createAppProtocolHandler(rendererDir, node.attachments.media));
  session.defaultSession.setPermissionRequestHandler(permissionRequestHandler);
  session.defaultSession.setPermissionCheckHandler(permissionCheckHandler);
  // The system locale picks the shell's own strings (tray, notifications); the page has its own choice.
  const catalogue = app.getLocale().toLowerCase().startsWith('zh') ? zhCN : en;
  let refreshTray = () => undefined as void;
  // Reading a conversation in the window changes the unread count the tray shows.
  const n0 = node;
  const ipcApi: typeof api = {
    on: api.on.bind(api),
    call: (async (name, args) => {
      // The shell's own command: the core knows where the file is, the shell has the file manager.
      if (name === 'showInFolder') return showInFolder(n0, args);
      const result = await api.call(name, args);
      if (name === 'markRead') refreshTray();
      return result;
    }) as typeof api.call,
  };
  registerCommandHandlers(ipcMain, ipcApi, log);
  forwardEvents(api, (channel, event, payload) => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, event, payload);
  });

  const n = node;
  const notify = createNotifier({
    isFocused: () => !!win && win.isVisible() && win.isFocused(),
    peerName: (id) => n.store.getPeer(id)?.name || id.slice(0, 7),
    settings: () => n.settings.current.notifications,
    presence: () => n.self.presence,
    hiddenBody: catalogue['notify.hiddenBody'],
    show: ({ title, body, convId }) => {
      if (!Notification.isSupported()) return;
      const notification = new Notification({ title, body, silent: false });
      notification.on('click', () => {
        showWindow();
        if (win && !win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, 'open', { convId });
      });
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

  refreshTray = createTray(n, catalogue);
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
