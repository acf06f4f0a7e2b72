// Whether the person still has to choose a display name. The core refuses to start a fresh
// profile without a name, but a desktop app must start before anyone has typed one; so the
// host starts a fresh profile with a provisional name (the OS account name) and leaves a
// marker that makes the UI show its first-run screen until a name has been set through it.
// Shared by both hosts (web mode and the Electron shell); plain Node, no Electron.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ParleyApi } from '../contract/contract.ts';

const MARKER = 'name-pending';
/** The core's store file (main/core/node.ts): present once a profile has ever started. */
const STORE_FILE = 'parley.db';

export interface NamePlan {
  /** What to pass to startNode as `name` (undefined: use the stored one). */
  name: string | undefined;
}

export function provisionalName(): string {
  let user = '';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (containers): fall through to the generic name.
  }
  const name = user.trim().slice(0, 64);
  return name || 'Parley user';
}

/** Decides the start name; an explicit name (CLI flag) settles the question for good. */
export function planName(dataDir: string, explicitName?: string): NamePlan {
  const marker = path.join(dataDir, MARKER);
  if (explicitName?.trim()) {
    rmSync(marker, { force: true });
    return { name: explicitName.trim() };
  }
  if (!existsSync(path.join(dataDir, STORE_FILE))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(marker, '');
    return { name: provisionalName() };
  }
  return { name: undefined };
}

export function needsName(dataDir: string): boolean {
  return existsSync(path.join(dataDir, MARKER));
}

/** The same API, except that a successful name change through it clears the marker. */
export function trackNameChoice(api: ParleyApi, dataDir: string): ParleyApi {
  return {
    async call(name, args) {
      const result = await api.call(name, args);
      if (name === 'setProfile' && typeof (args as { name?: unknown }).name === 'string') {
        rmSync(path.join(dataDir, MARKER), { force: true });
      }
      return result;
    },
    on: (event, listener) => api.on(event, listener),
  };
}
