// The Settings view in the browser, against a web-mode node in its own process and a real
// relay: every setting changed by hand, kept by the core across a restart of the node, relay
// states shown as the relay answers, bad input refused next to the field, and the relay token
// never coming back to the page.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { RelayProcess } from '../integration/relay-harness.ts';
import { WebNode, freePort, launchChromium, uiSkipReason, shot, waitUntil as until } from './web-node.ts';

declare const window: { innerWidth: number };
declare const document: { [key: string]: any };

const skip = uiSkipReason();
const TOKEN = 'open-sesame-7f3a';

describe('the Settings view', { skip: skip ?? false }, () => {
  let base: string;
  let relay: RelayProcess;
  let alice: WebNode;
  let bob: WebNode;
  let aliceDir: string;
  let webPort: number;
  let browser: Browser;
  let pa: Page;
  const pageErrors: string[] = [];
  let unreachable: string;

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-settings-'));
    aliceDir = path.join(base, 'alice');
    webPort = await freePort();
    relay = await RelayProcess.start({ dataDir: path.join(base, 'relay'), token: TOKEN });
    // The relay's own ID at a port where nothing listens: a well-formed address that cannot be reached.
    unreachable = `parley-relay://127.0.0.1:9/?id=${relay.id}`;
    [alice, bob] = await Promise.all([
      WebNode.start({ dataDir: aliceDir, name: 'Alice', webPort }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob' }),
    ]);
    await alice.call('addPeer', { address: bob.address, id: bob.self.id });
    browser = await launchChromium();
    pa = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' })).newPage();
    pa.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop(), relay?.kill()]);
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
  });

  const settings = () => alice.call('getSettings', {});
  const dialog = () => pa.locator('dialog.settings-dialog');
  const openSettings = async () => {
    await pa.getByRole('button', { name: 'Settings', exact: true }).click();
    await dialog().waitFor();
  };
  const relayRow = (address: string) => dialog().locator(`li.relay-row[data-address="${address}"]`);

  it('mutes a conversation from its header', async () => {
    await pa.goto(alice.url);
    await pa.locator(`button.person[data-peer-id="${bob.self.id}"]`).click();
    const bell = pa.getByRole('button', { name: 'Mute notifications from Bob' });
    assert.equal(await bell.getAttribute('aria-pressed'), 'false');
    await bell.click();
    await until('muted in the core', async () => (await settings()).notifications.mutedConversations.length === 1);
    await until('the bell shows it', async () => (await bell.getAttribute('aria-pressed')) === 'true');
  });

  it('changes notifications, auto-away, download folder and interfaces, each refusing bad input', async () => {
    await openSettings();
    // Startup is the desktop app's: not offered in a browser.
    assert.equal(await dialog().locator('input[name=startAtLogin]').count(), 0);
    assert.equal(await dialog().getByRole('button', { name: 'Startup' }).count(), 0);

    await dialog().getByRole('checkbox', { name: 'Include the message text' }).uncheck();
    await dialog().getByRole('checkbox', { name: 'Show a notification when a message arrives' }).uncheck();
    await until('notifications saved', async () => {
      const n = (await settings()).notifications;
      return !n.enabled && !n.showPreview;
    });
    // The page learns it from the settings event, a moment after the core has it.
    await until('the preview option is disabled', () => dialog().getByRole('checkbox', { name: 'Include the message text' }).isDisabled());
    assert.match(await dialog().getByTestId('muted-list').innerText(), /Bob/);

    await dialog().locator('select[name=autoAway]').selectOption(String(5 * 60_000));
    await until('auto-away saved', async () => (await settings()).autoAwayMs === 300_000);

    const folder = dialog().locator('input[name=downloadFolder]');
    const saveFolder = dialog().getByRole('button', { name: 'Save folder' });
    await folder.fill('Downloads');
    await saveFolder.click();
    await dialog().getByText('Enter a full path', { exact: false }).waitFor();
    const aFile = path.join(base, 'a-file.txt');
    writeFileSync(aFile, 'not a folder');
    await folder.fill(aFile);
    await saveFolder.click();
    await dialog().locator('.folder-form .form-error', { hasText: 'exists but is not a folder' }).waitFor();
    const downloads = path.join(base, 'incoming');
    await folder.fill(downloads);
    await saveFolder.click();
    await dialog().getByText('Folder saved').waitFor();
    assert.equal((await settings()).downloadFolder, downloads);
    const autoAccept = dialog().getByLabel('Accept files without asking');
    assert.equal(await autoAccept.inputValue(), '0', 'asks by default');
    await autoAccept.selectOption({ label: 'Up to 100 MB' });
    await until('auto-accept saved', async () => (await settings()).autoAccept.defaultMaxBytes === 100 * 1024 * 1024);

    await dialog().getByRole('button', { name: 'Network', exact: true }).click();
    await dialog().getByRole('radio', { name: 'Only these:' }).check();
    // This node runs without discovery, so nothing is announced to start from: pick one.
    await dialog().getByText('Choose at least one interface.').waitFor();
    const first = dialog().locator('input[name=interface]').first();
    const name = await first.getAttribute('value');
    assert.ok(name);
    await first.check();
    await until('interfaces saved', async () => (await settings()).interfaces.join() === name);
  });

  it('adds relays, shows what each one answers, and never shows the token', async () => {
    const address = dialog().locator('input[name=relayAddress]');
    const token = dialog().locator('input[name=relayToken]');
    const add = dialog().getByRole('button', { name: 'Add relay' });

    await address.fill('relay.example.org:47480');
    await add.click();
    await dialog().getByText('A relay address looks like parley-relay://', { exact: false }).waitFor();
    await address.fill('parley-relay://relay.example.org:47480/?id=NOT-AN-ID');
    await add.click();
    await dialog().locator('.relay-add .form-error', { hasText: /Not saved: .*bad relay ID/ }).waitFor();
    assert.deepEqual((await settings()).relays, []);

    await address.fill(unreachable);
    await add.click();
    await relayRow(unreachable).locator('.relay-state', { hasText: 'Unreachable' }).waitFor({ timeout: 20_000 });

    await address.fill(relay.url);
    await token.fill('not-the-token');
    await add.click();
    await relayRow(relay.url).locator('.relay-state', { hasText: 'Wrong token' }).waitFor({ timeout: 20_000 });
    assert.equal(await token.inputValue(), '', 'the token field is cleared once saved');

    // Remove it and add it again with the right token.
    await dialog().getByRole('button', { name: `Remove relay ${relay.url}` }).click();
    await relayRow(relay.url).waitFor({ state: 'detached' });
    await address.fill(relay.url);
    await token.fill(TOKEN);
    await add.click();
    await relayRow(relay.url).locator('.relay-state', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    assert.match(await relayRow(relay.url).innerText(), /token set/);
    await dialog().getByRole('heading', { name: 'Relays' }).scrollIntoViewIfNeeded();
    await shot(pa, 'settings-network');

    assert.ok(!(await pa.content()).includes(TOKEN), 'the page holds no token');
    assert.ok(!JSON.stringify(await settings()).includes(TOKEN));
  });

  it('finds every setting kept after the node restarts', async () => {
    await alice.stop();
    alice = await WebNode.start({ dataDir: aliceDir, webPort });
    await pa.goto('about:blank');
    await pa.goto(alice.url);
    await pa.locator(`button.person[data-peer-id="${bob.self.id}"]`).click();
    // The settings reach the page a moment after it loads.
    await until('the header shows Bob still muted', async () => (await pa.getByRole('button', { name: 'Mute notifications from Bob' }).getAttribute('aria-pressed')) === 'true');
    await openSettings();
    assert.equal(await dialog().getByRole('checkbox', { name: 'Show a notification when a message arrives' }).isChecked(), false);
    assert.equal(await dialog().getByRole('checkbox', { name: 'Include the message text' }).isChecked(), false);
    assert.match(await dialog().getByTestId('muted-list').innerText(), /Bob/);
    assert.equal(await dialog().locator('select[name=autoAway]').inputValue(), '300000');
    assert.equal(await dialog().locator('input[name=downloadFolder]').inputValue(), path.join(base, 'incoming'));
    assert.equal(await dialog().getByRole('radio', { name: 'Only these:' }).isChecked(), true);
    const chosen = (await settings()).interfaces;
    assert.equal(chosen.length, 1);
    assert.equal(await dialog().locator(`input[name=interface][value="${chosen[0]}"]`).isChecked(), true);
    // Both relays are back, the stored token still gets in, and the unreachable one says so.
    await relayRow(relay.url).locator('.relay-state', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await relayRow(unreachable).locator('.relay-state', { hasText: 'Unreachable' }).waitFor({ timeout: 20_000 });
    assert.equal(await dialog().locator('li.relay-row').count(), 2);
    assert.ok(!(await pa.content()).includes(TOKEN));

    // And they can be undone: back to all interfaces, notifications on, unmuted.
    await dialog().getByRole('radio', { name: 'All suitable interfaces (recommended)' }).check();
    await dialog().getByRole('checkbox', { name: 'Show a notification when a message arrives' }).check();
    await dialog().getByRole('button', { name: 'Unmute Bob' }).click();
    await until('undone', async () => {
      const s = await settings();
      return s.interfaces.length === 0 && s.notifications.enabled && s.notifications.mutedConversations.length === 0;
    });
    await pa.keyboard.press('Escape');
    await until('the header shows Bob unmuted', async () => (await pa.getByRole('button', { name: 'Mute notifications from Bob' }).getAttribute('aria-pressed')) === 'false');
  });

  it('sets me away when this page sees no input for the chosen time, and back on the next key', async () => {
    // Shorter than the view offers, through the same command.
    await alice.call('updateSettings', { autoAwayMs: 1500 });
    await pa.reload();
    await pa.locator('.self-status', { hasText: 'Away' }).waitFor({ timeout: 20_000 });
    await until('away in the core', async () => (await alice.call('getSelf', {})).presence === 'away');
    await pa.keyboard.press('Shift');
    await pa.locator('.self-status', { hasText: 'Online' }).waitFor({ timeout: 20_000 });
    await alice.call('updateSettings', { autoAwayMs: 0 });
  });

  it('is usable from the keyboard and fits a small window', async () => {
    await pa.setViewportSize({ width: 800, height: 600 });
    await pa.keyboard.press('Control+,');
    await dialog().waitFor();
    // The section list jumps to a section and moves focus to its heading.
    await dialog().getByRole('button', { name: 'Files', exact: true }).focus();
    await pa.keyboard.press('Enter');
    assert.equal(await pa.evaluate(() => document.activeElement?.textContent), 'Files');
    await pa.keyboard.press('Tab');
    assert.equal(await pa.evaluate(() => document.activeElement?.name), 'downloadFolder');
    assert.equal(await dialog().getByRole('button', { name: 'Files', exact: true }).getAttribute('aria-current'), 'true');
    const fits = await pa.evaluate(() => {
      const d = document.querySelector('dialog.settings-dialog').getBoundingClientRect();
      return d.right <= window.innerWidth && d.left >= 0 && document.documentElement.scrollWidth <= window.innerWidth;
    });
    assert.equal(fits, true);
    await shot(pa, 'settings-small-window');
    await pa.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });
  });
});
