// Richer messages in the browser, two web-mode nodes in their own processes and two browser
// profiles: in a group, a mention, a reply, an edit, a reaction and a deletion; then files
// (a 200 MiB file with its progress bar, an image opened full size, a preview that does not
// decode, a WAV that plays, a file dropped and an image pasted, a voice message from a fake
// microphone) and an office-wide broadcast with its badge. Everything goes through the real
// UI, the real cores and real TLS between them; only a few scenes are set up through the API.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { WebNode, launchChromium, uiSkipReason, shot, waitUntil } from './web-node.ts';

declare const window: { [key: string]: unknown };
declare const document: { [key: string]: any };

const skip = uiSkipReason();
const BIG_BYTES = 200 * 1024 * 1024;
const HOSTILE_WAV = '<img src=x onerror=window.__pwned=1>beep.wav';

/** The row of the (first) message whose text contains `text`. */
function row(page: Page, text: string): Locator {
  return page.locator('[data-testid=message-list] .msg-row', { has: page.locator('.msg-text', { hasText: text }) }).first();
}

/** The row of the message carrying the attachment with this name. */
function fileRow(page: Page, name: string): Locator {
  return page.locator('[data-testid=message-list] .msg-row', { has: page.locator('.attachment-name', { hasText: name }) }).first();
}

async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await composer.press('Enter');
}

/** A valid 16-bit mono PCM WAV: `seconds` of a 440 Hz tone. */
function wav(seconds: number, rate = 8000): Buffer {
  const samples = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVEfmt ', 8, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 12000), 44 + i * 2);
  return buf;
}

describe('replies, edits, reactions, mentions, files and broadcasts in the browser', { skip: skip ?? false }, () => {
  let browser: Browser;
  let base: string;
  let alice: WebNode;
  let bob: WebNode;
  let pa: Page;
  let pb: Page;
  let groupId: string;
  const pageErrors: string[] = [];

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'parley-ui-rich-'));
    [alice, bob] = await Promise.all([
      WebNode.start({ dataDir: path.join(base, 'alice'), name: 'Alice' }),
      WebNode.start({ dataDir: path.join(base, 'bob'), name: 'Bob' }),
    ]);
    await alice.call('addPeer', { address: bob.address, id: bob.self.id });
    await waitUntil('Alice and Bob are linked', async () => (await alice.call('listPeers', {})).some((p) => p.id === bob.self.id && p.link !== null));
    await waitUntil('Bob sees Alice linked', async () => (await bob.call('listPeers', {})).some((p) => p.id === alice.self.id && p.link !== null));
    // Audio plays without a click in a test; the microphone is Chromium's fake one (a beep).
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
    const open = async (node: WebNode, who: string) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light', locale: 'en-US', permissions: ['microphone'] });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      // Deleting asks first.
      page.on('dialog', (d) => void d.accept());
      await page.goto(node.url);
      await page.locator('.self-name').waitFor();
      return page;
    };
    [pa, pb] = await Promise.all([open(alice, 'alice'), open(bob, 'bob')]);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([alice?.stop(), bob?.stop()]);
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(pageErrors, []);
  });

  it('a group: "@" lists the members as you type, the mention is sent, highlighted, and marks the message for Bob', async () => {
    await pa.getByRole('button', { name: 'New group' }).click();
    const dialog = pa.locator('dialog');
    await dialog.getByLabel('Group name').fill('Launch');
    await dialog.locator(`input[data-peer-id="${bob.self.id}"]`).check();
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await dialog.waitFor({ state: 'detached' });
    groupId = (await alice.call('listConversations', {})).find((c) => c.kind === 'group')!.id;
    const groupRow = pb.locator(`button.group-row[data-conv-id="${groupId}"]`);
    await groupRow.waitFor({ timeout: 30_000 });
    await groupRow.click();

    const composer = pa.getByTestId('composer');
    await composer.pressSequentially('Morning @b');
    const list = pa.getByTestId('mention-list');
    await list.waitFor();
    assert.deepEqual(await list.getByRole('option').allInnerTexts(), ['Bob']);
    assert.equal(await composer.getAttribute('aria-expanded'), 'true');
    // Escape closes the list and keeps the text; typing on opens it again.
    await composer.press('Escape');
    await list.waitFor({ state: 'detached' });
    await composer.pressSequentially('o');
    await list.waitFor();
    await composer.press('Tab');
    await list.waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), 'Morning @Bob ');
    await composer.pressSequentially('the launch is at ten');
    await composer.press('Enter');

    const mine = row(pa, 'the launch is at ten');
    await mine.waitFor();
    assert.equal(await mine.locator('[data-testid=mention]').innerText(), '@Bob');
    const theirs = row(pb, 'the launch is at ten');
    await theirs.waitFor({ timeout: 30_000 });
    assert.equal(await theirs.locator('[data-testid=mention]').innerText(), '@Bob');
    assert.match((await theirs.getAttribute('class')) ?? '', /mentions-me/);
    assert.doesNotMatch((await mine.getAttribute('class')) ?? '', /mentions-me/, 'mentioning someone else does not mark my own line');
    await shot(pb, 'rich-mention');
  });

  it('Bob replies from the message toolbar; both see the quote, and clicking it goes to the original', async () => {
    const original = row(pb, 'the launch is at ten');
    await original.hover();
    await original.getByRole('button', { name: 'Reply', exact: true }).click();
    const bar = pb.getByTestId('reply-bar');
    await bar.waitFor();
    assert.match(await bar.innerText(), /Replying to Alice/);
    assert.match(await bar.innerText(), /the launch is at ten/);
    // Escape lets go of the reply; choosing Reply again brings it back.
    await pb.getByTestId('composer').press('Escape');
    await bar.waitFor({ state: 'detached' });
    await original.hover();
    await original.getByRole('button', { name: 'Reply', exact: true }).click();
    await send(pb, 'Ten works for me');
    await bar.waitFor({ state: 'detached' });

    for (const page of [pa, pb]) {
      const reply = row(page, 'Ten works for me');
      await reply.waitFor({ timeout: 30_000 });
      const quote = reply.getByTestId('reply-quote');
      assert.match(await quote.innerText(), /Alice|You/);
      assert.match(await quote.innerText(), /the launch is at ten/);
    }
    await row(pa, 'Ten works for me').getByTestId('reply-quote').click();
    await waitUntil('the original is highlighted', async () => /highlighted/.test((await row(pa, 'the launch is at ten').getAttribute('class')) ?? ''));
    await shot(pa, 'rich-reply');
  });

  it('Alice edits her last message with Up in the empty composer; Bob sees the new text marked "edited"', async () => {
    await send(pa, 'Bring the slides');
    await row(pb, 'Bring the slides').waitFor({ timeout: 30_000 });
    const composer = pa.getByTestId('composer');
    await composer.focus();
    await composer.press('ArrowUp');
    await pa.getByTestId('editing-bar').waitFor();
    await waitUntil('the composer holds the text to edit', async () => (await composer.inputValue()) === 'Bring the slides');
    await composer.fill('Bring the slides and the demo');
    await composer.press('Enter');
    await pa.getByTestId('editing-bar').waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), '', 'the draft comes back empty after the edit');
    const edited = row(pb, 'Bring the slides and the demo');
    await edited.waitFor({ timeout: 30_000 });
    await edited.getByTestId('msg-edited').waitFor();
    assert.equal(await edited.getByTestId('msg-edited').innerText(), 'edited');
    assert.match((await edited.getByTestId('msg-edited').getAttribute('title')) ?? '', /^Edited /);
    assert.equal(await pb.locator('.msg-text', { hasText: /^Bring the slides$/ }).count(), 0, 'no copy of the old text is left');
  });

  it('Bob reacts with a thumbs-up; Alice sees the chip with the count and who; Alice toggles hers on and off', async () => {
    const target = row(pb, 'Bring the slides and the demo');
    await target.hover();
    await target.getByRole('button', { name: 'Add reaction' }).click();
    await target.getByRole('button', { name: 'React with 👍' }).click();
    const chip = row(pa, 'Bring the slides and the demo').locator('.reaction-chip[data-emoji="👍"]');
    await chip.waitFor({ timeout: 30_000 });
    assert.equal(await chip.locator('.reaction-count').innerText(), '1');
    assert.equal(await chip.getAttribute('title'), 'Bob');
    assert.equal(await chip.getAttribute('aria-pressed'), 'false');
    await chip.click();
    await waitUntil('two thumbs-up', async () => (await chip.locator('.reaction-count').innerText()) === '2');
    assert.equal(await chip.getAttribute('aria-pressed'), 'true');
    const bobsChip = row(pb, 'Bring the slides and the demo').locator('.reaction-chip[data-emoji="👍"]');
    await waitUntil('Bob sees two', async () => (await bobsChip.locator('.reaction-count').innerText().catch(() => '')) === '2');
    await chip.click();
    await waitUntil('back to one', async () => (await chip.locator('.reaction-count').innerText()) === '1');
    await shot(pa, 'rich-reactions');
  });

  it('Alice deletes a message (after confirming); both sides keep a "deleted" line', async () => {
    await send(pa, 'Wrong window, sorry');
    await row(pb, 'Wrong window, sorry').waitFor({ timeout: 30_000 });
    const r = row(pa, 'Wrong window, sorry');
    await r.hover();
    await r.getByRole('button', { name: 'Delete', exact: true }).click();
    for (const page of [pa, pb]) {
      await waitUntil('the text is gone', async () => (await page.locator('.msg-text', { hasText: 'Wrong window, sorry' }).count()) === 0);
      assert.ok((await page.getByTestId('msg-deleted').count()) >= 1);
    }
    assert.equal(await pb.getByTestId('msg-deleted').last().innerText(), 'This message was deleted');
  });

  it('a 200 MiB file: Bob accepts the offer, both see a progress bar with speed and time left, then it is done', async () => {
    const big = path.join(base, 'quarterly-figures.bin');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, BIG_BYTES);
    closeSync(fd);
    await pa.getByTestId('file-input').setInputFiles(big);
    const offered = fileRow(pb, 'quarterly-figures.bin');
    await offered.waitFor({ timeout: 60_000 });
    assert.equal(await offered.getByTestId('attachment').getAttribute('data-transfer-state'), 'offered');
    assert.match(await offered.getByTestId('attachment').innerText(), /200 MB/);
    await shot(pb, 'rich-file-offer');
    const started = Date.now();
    await offered.getByRole('button', { name: 'Accept' }).click();

    const bar = offered.getByRole('progressbar');
    await bar.waitFor({ timeout: 60_000 });
    const seen = Number(await bar.getAttribute('aria-valuenow'));
    assert.ok(seen >= 0 && seen <= 100);
    assert.match(await offered.locator('.transfer-figures').innerText(), /of 200 MB · .*\/s/);
    await shot(pb, 'rich-file-progress');
    await waitUntil('the transfer is done on both sides', async () => {
      const states = await Promise.all([offered, fileRow(pa, 'quarterly-figures.bin')].map((r) => r.getByTestId('attachment').getAttribute('data-transfer-state')));
      return states.every((s) => s === 'done');
    }, 180_000);
    const seconds = (Date.now() - started) / 1000;
    console.log(`200 MiB through the UI: ${seconds.toFixed(1)} s after Accept (${(200 / seconds).toFixed(0)} MiB/s)`);
    assert.equal(await offered.getByRole('progressbar').count(), 0, 'no bar once done');
    assert.equal(await offered.getByTestId('attachment-state').innerText(), 'Received');
  });

  it('an image: a preview made in the page, opened full size in the app; Escape closes it', async () => {
    // A real PNG drawn by the page itself.
    const pngBase64: string = await pa.evaluate(async () => {
      const c = document.createElement('canvas');
      c.width = 900;
      c.height = 600;
      const g = c.getContext('2d');
      g.fillStyle = '#3a63e0';
      g.fillRect(0, 0, 900, 600);
      g.fillStyle = '#ffe27a';
      g.beginPath();
      g.arc(450, 300, 200, 0, Math.PI * 2);
      g.fill();
      const blob: any = await new Promise((r) => c.toBlob(r, 'image/png'));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return (window as any).btoa(s);
    });
    await pa.getByTestId('file-input').setInputFiles({ name: 'sun.png', mimeType: 'image/png', buffer: Buffer.from(pngBase64, 'base64') });
    const img = fileRow(pb, 'sun.png');
    await img.waitFor({ timeout: 30_000 });
    const thumb = img.locator('[data-testid=attachment-image] img');
    await thumb.waitFor();
    assert.match((await thumb.getAttribute('src')) ?? '', /^data:image\/(webp|jpeg);base64,/);
    await waitUntil('the thumbnail decoded', async () => (await thumb.evaluate((el: any) => el.naturalWidth)) > 0);
    assert.ok((await thumb.evaluate((el: any) => el.naturalWidth)) <= 320);
    // Small images come in without asking.
    await waitUntil('the image arrived', async () => (await img.getByTestId('attachment').getAttribute('data-transfer-state')) === 'done', 60_000);
    await img.getByTestId('attachment-image').click();
    const full = pb.getByTestId('image-full');
    await full.waitFor();
    assert.equal(await full.getAttribute('data-full'), 'true');
    assert.match((await full.getAttribute('src')) ?? '', /^\/media\//);
    await waitUntil('the full image decoded', async () => (await full.evaluate((el: any) => el.naturalWidth)) === 900);
    await shot(pb, 'rich-image-viewer');
    await pb.keyboard.press('Escape');
    await full.waitFor({ state: 'detached' });
  });

  it('a preview that claims to be a JPEG but does not decode shows a placeholder, and nothing breaks', async () => {
    // Past the core's cheap checks (JPEG magic bytes, size), only the page's decoder finds out.
    const upload = await fetch(`${alice.origin}/upload`, {
      method: 'POST',
      body: 'not really an image',
      headers: { authorization: `Bearer ${alice.token}`, origin: alice.origin, 'x-parley-name': 'broken.jpg', 'content-type': 'image/jpeg' },
    });
    assert.equal(upload.status, 200);
    const { upload: id } = (await upload.json()) as { upload: string };
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('garbage, not a JPEG stream at all')]).toString('base64');
    await alice.call('sendFile', { convId: groupId, upload: id, kind: 'image', thumbnail: garbage, width: 64, height: 64 });
    const r = fileRow(pb, 'broken.jpg');
    await r.waitFor({ timeout: 30_000 });
    await r.getByTestId('image-placeholder').waitFor();
    assert.equal(await r.locator('img').count(), 0);
    const held = (await bob.call('history', { convId: groupId, limit: 100 })).find((m) => m.attachment?.name === 'broken.jpg');
    assert.ok(held?.attachment?.thumbnail, 'the preview did reach the page: its decoder refused it');
  });

  it('a WAV file: accepted, then it plays in the page (its time advances)', async () => {
    // The name is the sender's text: it stays text.
    await pa.getByTestId('file-input').setInputFiles({ name: HOSTILE_WAV, mimeType: 'audio/wav', buffer: wav(3) });
    const r = fileRow(pb, HOSTILE_WAV);
    await r.waitFor({ timeout: 30_000 });
    if ((await r.getByTestId('attachment').getAttribute('data-transfer-state')) === 'offered') await r.getByRole('button', { name: 'Accept' }).click();
    const audio = r.getByTestId('attachment-audio');
    await audio.waitFor({ timeout: 60_000 });
    await audio.evaluate((el: any) => {
      el.addEventListener('playing', () => (el.dataset.played = 'yes'));
      return el.play();
    });
    assert.equal(await r.locator('.attachment-name').innerText(), HOSTILE_WAV);
    await waitUntil('the audio plays', async () => (await audio.evaluate((el: any) => el.currentTime)) > 0.2 || (await audio.getAttribute('data-played')) === 'yes');
    assert.equal(await audio.evaluate((el: any) => el.error), null);
  });

  it('a file dropped on the conversation and an image pasted into the composer are offered too; Bob declines the file', async () => {
    await pa.evaluate(() => {
      const dt = new (window as any).DataTransfer();
      dt.items.add(new (window as any).File(['minutes of the meeting'], 'minutes.txt', { type: 'text/plain' }));
      const target = document.querySelector('[data-testid=message-list]');
      for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new (window as any).DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    const dropped = fileRow(pb, 'minutes.txt');
    await dropped.waitFor({ timeout: 30_000 });
    await dropped.getByRole('button', { name: 'Decline' }).click();
    // In a group one member declining is that member's choice: the offer stands for the others.
    await waitUntil('Bob sees it declined', async () => (await dropped.getByTestId('attachment').getAttribute('data-transfer-state')) === 'declined');
    assert.equal(await dropped.getByTestId('attachment-state').innerText(), 'Declined');
    assert.equal(await dropped.getByRole('button', { name: 'Accept' }).count(), 0);

    await pa.evaluate(async () => {
      const c = document.createElement('canvas');
      c.width = 40;
      c.height = 30;
      c.getContext('2d').fillRect(0, 0, 40, 30);
      const blob: any = await new Promise((r) => c.toBlob(r, 'image/png'));
      const dt = new (window as any).DataTransfer();
      dt.items.add(new (window as any).File([blob], 'pasted.png', { type: 'image/png' }));
      const composer = document.querySelector('[data-testid=composer]');
      composer.dispatchEvent(new (window as any).ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    const pasted = fileRow(pb, 'pasted.png');
    await pasted.waitFor({ timeout: 30_000 });
    await pasted.locator('[data-testid=attachment-image] img').waitFor();
  });

  it('a voice message recorded from the (fake) microphone arrives with its duration', async () => {
    await pa.getByRole('button', { name: 'Record a voice message' }).click();
    const elapsed = pa.getByTestId('voice-elapsed');
    await elapsed.waitFor();
    await waitUntil('a second is recorded', async () => (await elapsed.innerText()) !== '0:00');
    await pa.getByRole('button', { name: 'Stop and send' }).click();
    const voice = pb.locator('[data-testid=message-list] .attachment.kind-voice').last();
    await voice.waitFor({ timeout: 30_000 });
    assert.match(await voice.innerText(), /Voice message/);
    assert.match(await voice.innerText(), /0:0[1-9]/);
  });

  it('a broadcast: sent from the sidebar, listed with per-recipient state; Bob sees it with a badge', async () => {
    await pa.getByRole('button', { name: 'Broadcast', exact: true }).click();
    const dialog = pa.locator('dialog');
    assert.match(await dialog.getByTestId('broadcast-recipients').innerText(), /Bob/);
    await dialog.getByTestId('broadcast-text').fill('Fire drill at 3pm');
    await dialog.getByRole('button', { name: 'Send broadcast' }).click();
    const item = dialog.locator('.broadcast-item', { hasText: 'Fire drill at 3pm' });
    await item.waitFor();
    await waitUntil('delivered to Bob', async () => /Delivered to 1 of 1/.test(await item.getByTestId('broadcast-summary').innerText()));
    assert.equal(await item.locator(`[data-peer-id="${alice.self.id}"]`).count(), 0);
    assert.match(await item.locator(`[data-peer-id="${bob.self.id}"]`).innerText(), /Bob/);
    await shot(pa, 'rich-broadcast');
    await pa.keyboard.press('Escape');

    await pb.locator(`button.person[data-peer-id="${alice.self.id}"]`).click();
    const received = row(pb, 'Fire drill at 3pm');
    await received.waitFor({ timeout: 30_000 });
    assert.equal(await received.getByTestId('broadcast-badge').innerText(), 'BROADCAST');
  });

  it('a reaction or an edit to an older message is not a new message: only the new one counts as unread', async () => {
    // Alice looks at another conversation; Bob reacts to and edits old group messages, then writes.
    await pa.locator(`button.person[data-peer-id="${bob.self.id}"]`).click();
    const history = await bob.call('history', { convId: groupId, limit: 50 });
    const old = history.find((m) => m.text === 'Bring the slides and the demo')!;
    const bobsOwn = history.find((m) => m.text === 'Ten works for me')!;
    await bob.call('react', { messageId: old.id, emoji: '🎉', on: true });
    await bob.call('editMessage', { messageId: bobsOwn.id, text: 'Ten works for me, see you there' });
    await bob.call('send', { convId: groupId, text: 'One more thing' });
    const groupRow = pa.locator(`button.group-row[data-conv-id="${groupId}"]`);
    // Events arrive in order: once the new message shows, the changes before it were handled.
    await waitUntil('the new message is in the sidebar', async () => /One more thing/.test(await groupRow.innerText()));
    assert.equal(await groupRow.locator('.badge').innerText(), '1');
  });

  it('the same conversation in dark theme and Simplified Chinese', async () => {
    await pb.evaluate(() => (window as any).localStorage.setItem('parley.prefs', JSON.stringify({ theme: 'dark', language: 'zh-CN' })));
    await pb.reload();
    await pb.locator(`button.group-row[data-conv-id="${groupId}"]`).click();
    await pb.getByTestId('msg-deleted').first().waitFor();
    assert.equal(await pb.getByTestId('msg-deleted').first().innerText(), '此消息已删除');
    assert.equal(await pb.getByTestId('msg-edited').first().innerText(), '已编辑');
    await shot(pb, 'rich-dark-zh');
  });

  it('a hostile file name stayed text on both pages', async () => {
    for (const p of [pa, pb]) {
      assert.equal(await p.evaluate(() => window.__pwned), undefined);
      assert.equal(await p.locator('.attachment-card img, .msg-text img').count(), 0);
    }
  });
});
