// The bundled Electron main process (dist/electron/main.cjs), run under plain Node in its own
// process with 'electron' replaced by a recording stand-in: what it asks Electron to do at
// start, how it wires the core, the protocol and IPC, and that quitting stops the core.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { commandNames } from '../../main/contract/contract.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/electron/main.cjs');

// CommonJS, run with `node -e`: intercepts require('electron') and drives the app's lifecycle.
const HARNESS = String.raw`
const Module = require('node:module');
const calls = [];
const listeners = {};
let resolveReady;
const ready = new Promise((r) => (resolveReady = r));
const ipc = new Map();
let protocolHandler = null;
const windows = [];
let quitCount = 0;
let focused = true;
const notes = [];
const rec = (name) => (...args) => { calls.push([name, ...args.map((a) => (typeof a === 'function' ? '<fn>' : a))]); };
class BrowserWindow {
  constructor(opts) { this.opts = opts; this.url = null; this.sent = []; windows.push(this);
    this.webContents = { send: (...a) => this.sent.push(a) }; }
  once() {} on() {}
  loadURL(url) { this.url = url; return Promise.resolve(); }
  isDestroyed() { return false; } isMinimized() { return false; } isVisible() { return true; } isFocused() { return focused; }
  show() {} focus() {} hide() {} restore() {}
}
const electron = {
  app: {
    enableSandbox: rec('app.enableSandbox'),
    requestSingleInstanceLock: () => { calls.push(['app.requestSingleInstanceLock']); return true; },
    on: (ev, cb) => { (listeners[ev] ??= []).push(cb); },
    whenReady: () => ready,
    getPath: (n) => { calls.push(['app.getPath', n]); return process.env.FAKE_USER_DATA; },
    quit: () => { quitCount++; for (const cb of listeners['before-quit'] ?? []) cb({ preventDefault: () => calls.push(['before-quit.preventDefault']) }); },
    exit: rec('app.exit'),
    getLocale: () => 'en-US',
    setLoginItemSettings: rec('app.setLoginItemSettings'),
    setBadgeCount: rec('app.setBadgeCount'),
  },
  powerMonitor: {
    getSystemIdleTime: () => { calls.push(['powerMonitor.getSystemIdleTime']); return 0; },
    getSystemIdleState: () => 'active',
    on: rec('powerMonitor.on'),
  },
  protocol: {
    registerSchemesAsPrivileged: rec('protocol.registerSchemesAsPrivileged'),
    handle: (scheme, h) => { calls.push(['protocol.handle', scheme]); protocolHandler = h; },
  },
  session: { defaultSession: { setPermissionRequestHandler: rec('session.setPermissionRequestHandler'), setPermissionCheckHandler: rec('session.setPermissionCheckHandler') } },
  ipcMain: { handle: (ch, l) => ipc.set(ch, l), removeHandler: (ch) => ipc.delete(ch) },
  BrowserWindow,
  Tray: class { constructor() { calls.push(['Tray']); } setToolTip() {} setContextMenu() {} on() {} },
  Menu: { buildFromTemplate: (t) => t },
  nativeImage: { createFromPath: (p) => ({ p }) },
  Notification: class { static isSupported() { return true; } constructor(o) { this.o = o; this.h = {}; notes.push(this); } on(ev, cb) { this.h[ev] = cb; } show() { calls.push(['Notification.show', this.o.title, this.o.body]); } },
  shell: { openExternal: async (u) => calls.push(['shell.openExternal', u]) },
};
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'electron' ? electron : load.call(this, request, ...rest); };
require(process.env.MAIN_CJS);
(async () => {
  const beforeReady = calls.map((c) => c[0]);
  resolveReady();
  const deadline = Date.now() + 20000;
  while (!windows[0]?.url) { if (Date.now() > deadline) throw new Error('no window'); await new Promise((r) => setTimeout(r, 20)); }
  const trusted = { senderFrame: { url: 'app://parley/index.html' } };
  const self = await ipc.get('parley:cmd:getSelf')(trusted, {});
  const untrusted = await ipc.get('parley:cmd:getSelf')({ senderFrame: { url: 'https://evil.example/' } }, {});
  const invalid = await ipc.get('parley:cmd:send')(trusted, { convId: 'x', text: '' });
  const named = await ipc.get('parley:cmd:setProfile')(trusted, { statusText: 'from the stand-in' });
  const startAtLogin = await ipc.get('parley:cmd:updateSettings')(trusted, { startAtLogin: true });
  const page = await protocolHandler(new Request('app://parley/index.html'));
  const contents = { handlers: {}, on(ev, cb) { this.handlers[ev] = cb; }, setWindowOpenHandler(h) { this.open = h; } };
  for (const cb of listeners['web-contents-created'] ?? []) cb({}, contents);
  const opened = contents.open({ url: 'https://example.com/' });
  let navPrevented = false;
  contents.handlers['will-navigate']({ preventDefault: () => (navPrevented = true) }, 'javascript:alert(1)');
  const eventsSent = windows[0].sent.length;
  // A message from Bob while the window is in the background: notified; the click opens it.
  focused = false;
  const { pathToFileURL } = require('node:url');
  const { startNode } = await import(pathToFileURL(process.env.CORE_NODE).href);
  const { testLogger } = await import(pathToFileURL(process.env.CORE_LOG).href);
  const bob = await startNode({ dataDir: require('node:fs').mkdtempSync(process.env.FAKE_USER_DATA + '/bob-'), name: 'Bob', port: 0, host: '127.0.0.1', discovery: false, log: testLogger('bob') });
  await ipc.get('parley:cmd:addPeer')(trusted, { address: '127.0.0.1:' + bob.self.port, id: bob.self.id });
  const bobConv = await bob.api.call('openConversation', { peerId: self.result.id });
  await bob.api.call('send', { convId: bobConv.id, text: 'lunch?' });
  const noteDeadline = Date.now() + 20000;
  while (notes.length === 0) { if (Date.now() > noteDeadline) throw new Error('no notification'); await new Promise((r) => setTimeout(r, 20)); }
  notes[0].h.click();
  const opened_ = windows[0].sent.filter((m) => m[1] === 'open').map((m) => m[2]);
  const notification = { title: notes[0].o.title, body: notes[0].o.body, convId: bobConv.id, opened: opened_ };
  await bob.stop();
  electron.app.quit();
  const quitDeadline = Date.now() + 10000;
  while (quitCount < 2) { if (Date.now() > quitDeadline) throw new Error('core did not stop'); await new Promise((r) => setTimeout(r, 20)); }
  process.stdout.write(JSON.stringify({
    beforeReady, calls, channels: [...ipc.keys()], window: { url: windows[0].url, opts: windows[0].opts },
    self, untrusted, invalid, named, startAtLogin, eventsSent, notification,
    page: { status: page.status, csp: page.headers.get('content-security-policy') },
    opened, navPrevented, quitCount,
  }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface Report {
  beforeReady: string[];
  calls: unknown[][];
  channels: string[];
  window: { url: string; opts: { webPreferences: Record<string, unknown> } };
  self: { ok: boolean; result: { name: string; dataDir: string } };
  untrusted: { ok: boolean };
  invalid: { ok: boolean; error: { code: string } };
  named: { ok: boolean };
  startAtLogin: { ok: boolean; result: { startAtLogin: boolean } };
  eventsSent: number;
  notification: { title: string; body: string; convId: string; opened: Array<{ convId: string }> };
  page: { status: number; csp: string };
  opened: { action: string };
  navPrevented: boolean;
  quitCount: number;
}

describe('the Electron main process, as bundled', { skip: existsSync(MAIN) ? false : 'run `npm run build` first' }, () => {
  const userData = mkdtempSync(path.join(os.tmpdir(), 'parley-electron-main-'));
  const run = spawnSync(process.execPath, ['-e', HARNESS], {
    env: { ...process.env, MAIN_CJS: MAIN, CORE_NODE: path.join(ROOT, 'main/core/node.ts'), CORE_LOG: path.join(ROOT, 'main/core/log.ts'), FAKE_USER_DATA: userData, PARLEY_TEST: '1', PARLEY_NO_DISCOVERY: '1', PARLEY_LOG: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  after(() => rmSync(userData, { recursive: true, force: true }));
  const report = (): Report => {
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as Report;
  };

  it('enables the sandbox and registers app:// before the app is ready, skipping the lock under PARLEY_TEST', () => {
    const r = report();
    assert.ok(r.beforeReady.includes('app.enableSandbox'));
    assert.ok(r.beforeReady.includes('protocol.registerSchemesAsPrivileged'));
    assert.ok(!r.beforeReady.includes('app.requestSingleInstanceLock'));
  });

  it('keeps its data in userData and asks for a name on first run', () => {
    const r = report();
    assert.equal(r.self.ok, true);
    assert.equal(r.self.result.dataDir, path.join(userData, 'profile'));
    assert.equal(r.window.url, 'app://parley/index.html?setup=1');
  });

  it('opens a sandboxed, isolated window without Node', () => {
    const prefs = report().window.opts.webPreferences;
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.match(String(prefs.preload), /preload\.cjs$/);
  });

  it('serves the UI over app:// with the CSP and allows notifications only', () => {
    const r = report();
    assert.equal(r.page.status, 200);
    assert.match(r.page.csp, /^default-src 'self'/);
    assert.ok(r.calls.some((c) => c[0] === 'protocol.handle' && c[1] === 'app'));
    assert.ok(r.calls.some((c) => c[0] === 'session.setPermissionRequestHandler'));
  });

  it('handles one IPC channel per command, refusing foreign frames and bad arguments', () => {
    const r = report();
    assert.deepEqual(r.channels.sort(), commandNames.map((n) => `parley:cmd:${n}`).sort());
    assert.equal(r.untrusted.ok, false);
    assert.equal(r.invalid.ok, false);
    assert.equal(r.invalid.error.code, 'invalid-args');
    assert.equal(r.named.ok, true);
    assert.ok(r.eventsSent >= 1, 'the self event reached the window');
  });

  it('carries out "start at login" as a login item, and watches the system idle time for auto-away', () => {
    const r = report();
    assert.equal(r.startAtLogin.ok, true);
    assert.equal(r.startAtLogin.result.startAtLogin, true);
    const logins = r.calls.filter((c) => c[0] === 'app.setLoginItemSettings').map((c) => (c[1] as { openAtLogin: boolean }).openAtLogin);
    assert.deepEqual(logins, [false, true], 'the stored value at start, then the change');
    assert.ok(r.calls.some((c) => c[0] === 'powerMonitor.getSystemIdleTime'));
    assert.ok(r.calls.some((c) => c[0] === 'powerMonitor.on' && c[1] === 'lock-screen'));
  });

  it('hardens every web contents: windows denied, navigation prevented', () => {
    const r = report();
    assert.deepEqual(r.opened, { action: 'deny' });
    assert.equal(r.navPrevented, true);
    assert.ok(r.calls.some((c) => c[0] === 'shell.openExternal' && c[1] === 'https://example.com/'));
    assert.ok(!r.calls.some((c) => c[0] === 'shell.openExternal' && String(c[1]).startsWith('javascript')));
  });

  it('shows the unread count as the tray/dock badge (nothing unread on a fresh profile)', () => {
    const badges = report().calls.filter((c) => c[0] === 'app.setBadgeCount').map((c) => c[1]);
    assert.ok(badges.length > 0, 'badge set');
    assert.ok(badges.every((n) => n === 0), `badges: ${badges.join(',')}`);
  });

  it('notifies a message that arrives while the window is in the background, and the click opens that conversation', () => {
    const n = report().notification;
    assert.equal(n.title, 'Bob');
    assert.equal(n.body, 'lunch?');
    assert.deepEqual(n.opened, [{ convId: n.convId }]);
  });

  it('stops the core before quitting', () => {
    const r = report();
    assert.ok(r.calls.some((c) => c[0] === 'before-quit.preventDefault'));
    assert.equal(r.quitCount, 2, 'quit is deferred once, then repeated after node.stop()');
  });
});
