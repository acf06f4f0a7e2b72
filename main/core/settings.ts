// The settings the core keeps (auto-away, notifications, relays, interfaces, download folder,
// start at login), in the store's key/value table with one key per field, so that a damaged
// or older value costs that field only. Command-line flags (--auto-away, --relay,
// --interfaces) override a field for one run without being stored; changing that field here
// takes over from the flag.
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SETTINGS_LIMITS, SettingsUpdateSchema, type Settings } from '../contract/contract.ts';
import type { Logger } from './log.ts';
import { formatRelayAddress, parseRelayAddress } from './relay/address.ts';
import type { Store } from './store/store.ts';

export interface RelaySetting {
  /** Normalised (formatRelayAddress), the same string RelayInfo carries. */
  address: string;
  /** Secret: never leaves the core, never logged. */
  token: string | null;
}

/** The core's own view, secrets included. */
export interface CoreSettings {
  autoAwayMs: number;
  notifications: { enabled: boolean; showPreview: boolean; mutedConversations: string[] };
  relays: RelaySetting[];
  interfaces: string[];
  downloadFolder: string | null;
  startAtLogin: boolean;
  autoAccept: { defaultMaxBytes: number; peers: Record<string, number> };
}

export type SettingKey = keyof CoreSettings;
type Overridable = Settings['overridden'][number];

export const DEFAULT_SETTINGS: CoreSettings = {
  // Common messengers go away after 5–15 idle minutes; a host that never reports activity
  // (headless, scripts) never goes away at all.
  autoAwayMs: 10 * 60 * 1000,
  notifications: { enabled: true, showPreview: true, mutedConversations: [] },
  relays: [],
  interfaces: [],
  downloadFolder: null,
  startAtLogin: false,
  // Ask for everything by default; images and voice notes up to a few MiB are accepted from
  // contacts without asking anyway (attachments/auto-accept.ts).
  autoAccept: { defaultMaxBytes: 0, peers: {} },
};

const KEYS = Object.keys(DEFAULT_SETTINGS) as SettingKey[];
const metaKey = (k: SettingKey) => `settings.${k}`;
/** Where setAutoAway kept it before there were settings. */
const LEGACY_AUTO_AWAY = 'profile.autoAwayMs';

/** How each field is stored: the update schema's checks, plus the token itself. */
const stored: { [K in SettingKey]: z.ZodType<CoreSettings[K]> } = {
  autoAwayMs: z.number().int().min(0).max(SETTINGS_LIMITS.autoAwayMaxMs),
  notifications: z.object({
    enabled: z.boolean(),
    showPreview: z.boolean(),
    mutedConversations: z.array(z.string().min(1).max(200)).max(SETTINGS_LIMITS.mutedConversations),
  }),
  relays: z.array(z.object({ address: z.string().min(1).max(400), token: z.string().max(SETTINGS_LIMITS.relayToken).nullable() })).max(SETTINGS_LIMITS.relays),
  interfaces: z.array(z.string().min(1).max(64)).max(SETTINGS_LIMITS.interfaces),
  downloadFolder: z.string().min(1).max(SETTINGS_LIMITS.path).nullable(),
  startAtLogin: z.boolean(),
  autoAccept: z.object({
    defaultMaxBytes: z.number().int().min(0).max(SETTINGS_LIMITS.autoAcceptMaxBytes),
    peers: z.record(z.string().min(1).max(100), z.number().int().min(0).max(SETTINGS_LIMITS.autoAcceptMaxBytes)),
  }),
};

/** A value the core refuses; `field` is the path in the update, e.g. relays.0.address. */
export class SettingsError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'SettingsError';
    this.field = field;
  }
}

export interface SettingsOverrides {
  autoAwayMs?: number | undefined;
  relays?: Array<{ address: string; token?: string | null | undefined }> | undefined;
  interfaces?: string[] | undefined;
}

export interface SettingsChange {
  before: CoreSettings;
  after: CoreSettings;
  /** Fields whose effective value differs. */
  changed: SettingKey[];
  /** A field given no longer follows its command-line flag (its value may be the same). */
  overrideEnded: boolean;
}

export class NodeSettings {
  private readonly store: Store;
  private readonly log: Logger;
  private effective: CoreSettings;
  private readonly overridden = new Set<Overridable>();

  /** Throws SettingsError for a bad override (a flag): the caller refuses to start. */
  constructor(store: Store, log: Logger, overrides: SettingsOverrides = {}) {
    this.store = store;
    this.log = log;
    const persisted = this.load();
    this.effective = persisted;
    if (overrides.autoAwayMs !== undefined) {
      const ms = stored.autoAwayMs.safeParse(overrides.autoAwayMs);
      if (!ms.success) throw new SettingsError('autoAwayMs', 'must be 0 to 24 hours');
      this.effective = { ...this.effective, autoAwayMs: ms.data };
      this.overridden.add('autoAwayMs');
    }
    if (overrides.relays !== undefined) {
      this.effective = { ...this.effective, relays: normaliseRelays(overrides.relays, []) };
      this.overridden.add('relays');
    }
    if (overrides.interfaces !== undefined) {
      this.effective = { ...this.effective, interfaces: normaliseInterfaces(overrides.interfaces) };
      this.overridden.add('interfaces');
    }
  }

  /** In force this run (stored values, or a flag's). */
  get current(): CoreSettings {
    return this.effective;
  }

  /** What hosts see: tokens become `hasToken`. */
  view(): Settings {
    const s = this.effective;
    return {
      autoAwayMs: s.autoAwayMs,
      notifications: { ...s.notifications, mutedConversations: [...s.notifications.mutedConversations] },
      relays: s.relays.map((r) => ({ address: r.address, hasToken: r.token !== null })),
      interfaces: [...s.interfaces],
      downloadFolder: s.downloadFolder,
      startAtLogin: s.startAtLogin,
      autoAccept: { defaultMaxBytes: s.autoAccept.defaultMaxBytes, peers: { ...s.autoAccept.peers } },
      overridden: [...this.overridden],
    };
  }

  /**
   * Checks, stores and takes over an update (already parsed with the contract's schema, or
   * parsed here). Fields given are stored even when equal, so they stop following a flag.
   * Throws SettingsError, having stored nothing, if any field is refused.
   */
  update(input: unknown): SettingsChange {
    const parsed = SettingsUpdateSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SettingsError(issue?.path.join('.') || 'settings', issue?.message ?? 'invalid');
    }
    const u = parsed.data;
    const before = this.effective;
    const next: CoreSettings = { ...before };
    if (u.autoAwayMs !== undefined) next.autoAwayMs = u.autoAwayMs;
    if (u.notifications !== undefined) {
      const n = { ...before.notifications, ...stripUndefined(u.notifications) };
      next.notifications = { ...n, mutedConversations: [...new Set(n.mutedConversations)] };
    }
    if (u.relays !== undefined) next.relays = normaliseRelays(u.relays, before.relays);
    if (u.interfaces !== undefined) next.interfaces = normaliseInterfaces(u.interfaces);
    if (u.downloadFolder !== undefined) next.downloadFolder = u.downloadFolder === null ? null : checkFolder(u.downloadFolder);
    if (u.startAtLogin !== undefined) next.startAtLogin = u.startAtLogin;
    if (u.autoAccept !== undefined) next.autoAccept = { ...before.autoAccept, ...stripUndefined(u.autoAccept) };

    const given = KEYS.filter((k) => u[k] !== undefined);
    for (const k of given) this.store.setMeta(metaKey(k), JSON.stringify(next[k]));
    let overrideEnded = false;
    for (const k of given) overrideEnded = this.overridden.delete(k as Overridable) || overrideEnded;
    this.effective = next;
    const changed = KEYS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(next[k]));
    // Which fields, never their values: the relays carry tokens.
    if (given.length) this.log.info({ fields: given, changed }, 'settings updated');
    return { before, after: next, changed, overrideEnded };
  }

  private load(): CoreSettings {
    const s: Record<string, unknown> = {};
    for (const k of KEYS) {
      let raw = this.store.getMeta(metaKey(k));
      if (raw === undefined && k === 'autoAwayMs') raw = this.store.getMeta(LEGACY_AUTO_AWAY);
      if (raw === undefined) {
        s[k] = DEFAULT_SETTINGS[k];
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        value = undefined;
      }
      const ok = stored[k].safeParse(value);
      if (ok.success) s[k] = ok.data;
      else {
        // The rest of the settings still hold; this field starts over.
        this.log.warn({ field: k }, 'stored setting unreadable; using the default');
        s[k] = DEFAULT_SETTINGS[k];
      }
    }
    return s as unknown as CoreSettings;
  }
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

/**
 * Parses and normalises each address, refuses one listed twice, and resolves tokens: left out
 * = the token this address has now (the UI never sees it to send it back), null or '' = none.
 */
function normaliseRelays(list: Array<{ address: string; token?: string | null | undefined }>, current: RelaySetting[]): RelaySetting[] {
  if (list.length > SETTINGS_LIMITS.relays) throw new SettingsError('relays', `at most ${SETTINGS_LIMITS.relays} relays`);
  const out: RelaySetting[] = [];
  list.forEach((r, i) => {
    let address: string;
    try {
      address = formatRelayAddress(parseRelayAddress(r.address));
    } catch (err) {
      throw new SettingsError(`relays.${i}.address`, (err as Error).message);
    }
    if (out.some((o) => o.address === address)) throw new SettingsError(`relays.${i}.address`, 'this relay is listed twice');
    if (typeof r.token === 'string' && r.token.length > SETTINGS_LIMITS.relayToken) throw new SettingsError(`relays.${i}.token`, 'too long');
    const token = r.token === undefined ? (current.find((c) => c.address === address)?.token ?? null) : r.token || null;
    out.push({ address, token });
  });
  return out;
}

function normaliseInterfaces(list: string[]): string[] {
  return [...new Set(list.map((n) => n.trim()).filter(Boolean))];
}

/** Absolute, normalised; an existing path must be a folder (a missing one is made when needed). */
function checkFolder(input: string): string {
  if (!path.isAbsolute(input)) throw new SettingsError('downloadFolder', 'must be an absolute path');
  let folder = path.normalize(input);
  if (folder.length > path.parse(folder).root.length) folder = folder.replace(/[\\/]+$/, '');
  let isDirectory: boolean | null = null;
  try {
    isDirectory = statSync(folder).isDirectory();
  } catch {
    // Missing or unreadable now: the files feature creates it or says so when it is used.
  }
  if (isDirectory === false) throw new SettingsError('downloadFolder', 'exists but is not a folder');
  return folder;
}
