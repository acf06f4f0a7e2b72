// The preload: runs sandboxed with context isolation and puts exactly one object on the
// page, `window.parley` (see expose.ts). Bundled to dist/electron/preload.cjs by
// scripts/build.ts, because a sandboxed preload cannot load other files.
//
// Adding a command: add it to main/contract/contract.ts and a handler to main/core/api.ts.
// The preload, the IPC handlers (main/electron/ipc.ts) and the renderer transport pick it
// up from `commandNames`; nothing here changes.
import './zod-jitless.ts';
import { contextBridge, ipcRenderer } from 'electron';
import { buildPreloadApi } from './expose.ts';

contextBridge.exposeInMainWorld('parley', buildPreloadApi(ipcRenderer));
