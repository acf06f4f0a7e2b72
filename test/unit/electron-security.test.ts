// The Electron shell's security configuration, checked through its pure functions with
// recording stand-ins for Electron's objects (Electron itself cannot run here).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { MessageInfo, ParleyApi, Presence, SelfInfo, Settings } from '../../main/contract/contract.ts';
import { createAppProtocolHandler, APP_SCHEME_PRIVILEGES } from '../../main/electron/app-protocol.ts';
import { Media } from '../../main/core/attachments/media.ts';
import { testLogger } from '../../main/core/log.ts';
import type { AttachmentRow } from '../../main/core/store/attachments-repo.ts';
import { LOCKED_IDLE_MS, watchIdle } from '../../main/electron/idle.ts';
import { syncLoginItem } from '../../main/electron/login-item.ts';
import { createNotifier, type NotifierDeps } from '../../main/electron/notifications.ts';
import {
  CONTENT_SECURITY_POLICY,
  hardenWebContents,
  isTrustedSender,
  parseExternalUrl,
  permissionCheckHandler,
  permissionRequestHandler,
  secureWebPreferences,
  type PreventableEvent,
  type WebContentsLike,
} from '../../main/electron/security.ts';
import { trayMenuTemplate, trayTooltip } from '../../main/electron/tray.ts';
import { en } from '../../renderer/src/i18n/en.ts';
import { zhCN } from '../../renderer/src/i18n/zh-CN.ts';
import { mainWindowOptions, startUrl } from '../../main/electron/window.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A stand-in for webContents that records listeners, and a shell that records what it opened. */
function recordingContents() {
  const listeners = new Map<string, (event: PreventableEvent, ...args: unknown[]) => void>();
  let openHandler: ((d: { url: string }) => { action: string }) | null = null;
  const opened: string[] = [];
  const contents: WebContentsLike = {
    on: ((event: string, l: (event: PreventableEvent, ...args: unknown[]) => void) => {
      listeners.set(event, l);
    }) as WebContentsLike['on'],
    setWindowOpenHandler: (h) => {
      openHandler = h;
    },
  };
  const shell = {
    openExternal: async (url: string) => {
      opened.push(url);
    },
  };
  const fire = (event: string, ...args: unknown[]) => {
    let prevented = false;
    listeners.get(event)?.({ preventDefault: () => (prevented = true) }, ...args);
    return prevented;
  };
  return { contents, shell, opened, fire, listeners, open: (url: string) => openHandler!({ url }) };
}

describe('window and page settings', () => {
  it('sandbox on, context isolation on, no Node in the page, web security on', () => {
    const prefs = secureWebPreferences('/x/preload.cjs');
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.nodeIntegrationInWorker, false);
    assert.equal(prefs.nodeIntegrationInSubFrames, false);
    assert.equal(prefs.webSecurity, true);
    assert.equal(prefs.allowRunningInsecureContent, false);
    assert.equal(prefs.webviewTag, false);
    assert.equal(prefs.preload, '/x/preload.cjs');
    assert.deepEqual(mainWindowOptions('/x/preload.cjs').webPreferences, prefs);
  });

  it('loads the app from app://parley, asking for a name only on first run', () => {
    assert.equal(startUrl(false), 'app://parley/index.html');
    assert.equal(startUrl(true), 'app://parley/index.html?setup=1');
  });

  it("has a CSP of default-src 'self' with nothing unsafe", () => {
    assert.match(CONTENT_SECURITY_POLICY, /^default-src 'self'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe|\*|http:|https:/);
    assert.match(CONTENT_SECURITY_POLICY, /object-src 'none'/);
  });

  it('registers app:// as a standard, secure scheme', () => {
    assert.equal(APP_SCHEME_PRIVILEGES.scheme, 'app');
    assert.equal(APP_SCHEME_PRIVILEGES.privileges.standard, true);
    assert.equal(APP_SCHEME_PRIVILEGES.privileges.secure, true);
  });
});

describe('external links', () => {
  it('opens parsed http, https and mailto URLs only', () => {
    for (const ok of ['https://example.com/a?b=c#d', 'http://192.168.1.2:8080/', 'mailto:someone@example.com', 'HTTPS://EXAMPLE.COM']) {
      assert.ok(parseExternalUrl(ok), ok);
    }
    for (const bad of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'vbscript:msgbox',
      'smb://server/share',
      'ms-msdt:/id',
      'app://parley/index.html',
      'https://user:pass@example.com/',
      'https:',
      '//example.com',
      'example.com',
      '',
      `https://example.com/${'a'.repeat(5000)}`,
      42,
      null,
    ]) {
      assert.equal(parseExternalUrl(bad), null, String(bad));
    }
  });

  it('denies every navigation and new window, handing only safe URLs to the OS', () => {
    const r = recordingContents();
    hardenWebContents(r.contents, r.shell);
    assert.equal(r.fire('will-navigate', 'https://example.com/'), true);
    assert.equal(r.fire('will-navigate', 'javascript:alert(1)'), true);
    assert.equal(r.fire('will-navigate', 'file:///etc/passwd'), true);
    assert.deepEqual(r.open('https://example.org/x'), { action: 'deny' });
    assert.deepEqual(r.open('javascript:alert(1)'), { action: 'deny' });
    assert.deepEqual(r.open('file:///etc/passwd'), { action: 'deny' });
    assert.deepEqual(r.open('mailto:a@b.example'), { action: 'deny' });
    assert.deepEqual(r.opened, ['https://example.com/', 'https://example.org/x', 'mailto:a@b.example']);
  });

  it('refuses webviews and redirects away from the app', () => {
    const r = recordingContents();
    hardenWebContents(r.contents, r.shell);
    assert.equal(r.fire('will-attach-webview'), true);
    assert.equal(r.fire('will-redirect', 'https://evil.example/'), true);
    assert.equal(r.fire('will-redirect', 'app://parley/index.html'), false);
  });
});

describe('permissions and IPC senders', () => {
  it('grants notifications and nothing else', () => {
    for (const p of ['media', 'geolocation', 'clipboard-read', 'openExternal', 'fullscreen', 'hid', 'serial', 'usb', 'display-capture', 'notifications']) {
      let granted: boolean | undefined;
      permissionRequestHandler(null, p, (g) => (granted = g));
      assert.equal(granted, p === 'notifications', p);
      assert.equal(permissionCheckHandler(null, p), p === 'notifications', p);
    }
  });

  it('trusts IPC only from the app:// page', () => {
    assert.equal(isTrustedSender({ url: 'app://parley/index.html' }), true);
    assert.equal(isTrustedSender({ url: 'app://parley/index.html?setup=1' }), true);
    for (const url of ['app://evil/index.html', 'https://parley/', 'file:///app/index.html', 'about:blank', 'devtools://devtools/bundled/inspector.html', '']) {
      assert.equal(isTrustedSender({ url }), false, url);
    }
    assert.equal(isTrustedSender(null), false);
    assert.equal(isTrustedSender(undefined), false);
  });

  it('grants the microphone, and only the microphone, to the app:// page (voice messages)', () => {
    const request = (url: string, mediaTypes: string[]) => {
      let granted: boolean | undefined;
      permissionRequestHandler(null, 'media', (g) => (granted = g), { requestingUrl: url, mediaTypes });
      return granted;
    };
    assert.equal(request('app://parley/index.html', ['audio']), true);
    assert.equal(request('app://parley/index.html', ['video']), false, 'no camera');
    assert.equal(request('app://parley/index.html', ['audio', 'video']), false, 'no camera along with the microphone');
    assert.equal(request('app://parley/index.html', []), false);
    for (const url of ['https://evil.example/', 'app://evil/index.html', 'file:///index.html', '']) assert.equal(request(url, ['audio']), false, url);
    assert.equal(permissionCheckHandler(null, 'media', 'app://parley', { mediaType: 'audio' }), true);
    assert.equal(permissionCheckHandler(null, 'media', 'app://parley', { mediaType: 'video' }), false);
    assert.equal(permissionCheckHandler(null, 'media', 'https://evil.example', { mediaType: 'audio' }), false);
  });
});

describe('the app:// protocol', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-app-proto-'));
  const rootDir = path.join(dir, 'renderer');
  mkdirSync(path.join(rootDir, 'assets'), { recursive: true });
  writeFileSync(path.join(rootDir, 'index.html'), '<!doctype html>');
  writeFileSync(path.join(rootDir, 'assets', 'a.js'), 'x');
  writeFileSync(path.join(dir, 'secret'), 'secret');
  const handle = createAppProtocolHandler(rootDir);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the renderer with the CSP on every response', async () => {
    const res = await handle(new Request('app://parley/index.html'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    assert.equal(await res.text(), '<!doctype html>');
    const js = await handle(new Request('app://parley/assets/a.js'));
    assert.match(js.headers.get('content-type')!, /javascript/);
  });

  it('serves nothing outside the renderer folder, and nothing for other hosts or methods', async () => {
    for (const url of ['app://parley/../secret', 'app://parley/%2e%2e/secret', 'app://parley/assets/..%2F..%2Fsecret', 'app://parley/nope.js']) {
      const res = await handle(new Request(url));
      assert.equal(res.status, 404, url);
      assert.notEqual(await res.text(), 'secret');
    }
    assert.equal((await handle(new Request('app://other/index.html'))).status, 404);
    assert.equal((await handle(new Request('app://parley/index.html', { method: 'POST', body: 'x' }))).status, 405);
  });
});

describe('app:// uploads and media (the core media module behind the custom protocol)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-appmedia-'));
  const rootDir = path.join(dataDir, 'renderer');
  mkdirSync(rootDir);
  const rows = new Map<string, AttachmentRow>();
  const media = new Media({ dataDir, log: testLogger('media'), attachment: (id) => rows.get(id) });
  const handle = createAppProtocolHandler(rootDir, media);
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const upload = (origin: string | null, body = '<svg onload="alert(1)"/>') =>
    handle(
      new Request('app://parley/upload', {
        method: 'POST',
        body,
        headers: { 'x-parley-name': encodeURIComponent('pic.svg'), 'content-type': 'image/svg+xml', ...(origin ? { origin } : {}) },
      }),
    );

  it('takes uploads only from the app page itself', async () => {
    assert.equal((await upload('https://evil.example')).status, 403);
    assert.equal((await upload(null)).status, 403);
    const ok = await upload('app://parley');
    assert.equal(ok.status, 200);
    const { upload: id } = (await ok.json()) as { upload: string };
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(readFileSync(media.pathOf(id), 'utf8'), '<svg onload="alert(1)"/>', 'stored under the ID, not the name');
  });

  it('serves an SVG as a download, sandboxed, with ranges', async () => {
    const { upload: id } = (await (await upload('app://parley')).json()) as { upload: string };
    const messageId = '01HZZZZZZZZZZZZZZZZZZZZZZZ';
    rows.set(messageId, { messageId, direction: 'send', source: media.pathOf(id), name: 'pic.svg', mime: 'image/svg+xml', state: 'offered' } as AttachmentRow);
    const res = await handle(new Request(`app://parley/media/${messageId}`));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.match(res.headers.get('content-disposition')!, /^attachment;/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-security-policy'), 'sandbox');
    const part = await handle(new Request(`app://parley/media/${messageId}`, { headers: { range: 'bytes=0-3' } }));
    assert.equal(part.status, 206);
    assert.equal(await part.text(), '<svg');
    assert.equal((await handle(new Request('app://parley/media/01HYYYYYYYYYYYYYYYYYYYYYYY'))).status, 404);
  });
});

describe('tray and notifications', () => {
  const self: SelfInfo = { id: 'A'.repeat(52), displayId: 'A', shortId: 'AAAAAAA', name: 'Me', presence: 'away', statusText: '', port: 1, addresses: [], dataDir: '/d' };

  const actions = (calls: string[]) => ({ setPresence: (p: string) => calls.push(`presence:${p}`), show: () => calls.push('show'), quit: () => calls.push('quit') });

  it('offers presence, show and quit in the tray menu', () => {
    const calls: string[] = [];
    const menu = trayMenuTemplate(self, 0, en, actions(calls));
    const byLabel = (l: string) => menu.find((m) => m.label === l)!;
    assert.equal(byLabel('Away').checked, true);
    assert.equal(byLabel('Online').checked, false);
    for (const l of ['Busy', 'Show Parley', 'Quit Parley']) (byLabel(l).click as () => void)();
    assert.deepEqual(calls, ['presence:busy', 'show', 'quit']);
    assert.ok(!menu.some((m) => String(m.label).includes('unread')), 'no unread line when nothing is unread');
    assert.equal(trayTooltip(self, 0, en), 'Parley — Me');
  });

  it('shows the unread count in the tray menu and tooltip, in the chosen language', () => {
    const calls: string[] = [];
    const menu = trayMenuTemplate(self, 7, en, actions(calls));
    const line = menu.find((m) => m.label === '7 unread')!;
    (line.click as () => void)();
    assert.deepEqual(calls, ['show'], 'the unread line opens the window');
    assert.equal(trayTooltip(self, 7, en), 'Parley — Me (7 unread)');
    const zh = trayMenuTemplate(self, 7, zhCN, actions([]));
    assert.ok(zh.some((m) => m.label === '7 条未读') && zh.some((m) => m.label === '退出 Parley') && zh.some((m) => m.label === '离开' && m.checked));
  });

  const m = (id: string, mine = false, text = 'hi', convId = 'c'): MessageInfo => ({ id, convId, author: 'B'.repeat(52), mine, seq: 1, lamport: 1, ts: 0, text, state: 'delivered', overdue: false });
  const notifier = (over: Partial<NotifierDeps> = {}) => {
    const shown: Array<{ title: string; body: string; convId: string }> = [];
    const notify = createNotifier({
      isFocused: () => false,
      peerName: () => 'Bob',
      settings: () => ({ enabled: true, showPreview: true, mutedConversations: [] }),
      presence: () => 'online',
      hiddenBody: 'New message',
      show: (n) => shown.push(n),
      ...over,
    });
    return { shown, notify };
  };

  it('notifies once per received message, only while the window is not focused', () => {
    let focused = false;
    const { shown, notify } = notifier({ isFocused: () => focused });
    notify(m('1'));
    notify(m('1'));
    notify(m('2', true));
    focused = true;
    notify(m('3'));
    focused = false;
    notify(m('4', false, 'x'.repeat(1000)));
    assert.equal(shown.length, 2);
    assert.deepEqual(shown[0], { title: 'Bob', body: 'hi', convId: 'c' });
    assert.ok(shown[1]!.body.length <= 160);
  });

  it('follows the notification settings as they change: off, muted conversations, no preview', () => {
    let settings: Settings['notifications'] = { enabled: false, showPreview: true, mutedConversations: [] };
    const { shown, notify } = notifier({ settings: () => settings });
    notify(m('1'));
    assert.equal(shown.length, 0, 'notifications off');
    settings = { enabled: true, showPreview: true, mutedConversations: ['quiet'] };
    notify(m('2', false, 'psst', 'quiet'));
    assert.equal(shown.length, 0, 'a muted conversation');
    notify(m('3', false, 'hello', 'loud'));
    assert.deepEqual(shown.at(-1), { title: 'Bob', body: 'hello', convId: 'loud' });
    settings = { enabled: true, showPreview: false, mutedConversations: [] };
    notify(m('4', false, 'the secret plan'));
    assert.deepEqual(shown.at(-1), { title: 'Bob', body: 'New message', convId: 'c' }, 'who wrote, not what');
    assert.equal(shown.length, 2);
  });

  it('notifies a message that mentions me even in a muted conversation, but not when off or busy', () => {
    let settings: Settings['notifications'] = { enabled: true, showPreview: true, mutedConversations: ['group'] };
    let presence: Presence = 'online';
    const { shown, notify } = notifier({ settings: () => settings, presence: () => presence });
    notify(m('1', false, 'lunch?', 'group'));
    assert.equal(shown.length, 0, 'muted, not mentioned');
    notify({ ...m('2', false, '@Me lunch?', 'group'), mentions: ['M'.repeat(52)], mentionsMe: true });
    assert.deepEqual(shown.at(-1), { title: 'Bob', body: '@Me lunch?', convId: 'group' });
    notify({ ...m('3', false, 'someone else', 'group'), mentions: ['C'.repeat(52)] });
    assert.equal(shown.length, 1, 'a mention of someone else does not get through');
    presence = 'busy';
    notify({ ...m('4', false, '@Me now', 'group'), mentionsMe: true });
    settings = { enabled: false, showPreview: true, mutedConversations: [] };
    presence = 'online';
    notify({ ...m('5', false, '@Me again', 'group'), mentionsMe: true });
    assert.equal(shown.length, 1, 'busy and "off" still win');
    settings = { enabled: true, showPreview: true, mutedConversations: [] };
    notify({ ...m('6', false, '', 'c'), deleted: true });
    assert.equal(shown.length, 1, 'a message first seen deleted is not news');
  });

  it('stays quiet while I am busy, and a message skipped then does not notify later', () => {
    let presence: Presence = 'busy';
    const { shown, notify } = notifier({ presence: () => presence });
    notify(m('1'));
    presence = 'away';
    notify(m('1'));
    assert.equal(shown.length, 0);
    notify(m('2'));
    assert.equal(shown.length, 1, 'away still notifies');
  });

  it('applies "start at login" at start and whenever the setting changes, once per change', async () => {
    const applied: boolean[] = [];
    const listeners: Array<(s: Settings) => void> = [];
    const base: Settings = { autoAwayMs: 0, notifications: { enabled: true, showPreview: true, mutedConversations: [] }, relays: [], interfaces: [], downloadFolder: null, startAtLogin: false, autoAccept: { defaultMaxBytes: 0, peers: {} }, overridden: [] };
    const api = {
      call: async () => base,
      on: (_e: string, l: (s: Settings) => void) => {
        listeners.push(l);
        return () => undefined;
      },
    } as unknown as ParleyApi;
    syncLoginItem({ setLoginItemSettings: (s) => applied.push(s.openAtLogin) }, api);
    await new Promise((r) => setImmediate(r));
    for (const l of listeners) l({ ...base, startAtLogin: true });
    for (const l of listeners) l({ ...base, startAtLogin: true, autoAwayMs: 5 });
    for (const l of listeners) l({ ...base, startAtLogin: false });
    assert.deepEqual(applied, [false, true, false]);
  });

  it('reports the system idle time for auto-away, and a locked screen as idle at once', () => {
    const reports: number[] = [];
    let lock: () => void = () => undefined;
    let locked = false;
    const stop = watchIdle({ idleSeconds: () => 42.4, locked: () => locked, report: (ms) => reports.push(ms), onLock: (l) => (lock = l), everyMs: 60_000 });
    assert.deepEqual(reports, [42_400]);
    locked = true;
    lock();
    assert.deepEqual(reports, [42_400, LOCKED_IDLE_MS]);
    stop();
  });
});

describe('where Electron may be imported', () => {
  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => path.join(e.parentPath, e.name));
  const runtimeElectronImport = /^\s*import\s+(?!type\b)[^;]*from\s+['"]electron['"]|require\(\s*['"]electron['"]\s*\)|import\(\s*['"]electron['"]\s*\)/m;

  it('never in the core, the contract or web mode', () => {
    for (const f of [...files('main/core'), ...files('main/contract'), ...files('main/web'), ...files('main/headless')]) {
      assert.doesNotMatch(readFileSync(f, 'utf8'), /['"]electron['"]/, path.relative(ROOT, f));
    }
  });

  it('at run time only in the shell entry and the preload entry', () => {
    const allowed = new Set(['main/electron/main.ts', 'preload/preload.ts']);
    for (const f of [...files('main/electron'), ...files('preload')]) {
      const rel = path.relative(ROOT, f);
      if (allowed.has(rel)) continue;
      assert.doesNotMatch(readFileSync(f, 'utf8'), runtimeElectronImport, rel);
    }
  });
});
