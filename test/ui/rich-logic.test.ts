// The pure parts of richer messages in the renderer, run under Node: finding and inserting
// @mentions, splitting text around mentioned names, what kind of attachment a file is, sizes
// and durations in words, which previews may reach an <img>, and that a changed message
// (edited, deleted, reacted to, a transfer moving) replaces the old copy in the list.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageInfo } from '../../main/contract/contract.ts';
import { canChange } from '../../renderer/src/app/message-rules.ts';
import { sameMessage, upsertMessage } from '../../renderer/src/app/order.ts';
import { insertMention, matchesMention, mentionQuery, mentionsInText, splitMentions } from '../../renderer/src/features/conversation/mentions.ts';
import { formatBytes, formatDuration, kindOf, thumbnailUrl } from '../../renderer/src/features/files/media.ts';

const B = 'B'.repeat(52);
const C = 'C'.repeat(52);
const msg = (id: string, lamport: number, over: Partial<MessageInfo> = {}): MessageInfo => ({
  id,
  convId: 'c',
  author: B,
  mine: false,
  seq: lamport,
  lamport,
  ts: 1_800_000_000_000 + lamport,
  text: `m${lamport}`,
  state: 'delivered',
  overdue: false,
  ...over,
});

describe('@mentions in the composer', () => {
  it('finds the "@query" that ends at the caret, after a space or at the start only', () => {
    assert.deepEqual(mentionQuery('hi @bo', 6), { start: 3, query: 'bo' });
    assert.deepEqual(mentionQuery('@', 1), { start: 0, query: '' });
    assert.deepEqual(mentionQuery('(@An', 4), { start: 1, query: 'An' });
    assert.deepEqual(mentionQuery('hi @Ann Lee', 11), { start: 3, query: 'Ann Lee' }, 'one space inside a name');
    assert.equal(mentionQuery('mail me at bob@example.com', 26), null, 'an e-mail address is not a mention');
    assert.equal(mentionQuery('hi @bo and more', 15), null);
    assert.equal(mentionQuery('hi @bo', 2), null, 'the caret is before the @');
  });

  it('replaces the query with "@Name " and puts the caret after it', () => {
    assert.deepEqual(insertMention('hi @bo, ok', 3, 6, 'Bob'), { text: 'hi @Bob , ok', caret: 8 });
  });

  it('matches names by the start of any word, in any case', () => {
    assert.ok(matchesMention('Ann Lee', 'le'));
    assert.ok(matchesMention('Ann Lee', 'AN'));
    assert.ok(matchesMention('Bob', ''));
    assert.ok(!matchesMention('Bob', 'ob'));
  });

  it('sends only the picked members whose "@Name" is still in the text', () => {
    const picked = [
      { id: B, name: 'Bob' },
      { id: C, name: 'Carol' },
    ];
    assert.deepEqual(mentionsInText('@Bob and @Carol', picked), [B, C]);
    assert.deepEqual(mentionsInText('@Bob only', picked), [B]);
    assert.deepEqual(mentionsInText('nobody', picked), []);
  });

  it('splits text around mentioned names, longest first, and leaves everything else as text', () => {
    const parts = splitMentions('hey @Ann Lee and @Ann, not @Zed', [
      { id: B, name: 'Ann' },
      { id: C, name: 'Ann Lee' },
    ]);
    assert.deepEqual(parts, [
      { kind: 'text', text: 'hey ' },
      { kind: 'mention', text: '@Ann Lee', id: C },
      { kind: 'text', text: ' and ' },
      { kind: 'mention', text: '@Ann', id: B },
      { kind: 'text', text: ', not @Zed' },
    ]);
    assert.deepEqual(splitMentions('<b>@Bob</b>', [{ id: B, name: 'Bob' }]), [
      { kind: 'text', text: '<b>' },
      { kind: 'mention', text: '@Bob', id: B },
      { kind: 'text', text: '</b>' },
    ]);
    assert.deepEqual(splitMentions('no names', []), [{ kind: 'text', text: 'no names' }]);
  });
});

describe('attachments in the renderer', () => {
  it('shows inline only the image types the core serves inline (never SVG)', () => {
    assert.equal(kindOf('image/png'), 'image');
    assert.equal(kindOf('IMAGE/JPEG'), 'image');
    assert.equal(kindOf('image/svg+xml'), 'file');
    assert.equal(kindOf('audio/wav'), 'audio');
    assert.equal(kindOf('video/mp4'), 'video');
    assert.equal(kindOf('text/html'), 'file');
    assert.equal(kindOf(''), 'file');
  });

  it('gives an <img> only a preview whose bytes start like JPEG, PNG or WebP', () => {
    assert.equal(thumbnailUrl('/9j/4AAQ'), 'data:image/jpeg;base64,/9j/4AAQ');
    assert.equal(thumbnailUrl('iVBORw0KGgoAAAA='), 'data:image/png;base64,iVBORw0KGgoAAAA=');
    assert.equal(thumbnailUrl('UklGRlYAAABXRUJQ'), 'data:image/webp;base64,UklGRlYAAABXRUJQ');
    assert.equal(thumbnailUrl('PHN2ZyB4bWxucz0'), null, 'SVG');
    assert.equal(thumbnailUrl('/9j/"><script>'), null, 'not base64');
    assert.equal(thumbnailUrl(undefined), null);
  });

  it('says sizes and durations the way people read them', () => {
    assert.equal(formatBytes(512, 'en'), '512 B');
    assert.equal(formatBytes(200 * 1024 * 1024, 'en'), '200 MB');
    assert.equal(formatBytes(1536, 'en'), '1.5 KB');
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(65_000), '1:05');
    assert.equal(formatDuration(3_723_000), '1:02:03');
  });
});

describe('changed messages replace their old copy', () => {
  it('an edit, a deletion, a reaction or a transfer moving is a change; a repeat is not', () => {
    const base = msg('1', 1);
    const list = [base, msg('2', 2)];
    assert.equal(upsertMessage(list, { ...base }), list, 'a repeat keeps the array');
    assert.ok(sameMessage(base, { ...base }));
    for (const changed of [
      { ...base, text: 'new', editedAt: 5 },
      { ...base, text: '', deleted: true },
      { ...base, reactions: [{ emoji: '👍', by: [B], mine: false }] },
      { ...base, mentionsMe: true },
    ] as MessageInfo[]) {
      assert.ok(!sameMessage(base, changed));
      const next = upsertMessage(list, changed);
      assert.notEqual(next, list);
      assert.equal(next[0], changed);
      assert.equal(next.length, 2);
    }
    const file = msg('3', 3, {
      text: '',
      attachment: { transferId: 't', name: 'a.bin', size: 10, mime: 'application/octet-stream', kind: 'file', url: null, transfer: { state: 'running', direction: 'receive', bytesDone: 1, bytesTotal: 10, bytesPerSec: 1, etaMs: 9000 } },
    });
    const moved = { ...file, attachment: { ...file.attachment!, transfer: { ...file.attachment!.transfer, bytesDone: 5 } } };
    assert.ok(!sameMessage(file, moved));
  });
});

describe('which of my messages can be edited or deleted', () => {
  it('a direct message once the peer holds it; before that it is canceled instead', () => {
    for (const state of ['pending', 'sent', 'stored'] as const) assert.equal(canChange(msg('a', 1, { mine: true, state })), false, state);
    for (const state of ['delivered', 'read'] as const) assert.equal(canChange(msg('a', 1, { mine: true, state })), true, state);
  });
  it('a group message at once (its events are signed, not outboxed); never a canceled or rejected one', () => {
    assert.equal(canChange(msg('a', 1, { mine: true, convId: 'g:GROUP', state: 'pending' })), true);
    assert.equal(canChange(msg('a', 1, { mine: true, state: 'canceled' })), false);
    assert.equal(canChange(msg('a', 1, { mine: true, convId: 'g:GROUP', state: 'rejected' })), false);
  });
});
