// Web mode's /upload and /media (main/web/bridge.ts in front of main/core/attachments/media.ts):
// only the page (token and its own Origin) may upload, and what is served can never run as
// the page: an allow-list of inline types, everything else a download, always nosniff and a
// sandbox CSP; ranges for seeking.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ParleyNode } from '../../main/core/node.ts';
import { startBridge, type Bridge } from '../../main/web/bridge.ts';
import { testLogger } from '../../main/core/log.ts';
import { connect, nodePool, removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';

const pool = nodePool();
let a: ParleyNode;
let b: ParleyNode;
let bridge: Bridge;
let conv: string;

before(async () => {
  a = await pool.start('alice');
  b = await pool.start('bob');
  conv = await connect(a, b);
  await waitFor('link up', () => a.links.get(b.self.id)?.isUp);
  bridge = await startBridge({ api: a.api, staticDir: tempDir('parley-static-'), media: a.attachments.media, log: testLogger('bridge') });
});
after(async () => {
  await bridge?.close();
  await pool.stopAll();
  removeTempDirs();
});

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${bridge.origin}/upload`, { method: 'POST', body, headers: { 'x-parley-name': encodeURIComponent('page.html'), 'content-type': 'text/html', ...headers } });
}
const page = () => ({ origin: bridge.origin, authorization: `Bearer ${bridge.token}` });

describe('web mode uploads and media', () => {
  it('refuses an upload without the token, with a wrong token, or from another origin', async () => {
    assert.equal((await post('x', { origin: bridge.origin })).status, 401);
    assert.equal((await post('x', { origin: bridge.origin, authorization: 'Bearer nope' })).status, 401);
    assert.equal((await post('x', { ...page(), origin: 'http://evil.example' })).status, 403);
    assert.equal((await post('x', { authorization: `Bearer ${bridge.token}` })).status, 403, 'no Origin at all');
    // The token as a cookie is for <img> and <audio> only: never enough to upload.
    assert.equal((await post('x', { origin: bridge.origin, cookie: `parley-token-${bridge.port}=${bridge.token}` })).status, 401);
    const ok = await post('<p>hi</p>', page());
    assert.equal(ok.status, 200);
    assert.match(((await ok.json()) as { upload: string }).upload, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('serves an HTML file as a download with nosniff and a sandbox CSP, and answers ranges with 206', async () => {
    const html = '<html><script>alert(document.cookie)</script></html>';
    const { upload } = (await (await post(html, page())).json()) as { upload: string };
    const sent = await a.api.call('sendFile', { convId: conv, upload, kind: 'file' });
    assert.equal(sent.attachment?.url, `/media/${sent.id}`);
    const url = `${bridge.origin}${sent.attachment!.url}`;

    assert.equal((await fetch(url)).status, 401, 'no token, no media');
    const res = await fetch(url, { headers: { authorization: `Bearer ${bridge.token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename\*=UTF-8''page\.html$/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-security-policy'), 'sandbox');
    assert.equal(await res.text(), html);

    const cookie = await fetch(url, { headers: { cookie: `parley-token-${bridge.port}=${bridge.token}`, range: 'bytes=6-11' } });
    assert.equal(cookie.status, 206);
    assert.equal(cookie.headers.get('content-range'), `bytes 6-11/${html.length}`);
    assert.equal(await cookie.text(), html.slice(6, 12));
    // Cookies ignore ports: a cookie named for another node's port is not this node's token.
    assert.equal((await fetch(url, { headers: { cookie: `parley-token-${bridge.port + 1}=${bridge.token}` } })).status, 401);
    const tail = await fetch(url, { headers: { authorization: `Bearer ${bridge.token}`, range: 'bytes=-7' } });
    assert.equal(await tail.text(), html.slice(-7));
    const bad = await fetch(url, { headers: { authorization: `Bearer ${bridge.token}`, range: `bytes=${html.length}-` } });
    assert.equal(bad.status, 416);
    const cross = await fetch(url, { headers: { authorization: `Bearer ${bridge.token}`, 'sec-fetch-site': 'cross-site' } });
    assert.equal(cross.status, 403, 'another site cannot embed it');
  });

  it('serves allow-listed media inline, and SVG never', async () => {
    for (const [type, inline] of [['audio/webm', true], ['image/png', true], ['image/svg+xml', false], ['text/html; charset=utf-8', false]] as const) {
      const res = await fetch(`${bridge.origin}/upload`, {
        method: 'POST',
        body: 'data',
        headers: { ...page(), 'x-parley-name': 'f', 'content-type': type },
      });
      const { upload } = (await res.json()) as { upload: string };
      const sent = await a.api.call('sendFile', { convId: conv, upload, kind: 'file' });
      const media = await fetch(`${bridge.origin}/media/${sent.id}`, { headers: { authorization: `Bearer ${bridge.token}` } });
      assert.equal(media.headers.get('content-type'), inline ? type : 'application/octet-stream', type);
      assert.equal(media.headers.get('content-disposition') === null, inline, type);
      assert.equal(media.headers.get('content-security-policy'), 'sandbox');
    }
  });
});
