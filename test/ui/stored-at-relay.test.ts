// A message for someone who is online nowhere, deposited at a relay: the sender's page says
// "Stored at relay" (not "Not delivered yet" with retry and cancel), and "Delivered" once the
// recipient is back and acked it. The relay never saw the recipient: the message is sealed to
// the certificate the recipient proved on an earlier direct link.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { RelayProcess } from '../integration/relay-harness.ts';
import { WebNode, launchChromium, uiSkipReason, waitUntil as until, shot } from './web-node.ts';

const skip = uiSkipReason();

describe('a message stored at a relay, in the browser', { skip: skip ?? false }, () => {
  let base: string;
  let relay: RelayProcess;
  let alice: WebNode;
  let bob: WebNode;
  let browser: Browser;
  let pa: Page;
  const pageErrors: string[] = [];
  /** Short, so that "not flagged overdue" is seen past the deadline. */
  const timing = { deliveryDeadlineMs: 2000, redialMinMs: 200, redialMaxMs: 1000 };

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-relay-'));
    relay = await RelayProcess.start({ dataDir: path.join(base, 'relay') });
    [alice, bob] = await Promise.all([
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice', timing }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob', timing }),
    ]);
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

  it('shows "Stored at relay" while the recipient is offline, then "Delivered"', async () => {
    // They meet on the LAN once; then only Alice uses the relay, and Bob leaves.
    await alice.call('addPeer', { address: bob.address, id: bob.self.id });
    await until('a link to bob', async () => (await alice.call('listPeers', {})).some((p) => p.id === bob.self.id && p.link !== null));
    await alice.call('addRelay', { address: relay.url });
    await until('alice on the relay', async () => (await alice.call('listRelays', {}))[0]?.state === 'connected');
    await bob.stop();
    await until('bob offline', async () => (await alice.call('listPeers', {})).some((p) => p.id === bob.self.id && p.link === null));

    await pa.goto(alice.url);
    await pa.locator(`button.person[data-peer-id="${bob.self.id}"]`).click();
    const composer = pa.getByTestId('composer');
    await composer.fill('see you tomorrow');
    await composer.press('Enter');
    const row = pa.locator('.msg-row.mine', { hasText: 'see you tomorrow' });
    await pa.locator('.msg-row.mine[data-state="stored"]', { hasText: 'see you tomorrow' }).waitFor({ timeout: 20_000 });
    const state = row.locator('.msg-state');
    assert.equal(await state.locator('.msg-state-label').innerText(), 'Stored at relay', 'the newest of mine spells its state out');
    assert.match((await state.getAttribute('title')) ?? '', /until the recipient comes online/);
    assert.equal(await state.locator('svg.icon path').count(), 1);

    // Past the delivery deadline it is still stored: nothing to retry, nothing to cancel.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await row.getAttribute('data-state'), 'stored');
    assert.equal(await row.getByRole('button', { name: 'Retry' }).count(), 0);
    await shot(pa, 'stored-at-relay');

    // Bob is back (new port; he dials Alice at the address he remembers) and acks it.
    bob = await WebNode.start({ dataDir: path.join(base, 'bob'), timing });
    await pa.locator('.msg-row.mine[data-state="delivered"]', { hasText: 'see you tomorrow' }).waitFor({ timeout: 30_000 });
    const history = await bob.call('history', { convId: (await bob.call('openConversation', { peerId: alice.self.id })).id, limit: 10 });
    assert.deepEqual(
      history.map((m) => m.text),
      ['see you tomorrow'],
    );
  });
});
