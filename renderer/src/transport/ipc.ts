// Electron host: `window.parley` from the preload (one function per command + `on`).
import type { CommandArgs, CommandName, CommandResult, EventName, Events } from '../../../main/contract/contract.ts';
import type { PreloadApi } from '../../../preload/channels.ts';
import { CallError, type ConnectionState, type Hello, type Transport } from './transport.ts';
import { postUpload } from './upload.ts';

export function ipcTransport(bridge: PreloadApi): Transport {
  async function call<K extends CommandName>(name: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
    const fn = bridge[name] as unknown as (a: CommandArgs<K>) => Promise<{ ok: true; result: CommandResult<K> } | { ok: false; error: { code: string; message: string } }>;
    const envelope = await fn(args);
    if (!envelope.ok) throw new CallError(envelope.error.code, envelope.error.message);
    return envelope.result;
  }
  return {
    kind: 'electron',
    call,
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void) {
      return bridge.on(event, listener);
    },
    async hello(): Promise<Hello> {
      const self = await call('getSelf', {});
      // The shell loads app://parley/index.html?setup=1 while the name is still provisional.
      return { self, needsName: new URLSearchParams(location.search).get('setup') === '1' };
    },
    onState(listener: (state: ConnectionState) => void) {
      listener('open');
      return () => undefined;
    },
    // The custom protocol serves only our own page; nothing else to present.
    upload: (file, name) => postUpload(file, name, {}),
  };
}
