// The real desktop app, driven by Playwright's Electron support: the built main process, the
// preload and the renderer over app://, with the core inside. These run wherever an Electron
// binary is installed (`npm start` works); elsewhere they are skipped with the reason. The
// binary is looked up by file, never through require('electron'): that call downloads it.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { commandNames } from '../../main/contract/contract.ts';

declare const window: { [key: string]: unknown; location: { href: string } };
declare const document: { [key: string]: any };

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/electron/main.cjs');

function electronBinary(): string | null {
  const dir = path.join(ROOT, 'node_modules/electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const bin = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

function skipReason(): string | null {
  if (!electronBinary()) return 'no Electron binary in node_modules/electron/dist (its download is blocked here; installs normally elsewhere)';
  if (!existsSync(MAIN)) return 'app not built: run `npm run build`';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'no display (run under xvfb-run)';
  return null;
}

const skip = skipReason();

describe('the desktop app (Electron)', { skip: skip ?? false }, () => {
  let app: ElectronApplication;
  let page: Page;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-electron-'));
    app = await _electron.launch({
      executablePath: electronBinary()!,
      args: [MAIN],
      env: { ...process.env, PARLEY_TEST: '1', PARLEY_DATA_DIR: dataDir, PARLEY_NO_DISCOVERY: '1' } as Record<string, string>,
    });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });

  after(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the UI over app://, not file:// or http://', async () => {
    assert.match(await page.evaluate(() => window.location.href), /^app:\/\//);
  });

  it('gives the page no Node: no require, no process, only the contract on window.parley', async () => {
    const globals = await page.evaluate(() => ({ require: typeof window.require, process: typeof window.process, parley: typeof window.parley }));
    assert.deepEqual(globals, { require: 'undefined', process: 'undefined', parley: 'object' });
  });

  it('exposes exactly one function per contract command, plus on, and a working round trip', async () => {
    const keys = await page.evaluate(() => Object.keys(window.parley as object).sort());
    assert.deepEqual(keys, [...commandNames, 'on'].sort());
    const self = await page.evaluate(() => (window.parley as { getSelf(a: object): Promise<{ ok: boolean }> }).getSelf({}));
    assert.equal(self.ok, true);
  });

  it('rejects invalid arguments in main before they reach the core', async () => {
    const reply = await page.evaluate(() => (window.parley as { send(a: object): Promise<{ ok: boolean; error?: { code: string } }> }).send({ convId: 42 }));
    assert.deepEqual([reply.ok, reply.error?.code], [false, 'invalid-args']);
  });

  it('asks a first-time user for a display name, then shows the main view', async () => {
    await page.locator('.first-run input').fill('Desktop Dana');
    await page.locator('.first-run button[type=submit]').click();
    await page.getByRole('button', { name: 'Add peer' }).waitFor();
  });

  it('refuses to navigate the window away from the app', async () => {
    await page.evaluate(() => {
      window.location.href = 'https://example.com/';
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.match(await page.evaluate(() => window.location.href), /^app:\/\//);
  });

  it('opens no new windows from the page', async () => {
    await page.evaluate(() => (window.open as (u: string) => unknown)('https://example.com/'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await app.windows()).length, 1);
  });

  it('applies the content security policy to the page', async () => {
    const blocked = await page.evaluate(() => {
      try {
        // eval is what a CSP without 'unsafe-eval' stops first.
        return (0, eval)('1') !== 1;
      } catch {
        return true;
      }
    });
    assert.equal(blocked, true);
  });
});
