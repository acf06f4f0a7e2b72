// The contract is the only door between a UI and the core: every command has a core
// handler, the preload exposes exactly the contract, and bad arguments stop at the host.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import vm from 'node:vm';
import { commandNames, commands, eventNames, type ParleyApi } from '../../main/contract/contract.ts';
import { commandHandlers } from '../../main/core/api.ts';
import { testLogger } from '../../main/core/log.ts';
import { startNode, type ParleyNode } from '../../main/core/node.ts';
import { registerCommandHandlers, type IpcEventLike } from '../../main/electron/ipc.ts';
import { dispatch } from '../../main/web/dispatch.ts';
import { EVENT_CHANNEL, commandChannel } from '../../preload/channels.ts';
import { buildPreloadApi } from '../../preload/expose.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Records what the preload does with ipcRenderer. */
function recordingIpcRenderer() {
  const invoked: Array<{ channel: string; args: unknown[] }> = [];
  const listeners = new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>();
  return {
    invoked,
    listeners,
    invoke(channel: string, ...args: unknown[]) {
      invoked.push({ channel, args });
      return Promise.resolve({ ok: true, result: null });
    },
    on(channel: string, l: (event: unknown, ...args: unknown[]) => void) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(l);
    },
    removeListener(channel: string, l: (event: unknown, ...args: unknown[]) => void) {
      listeners.get(channel)?.delete(l);
    },
    emit(channel: string, ...args: unknown[]) {
      for (const l of listeners.get(channel) ?? []) l({ sender: 'the IPC event object', ports: [] }, ...args);
    },
  };
}

describe('the contract', () => {
  it('names every command once, each with an argument schema', () => {
    assert.ok(commandNames.length >= 12);
    assert.equal(new Set(commandNames).size, commandNames.length);
    for (const name of commandNames) assert.equal(typeof commands[name].args.safeParse, 'function', name);
  });

  it('has a handler in the core for every command, and no handler without a command', () => {
    assert.deepEqual(Object.keys(commandHandlers).sort(), [...commandNames].sort());
    for (const name of commandNames) assert.equal(typeof commandHandlers[name], 'function', name);
  });
});

describe('the preload', () => {
  it('exposes exactly one function per contract command, plus on', () => {
    const api = buildPreloadApi(recordingIpcRenderer());
    assert.deepEqual(Object.keys(api).sort(), [...commandNames, 'on'].sort());
    for (const key of Object.keys(api)) assert.equal(typeof (api as unknown as Record<string, unknown>)[key], 'function', key);
    assert.ok(Object.isFrozen(api));
  });

  it('sends each command on its own channel with the arguments unchanged', async () => {
    const ipc = recordingIpcRenderer();
    const api = buildPreloadApi(ipc);
    for (const name of commandNames) await (api[name] as (a: unknown) => Promise<unknown>)({ probe: name });
    assert.deepEqual(
      ipc.invoked.map((i) => i.channel),
      commandNames.map(commandChannel),
    );
    assert.deepEqual(ipc.invoked[0]!.args, [{ probe: commandNames[0] }]);
  });

  it('hands listeners the payload only, never the IPC event object, and unsubscribes', () => {
    const ipc = recordingIpcRenderer();
    const api = buildPreloadApi(ipc);
    const got: unknown[][] = [];
    const off = api.on('peer', (...args: unknown[]) => got.push(args));
    ipc.emit(EVENT_CHANNEL, 'peer', { id: 'P' });
    ipc.emit(EVENT_CHANNEL, 'message', { id: 'M' });
    assert.deepEqual(got, [[{ id: 'P' }]]);
    off();
    ipc.emit(EVENT_CHANNEL, 'peer', { id: 'P2' });
    assert.equal(got.length, 1);
    assert.equal(ipc.listeners.get(EVENT_CHANNEL)?.size, 0);
  });

  it('refuses to subscribe to events the contract does not name', () => {
    const api = buildPreloadApi(recordingIpcRenderer());
    assert.throws(() => api.on('everything' as 'peer', () => undefined), TypeError);
    assert.deepEqual(eventNames.slice().sort(), ['broadcast', 'conversation', 'groupWarning', 'message', 'messageChanged', 'messagesHidden', 'open', 'peer', 'read', 'relay', 'self', 'settings', 'transfer', 'typing']);
  });

  it('as built, puts exactly window.parley on the page and requires nothing but electron', { skip: existsSync(path.join(ROOT, 'dist/electron/preload.cjs')) ? false : 'run `npm run build` first' }, () => {
    const code = readFileSync(path.join(ROOT, 'dist/electron/preload.cjs'), 'utf8');
    const exposed: Array<[string, Record<string, unknown>]> = [];
    const required: string[] = [];
    const ipc = recordingIpcRenderer();
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, value: Record<string, unknown>) => exposed.push([key, value]) },
      ipcRenderer: ipc,
    };
    const module = { exports: {} };
    const sandboxRequire = (id: string) => {
      required.push(id);
      if (id === 'electron') return electron;
      throw new Error(`a sandboxed preload cannot require ${id}`);
    };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports, console, TypeError, Object, Promise });
    assert.deepEqual(required, ['electron']);
    assert.equal(exposed.length, 1);
    assert.equal(exposed[0]![0], 'parley');
    assert.deepEqual(Object.keys(exposed[0]![1]).sort(), [...commandNames, 'on'].sort());
  });
});

describe('arguments are checked before the core', () => {
  let node: ParleyNode;
  const reached: string[] = [];
  let spy: ParleyApi;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'parley-contract-'));
    node = await startNode({ dataDir: dir, name: 'Contract', host: '127.0.0.1', port: 0, discovery: false, log: testLogger() });
    spy = {
      call: (name, args) => {
        reached.push(name);
        return node.api.call(name, args);
      },
      on: (e, l) => node.api.on(e, l),
    };
  });
  after(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const bad: Array<[string, unknown]> = [
    ['send', { convId: 'c', text: '' }],
    ['send', { convId: 'c', text: 'x'.repeat(16_001) }],
    ['send', { convId: 'c' }],
    ['openConversation', { peerId: 'not-an-id' }],
    ['setProfile', { name: '   ' }],
    ['setProfile', { presence: 'offline' }],
    ['setProfile', { nickname: 'extra keys are refused' }],
    ['history', { convId: 'c', limit: 100_000 }],
    ['search', { query: '' }],
    ['markRead', { convId: 'c' }],
    ['retry', { messageId: '../../etc/passwd' }],
    ['addPeer', { address: '1.2.3.4:5', id: 'short' }],
    ['updateSettings', { autoAwayMs: -5 }],
    ['updateSettings', { relays: [{ address: 'parley-relay://h/?id=x', token: 'x'.repeat(201) }] }],
    ['updateSettings', { startAtLogin: 1 }],
    ['updateSettings', { hasToken: true }],
    ['getSelf', 'not an object'],
    ['toString', {}],
    ['constructor', {}],
    ['nope', {}],
  ];

  it('in the shared dispatcher (web mode)', async () => {
    for (const [cmd, args] of bad) {
      const r = await dispatch(spy, cmd, args);
      assert.equal(r.ok, false, `${cmd} ${JSON.stringify(args).slice(0, 40)}`);
      assert.equal(!r.ok && r.error.code, 'invalid-args');
    }
    assert.deepEqual(reached, []);
    const ok = await dispatch(spy, 'getSelf', {});
    assert.ok(ok.ok);
    assert.deepEqual(reached, ['getSelf']);
    reached.length = 0;
  });

  it('in the Electron IPC handlers, which also refuse frames that are not the app page', async () => {
    const handlers = new Map<string, (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>>();
    registerCommandHandlers({ handle: (ch, l) => void handlers.set(ch, l), removeHandler: (ch) => void handlers.delete(ch) }, spy);
    assert.deepEqual([...handlers.keys()].sort(), commandNames.map(commandChannel).sort());
    const trusted: IpcEventLike = { senderFrame: { url: 'app://parley/index.html' } };
    for (const [cmd, args] of bad.filter(([c]) => Object.hasOwn(commands, c))) {
      const r = (await handlers.get(commandChannel(cmd as 'send'))!(trusted, args)) as { ok: boolean; error?: { code: string } };
      assert.equal(r.ok, false, cmd);
      assert.equal(r.error?.code, 'invalid-args');
    }
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'app://evil/index.html', 'devtools://devtools/']) {
      const r = (await handlers.get(commandChannel('getSelf'))!({ senderFrame: { url } }, {})) as { ok: boolean };
      assert.equal(r.ok, false, url);
    }
    const gone = (await handlers.get(commandChannel('getSelf'))!({ senderFrame: null }, {})) as { ok: boolean };
    assert.equal(gone.ok, false);
    assert.deepEqual(reached, []);
    const r = (await handlers.get(commandChannel('getSelf'))!(trusted, {})) as { ok: boolean; result: { id: string } };
    assert.ok(r.ok);
    assert.equal(r.result.id, node.self.id);
  });
});
