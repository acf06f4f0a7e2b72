// A group member who misbehaves, seen from the page of an honest member. Alice is a web-mode
// node in its own process with her page open; Bob (the group's owner) and Mallory are real
// in-process nodes, members of the group, linked to Alice over TLS. Mallory hands Alice
// crafted `gev` frames over her own live link, as an attacker would: an altered copy of Bob's
// signed message, then messages she signed herself in Bob's name. Alice's page must say who
// handed them over (Mallory's hostile name staying text), show neither, and go on working.
// Last, two concurrent events, Mallory's post and Bob's removal of her, reach Alice post first:
// the post shows, then the removal, which orders before it, voids it and it leaves the page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { monotonicFactory } from 'ulid';
import type { Browser, Page } from 'playwright-core';
import { decodeEvent, type GroupEvent } from '../../main/core/groups/group-message.ts';
import { defaultTiming } from '../../main/core/links/timing.ts';
import type { ParleyNode } from '../../main/core/node.ts';
import { alter, signAs } from '../helpers/groups.ts';
import { fullHistory, node, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { WebNode, launchChromium, uiSkipReason, shot } from './web-node.ts';

declare const window: { [key: string]: unknown };

const skip = uiSkipReason();
const MALLORY = '<img src=x onerror=window.__pwned=1>Mallory';
const GROUP = 'Audit';
const ulid = monotonicFactory();

/** What a node holds of the group, decoded. */
function eventsOf(n: ParleyNode, groupId: string): GroupEvent[] {
  return n.store.groupEvents(groupId).map((s) => decodeEvent(s.ev));
}

/** The texts of the open conversation's messages on the page, oldest first. */
async function transcript(page: Page): Promise<string[]> {
  return page.locator('[data-testid=message-list] .msg-row .msg-text').allInnerTexts();
}

describe('a group member hands over altered and forged events: the page warns and shows neither', { skip: skip ?? false }, () => {
  let browser: Browser;
  let alice: WebNode;
  let bob: ParleyNode;
  let mallory: ParleyNode;
  let page: Page;
  let convId: string;
  let groupId: string;
  const pageErrors: string[] = [];
  const notices = () => page.locator('.notices [role=alert]');

  before(async () => {
    alice = await WebNode.start({ dataDir: tempDir('parley-ui-gwarn-'), name: 'Alice' });
    // Who precedes whom at one Lamport clock goes by peer ID; the last test needs the owner first.
    // The web node's link timing, so a loaded machine does not drop links the test relies on.
    const pair = [await node('x', tempDir(), defaultTiming), await node('y', tempDir(), defaultTiming)].sort((a, b) => (a.identity.id < b.identity.id ? -1 : 1));
    [bob, mallory] = [pair[0]!, pair[1]!];
    await bob.api.call('setProfile', { name: 'Bob' });
    await mallory.api.call('setProfile', { name: MALLORY });
    // A group vouches for its members' certificates: the owner must have met both; Mallory
    // needs a link of her own to Alice to misbehave over.
    await bob.api.call('addPeer', { address: alice.address, id: alice.self.id });
    await bob.api.call('addPeer', { address: `127.0.0.1:${mallory.self.port}`, id: mallory.identity.id });
    await mallory.api.call('addPeer', { address: alice.address, id: alice.self.id });
    await waitFor('bob is linked to alice and mallory', () => bob.links.get(alice.self.id) && bob.links.get(mallory.identity.id), 30_000);
    await waitFor('mallory is linked to alice', () => mallory.links.get(alice.self.id), 30_000);
    await waitFor('alice knows both by name', async () => {
      const peers = await alice.call('listPeers', {});
      return peers.some((p) => p.name === 'Bob' && p.link) && peers.some((p) => p.name === MALLORY && p.link);
    }, 30_000);

    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US' });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(alice.url);
    await page.locator('.self-name').waitFor();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop(), mallory?.stop()]);
    removeTempDirs();
    assert.deepEqual(pageErrors, []);
  });

  it('Bob founds the group with Alice and Mallory; Alice opens it and reads his message', async () => {
    const group = await bob.api.call('createGroup', { name: GROUP, members: [alice.self.id, mallory.identity.id] });
    assert.equal(group.kind, 'group');
    convId = group.id;
    groupId = group.group.id;
    const row = page.locator(`button.group-row[data-conv-id="${convId}"]`);
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await bob.api.call('send', { convId, text: 'pay 100 to alice' });
    await page.locator('.msg-text', { hasText: 'pay 100 to alice' }).waitFor({ timeout: 30_000 });
    await waitFor('mallory holds it too', async () => (await fullHistory(mallory, convId)).some((m) => m.text === 'pay 100 to alice'), 30_000);
  });

  it('an altered copy of Bob\'s message, handed over by Mallory: a warning naming her, as text, and the copy is not shown', async () => {
    const original = mallory.store.groupEvents(groupId).find((s) => {
      const e = decodeEvent(s.ev);
      return e.kind === 'text' && e.body.text === 'pay 100 to alice';
    })!;
    const altered = alter(original, (f) => {
      (f['body'] as { text: string }).text = 'pay 999 to mallory';
    });
    mallory.links.get(alice.self.id)!.send({ t: 'gev', group: groupId, evs: [altered], more: false });

    await notices().first().waitFor({ timeout: 30_000 });
    const text = await notices().first().innerText();
    assert.ok(text.includes(MALLORY), `names the member who handed it over: ${text}`);
    assert.ok(text.includes(`“${GROUP}”`), `names the group: ${text}`);
    assert.match(text, /altered or forged/);
    assert.equal(await page.locator('.notices img').count(), 0, 'the hostile name stays text');
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await shot(page, 'group-warning');
    assert.deepEqual(await transcript(page), ['pay 100 to alice']);
    await notices().first().getByRole('button', { name: 'Dismiss' }).click();
    await notices().first().waitFor({ state: 'detached' });
  });

  it('a burst of events Mallory signed in Bob\'s name: one warning, none shown', async () => {
    const held = eventsOf(mallory, groupId);
    const bobSeq = held.filter((e) => e.author === bob.identity.id).length;
    const lamport = Math.max(...held.map((e) => e.lamport));
    const forged = [1, 2, 3].map((i) =>
      signAs(mallory.identity, {
        group: groupId,
        id: ulid(),
        author: bob.identity.id,
        seq: bobSeq + i,
        lamport: lamport + i,
        ts: Date.now(),
        content: { kind: 'text', body: { text: `bob says: trust mallory ${i}` } },
      }),
    );
    mallory.links.get(alice.self.id)!.send({ t: 'gev', group: groupId, evs: forged, more: false });

    await notices().first().waitFor({ timeout: 30_000 });
    assert.ok((await notices().first().innerText()).includes(MALLORY));
    // Three refusals of one kind from one member in one group are one thing to tell.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await notices().count(), 1);
    assert.ok(!(await transcript(page)).some((t) => t.includes('trust mallory')));
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  it('the conversation goes on: Bob\'s next message shows, and Alice\'s reaches him', async () => {
    await bob.api.call('send', { convId, text: 'genuine, after all that' });
    await page.locator('.msg-text', { hasText: 'genuine, after all that' }).waitFor({ timeout: 30_000 });
    const composer = page.getByTestId('composer');
    await composer.fill('Alice is still here');
    await composer.press('Enter');
    await page.locator('.msg-text', { hasText: 'Alice is still here' }).waitFor({ timeout: 30_000 });
    await waitFor('bob has alice\'s message', async () => (await fullHistory(bob, convId)).some((m) => m.text === 'Alice is still here'), 30_000);
    assert.deepEqual(await transcript(page), ['pay 100 to alice', 'genuine, after all that', 'Alice is still here']);
  });

  it('a message voided by a removal that arrives after it leaves the page', async () => {
    // (The creation, Bob's two messages and Alice's; Alice holds them all, having answered last.)
    await waitFor('bob and mallory hold the same four events', () => eventsOf(bob, groupId).length === 4 && eventsOf(mallory, groupId).length === 4, 30_000);
    const held = eventsOf(bob, groupId);
    const lamport = Math.max(...held.map((e) => e.lamport)) + 1;
    const next = (who: ParleyNode) => held.filter((e) => e.author === who.identity.id).length + 1;
    // Two events made at one moment, neither author seeing the other's: Mallory's post, and
    // Bob's removal of her, the event his node would compose now (the same seq and clock).
    // Both signed here, so the test decides the order they reach Alice in (with Bob's node
    // composing, a link re-made in between would sync the post to him and order his removal
    // after it).
    const post = signAs(mallory.identity, {
      group: groupId,
      id: ulid(),
      author: mallory.identity.id,
      seq: next(mallory),
      lamport,
      ts: Date.now(),
      content: { kind: 'text', body: { text: 'quick, before they notice' } },
    });
    const removal = signAs(bob.identity, {
      group: groupId,
      id: ulid(),
      author: bob.identity.id,
      seq: next(bob),
      lamport,
      ts: Date.now(),
      content: { kind: 'remove', body: { ids: [mallory.identity.id] } },
    });
    // The post first, over Mallory's link: Mallory is a member at its position, so it shows.
    mallory.links.get(alice.self.id)!.send({ t: 'gev', group: groupId, evs: [post], more: false });
    await page.locator('.msg-text', { hasText: 'quick, before they notice' }).waitFor({ timeout: 30_000 });

    // Then the removal, over Bob's link. At one clock Bob's ID sorts first, so the removal
    // precedes the post, which is then no longer a member's: it leaves the page.
    bob.links.get(alice.self.id)!.send({ t: 'gev', group: groupId, evs: [removal], more: false });
    await page.locator('[data-change=removed]').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('[data-change=removed]').innerText(), `Bob removed ${MALLORY}`);
    await page.locator('.msg-text', { hasText: 'quick, before they notice' }).waitFor({ state: 'detached', timeout: 30_000 });
    assert.deepEqual(await transcript(page), ['pay 100 to alice', 'genuine, after all that', 'Alice is still here']);
    assert.doesNotMatch(await page.locator(`button.group-row[data-conv-id="${convId}"]`).innerText(), /before they notice/);
    // The page agrees with the core, and a reload shows the same.
    const history = await alice.call('history', { convId, limit: 50 });
    assert.ok(!history.some((m) => m.text.includes('before they notice')));
    await page.reload();
    await page.locator(`button.group-row[data-conv-id="${convId}"]`).click();
    await page.locator('.msg-text', { hasText: 'Alice is still here' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await transcript(page), ['pay 100 to alice', 'genuine, after all that', 'Alice is still here']);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });
});
