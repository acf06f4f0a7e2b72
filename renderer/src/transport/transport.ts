// One interface for both hosts (element-web's BasePlatform pattern): Electron IPC through
// the preload, or a WebSocket to the web-mode bridge. The UI only ever sees this.
import type { ParleyApi, SelfInfo } from '../../../main/contract/contract.ts';

export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

export interface Hello {
  self: SelfInfo;
  /** The host started a fresh profile with a provisional name: ask for one. */
  needsName: boolean;
}

export interface Transport extends ParleyApi {
  readonly kind: 'electron' | 'web';
  /** Resolves on the first successful connection. */
  hello(): Promise<Hello>;
  onState(listener: (state: ConnectionState) => void): () => void;
  /** Posts a file's bytes to the host; resolves with the ID `sendFile` takes as `upload`. */
  upload(file: Blob, name: string): Promise<string>;
}

/** The error every failed call rejects with. */
export class CallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CallError';
    this.code = code;
  }
}
