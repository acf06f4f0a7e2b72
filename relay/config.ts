// Relay configuration: a JSON file (--config) and command-line flags, validated with zod.
// Flags win over the file; the token may also come from PARLEY_RELAY_TOKEN so it stays out of
// `ps` output and shell history. Every limit has a default that suits an office of a few
// hundred people; docs/relay.md explains them.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const hostPort = z
  .string()
  .trim()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected HOST:PORT (IPv6 in brackets)')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 0 && port < 65536;
  }, 'port must be 0..65535');

const ms = z.number().int().min(1).max(30 * 24 * 3600 * 1000);
const count = z.number().int().min(0).max(10_000_000);

export const LimitsSchema = z
  .object({
    /** Members joined at once; more are refused with 'full'. */
    maxMembers: count.default(1000),
    /** Tunnels (pending + active) at once; more are answered with connectFailed 'full'. */
    maxSessions: count.default(2000),
    maxSessionsPerPeer: count.default(64),
    /** Connections not yet authenticated (sniffing, TLS handshake, before join, key not yet presented). */
    maxPendingConnections: count.default(256),
    /**
     * New TCP connections per source IP: a burst, then this many per minute. A whole office
     * behind one NAT address shares this (each member: one control connection, two data
     * connections per tunnel), so it is generous; 0 and 0 = unlimited.
     */
    perIpBurst: count.default(300),
    perIpPerMinute: count.default(1200),
    /** Tunnel requests per member: a burst, then this many per minute. */
    connectBurst: count.default(30),
    connectPerMinute: count.default(120),
    /** First byte and TLS handshake of a new connection. */
    handshakeTimeoutMs: ms.default(10_000),
    /** A control connection must join within this after its TLS handshake. */
    joinTimeoutMs: ms.default(20_000),
    /** A data connection must present its key within this. */
    keyTimeoutMs: ms.default(10_000),
    /** How long an invitation's keys stay valid. */
    inviteTtlMs: ms.default(60_000),
    /** The relay pings a member after this much silence from its side. */
    pingIntervalMs: ms.default(30_000),
    /** A member silent for this long is dropped. */
    pingTimeoutMs: ms.default(120_000),
    /** A tunnel with no bytes either way for this long is closed (peers ping every few seconds). */
    sessionIdleMs: ms.default(5 * 60_000),
    /** Per tunnel and direction; 0 = unlimited. */
    sessionBytesPerSec: count.default(4 * 1024 * 1024),
    /** All tunnels together, per direction; 0 = unlimited. */
    globalBytesPerSec: count.default(0),
  })
  .strict();

export const MailboxConfigSchema = z
  .object({
    /** How long an undelivered envelope is kept. */
    ttlMs: ms.default(14 * 24 * 3600 * 1000),
    /** Per recipient. */
    quotaItems: count.default(2000),
    quotaBytes: count.default(32 * 1024 * 1024),
    /** All recipients together. */
    totalBytes: count.default(1024 * 1024 * 1024),
    /** Certificates of members remembered (so others can seal to them while they are offline). */
    maxCertificates: count.default(100_000),
  })
  .strict();

export const DebugSchema = z
  .object({
    /** Test-only: a malicious relay that damages tunnel bytes (flip a bit, inject, replay). */
    tamper: z.enum(['flip', 'inject', 'replay']).nullable().default(null),
    /** Bytes per tunnel direction forwarded intact before the damage. */
    tamperAfterBytes: count.default(0),
    /** Test-only: append every tunnel byte the relay forwards to this file. */
    capture: z.string().nullable().default(null),
  })
  .strict();

export const RelayConfigSchema = z
  .object({
    listen: hostPort.default('0.0.0.0:47480'),
    /** host[:port] printed in the relay's address when it differs from `listen` (NAT, DNS name). */
    publicAddress: z.string().trim().min(1).max(255).nullable().default(null),
    /** Shared organisation token; null = anyone who can reach the port may join. */
    token: z.string().min(1).max(256).nullable().default(null),
    dataDir: z.string().min(1).default(path.join(os.homedir(), '.parley-relay')),
    /** Tiny HTTP server for GET /status; loopback by default, null = off. */
    statusListen: hostPort.nullable().default('127.0.0.1:0'),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    mailbox: MailboxConfigSchema.default(MailboxConfigSchema.parse({})),
    debug: DebugSchema.default(DebugSchema.parse({})),
  })
  .strict();

export type RelayConfig = z.infer<typeof RelayConfigSchema>;
export type RelayConfigInput = z.input<typeof RelayConfigSchema>;
export type RelayLimits = RelayConfig['limits'];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describe(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
}

export function parseConfig(input: unknown): RelayConfig {
  const parsed = RelayConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(describe(parsed.error));
  return parsed.data;
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

/**
 * The file (if any), then flags. `limits` from flags are merged key by key into the file's, so
 * `--limits '{"joinTimeoutMs":500}'` changes one deadline and keeps the rest.
 */
export function loadConfig(opts: { file?: string | undefined; flags: Partial<RelayConfigInput>; env?: NodeJS.ProcessEnv }): RelayConfig {
  let fromFile: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${opts.file}: ${(err as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ConfigError(`${opts.file} is not valid JSON`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) throw new ConfigError(`${opts.file} must hold a JSON object`);
  }
  const envToken = opts.env?.PARLEY_RELAY_TOKEN;
  const merged: Record<string, unknown> = { ...fromFile };
  if (envToken && merged.token === undefined) merged.token = envToken;
  for (const [k, v] of Object.entries(opts.flags)) {
    if (v === undefined) continue;
    if ((k === 'limits' || k === 'mailbox' || k === 'debug') && typeof v === 'object' && v !== null) {
      merged[k] = { ...((merged[k] as object | undefined) ?? {}), ...v };
    } else merged[k] = v;
  }
  return parseConfig(merged);
}
