// The web-mode bridge, spoken to with a plain WebSocket client over real sockets, in front of
// a real node: who may connect, and what reaches the core.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { ParleyApi } from '../../main/contract/contract.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';
import { hostAllowed, startBridge, type Bridge } from '../../main/web/bridge.ts';
import { TOKEN_PROTOCOL_PREFIX, WIRE_PROTOCOL, type WireMessage } from '../../main/web/wire.ts';

function httpGet(port: number, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the HTTP status of a refused upgrade, or 101 and a client on the open socket. */
function connect(bridge: Bridge, opts: { origin?: string | null; token?: string | null; protocol?: string | null; host?: string }): Promise<{ status: number; ws?: Client }> {
  const protocols: string[] = [];
  if (opts.protocol !== null) protocols.push(opts.protocol ?? WIRE_PROTOCOL);
  if (opts.token !== null) protocols.push(`${TOKEN_PROTOCOL_PREFIX}${opts.token ?? bridge.token}`);
  const headers: Record<string, string> = {};
  if (opts.host) headers.host = opts.host;
  const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/ws`, protocols, {
    ...(opts.origin !== null ? { origin: opts.origin ?? bridge.origin } : {}),
    headers,
  });
  // Listen from the start: the hello arrives right after the handshake.
  const client = new Client(ws);
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 101, ws: client }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', () => resolve({ status: 0 }));
  });
}

class Client {
  private next = 1;
  readonly messages: WireMessage[] = [];
  private readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (d) => this.messages.push(JSON.parse(d.toString()) as WireMessage));
  }
  async waitFor(pred: (m: WireMessage) => boolean, ms = 5000): Promise<WireMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  sendRaw(data: string): void {
    this.ws.send(data);
  }
  async request(cmd: string, args?: unknown): Promise<Extract<WireMessage, { type: 'result' }>> {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, cmd, args }));
    return (await this.waitFor((m) => m.type === 'result' && m.id === id)) as Extract<WireMessage, { type: 'result' }>;
  }
  close(): void {
    this.ws.close();
  }
}

describe('web bridge', () => {
  let node: ParleyNode;
  let bridge: Bridge;
  let dir: string;
  /** Every call that reached the core. */
  const reached: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bridge-'));
    const staticDir = path.join(dir, 'static');
    mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
    writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'secret.txt'), 'do not serve');
    node = await startNode({ dataDir: path.join(dir, 'data'), name: 'Bridge test', host: '127.0.0.1', port: 0, discovery: false, log: testLogger() });
    const spy: ParleyApi = {
      call: (name, args) => {
        reached.push(name);
        return node.api.call(name, args);
      },
      on: (e, l) => node.api.on(e, l),
    };
    bridge = await startBridge({ api: spy, staticDir, needsName: () => true, log: testLogger() });
  });

  after(async () => {
    await bridge.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves on loopback and prints a URL with a token in the fragment', () => {
    assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{32}$/);
    assert.equal(bridge.origin, `http://127.0.0.1:${bridge.port}`);
  });

  it('refuses a non-loopback bind unless asked explicitly', async () => {
    await assert.rejects(startBridge({ api: node.api, staticDir: dir, host: '0.0.0.0' }), /allowRemote/);
  });

  it('serves the renderer with a strict CSP, and nothing outside its folder', async () => {
    const index = await httpGet(bridge.port, '/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal((await httpGet(bridge.port, '/assets/app.js')).status, 200);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%00', '/..\\secret.txt']) {
      const r = await httpGet(bridge.port, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body, /do not serve/);
    }
  });

  it('answers only to Host names that cannot be DNS-rebound', async () => {
    assert.equal((await httpGet(bridge.port, '/', { host: `evil.example:${bridge.port}` })).status, 421);
    assert.equal((await httpGet(bridge.port, '/', { host: `localhost:${bridge.port}` })).status, 200);
    assert.equal(hostAllowed(`192.168.1.5:${bridge.port}`, bridge.port, false), false);
    assert.equal(hostAllowed(`192.168.1.5:${bridge.port}`, bridge.port, true), true);
    assert.equal(hostAllowed(`attacker.test:${bridge.port}`, bridge.port, true), false);
    assert.equal(hostAllowed(`127.0.0.1:${bridge.port + 1}`, bridge.port, false), false);
  });

  it('refuses a socket without the token', async () => {
    assert.equal((await connect(bridge, { token: null })).status, 401);
  });

  it('refuses a socket with a wrong token', async () => {
    const wrong = bridge.token.slice(0, -1) + (bridge.token.endsWith('A') ? 'B' : 'A');
    assert.equal((await connect(bridge, { token: wrong })).status, 401);
    assert.equal((await connect(bridge, { token: '' })).status, 401);
  });

  it('refuses a socket from a foreign Origin, or none, even with the right token', async () => {
    assert.equal((await connect(bridge, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await connect(bridge, { origin: `http://127.0.0.1:${bridge.port + 1}` })).status, 403);
    assert.equal((await connect(bridge, { origin: 'null' })).status, 403);
    assert.equal((await connect(bridge, { origin: null })).status, 403);
  });

  it('refuses a socket that does not speak the protocol', async () => {
    assert.equal((await connect(bridge, { protocol: null })).status, 403);
  });

  it('accepts the right token from the served origin and says hello first', async () => {
    const { status, ws } = await connect(bridge, {});
    assert.equal(status, 101);
    const c = ws!;
    const hello = await c.waitFor((m) => m.type === 'hello');
    assert.ok(hello.type === 'hello');
    assert.equal(hello.self.id, node.self.id);
    assert.equal(hello.needsName, true);
    c.close();
  });

  it('dispatches contract commands and pushes events', async () => {
    const c = (await connect(bridge, {})).ws!;
    const r = await c.request('setProfile', { statusText: 'testing the bridge' });
    assert.equal(r.ok, true);
    const ev = await c.waitFor((m) => m.type === 'event' && m.event === 'self');
    assert.ok(ev.type === 'event' && ev.event === 'self');
    assert.equal(ev.payload.statusText, 'testing the bridge');
    c.close();
  });

  it('answers unknown commands, bad arguments and junk with errors that never reach the core', async () => {
    const c = (await connect(bridge, {})).ws!;
    await c.waitFor((m) => m.type === 'hello');
    const before = reached.length;
    const unknown = await c.request('dropDatabase', {});
    assert.ok(!unknown.ok && unknown.error.code === 'invalid-args' && /unknown command/.test(unknown.error.message));
    const proto = await c.request('__proto__', {});
    assert.ok(!proto.ok && proto.error.code === 'invalid-args');
    const bad = await c.request('send', { convId: 'x', text: '' });
    assert.ok(!bad.ok && bad.error.code === 'invalid-args');
    const wrongType = await c.request('openConversation', { peerId: 42 });
    assert.ok(!wrongType.ok && wrongType.error.code === 'invalid-args');
    const tooLong = await c.request('send', { convId: 'x', text: 'x'.repeat(16_001) });
    assert.ok(!tooLong.ok && tooLong.error.code === 'invalid-args');
    c.sendRaw('{not json');
    await c.waitFor((m) => m.type === 'result' && m.id === null && !m.ok);
    c.sendRaw(JSON.stringify({ id: 99, cmd: 'getSelf', args: {}, extra: true }));
    const strict = await c.waitFor((m) => m.type === 'result' && m.id === 99);
    assert.ok(strict.type === 'result' && !strict.ok);
    assert.equal(reached.length, before, `reached the core: ${reached.slice(before).join(', ')}`);
    // The socket still works afterwards.
    assert.equal((await c.request('getSelf', {})).ok, true);
    c.close();
  });

  it('reports core errors with their code', async () => {
    const c = (await connect(bridge, {})).ws!;
    const r = await c.request('send', { convId: 'no-such-conversation', text: 'hi' });
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'not-found');
    c.close();
  });
});
