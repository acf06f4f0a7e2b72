// A private avahi-daemon in one netlab host, as a standard third-party mDNS browser.
// avahi-browse talks to the daemon over D-Bus, so each instance gets its own dbus-daemon
// on a socket in a temp directory, and the daemon's pid/socket directory is a private tmpfs
// (several daemons in one machine would otherwise fight over /run/avahi-daemon).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostRef, Netlab } from './netlab.ts';

export interface AvahiInstance {
  /** `avahi-browse -rpt <type>` inside the host; returns the parsed resolved ('=') lines. */
  browse(type: string, timeoutMs?: number): Promise<AvahiResolved[]>;
  stop(): Promise<void>;
}

export interface AvahiResolved {
  iface: string;
  protocol: string;
  name: string;
  type: string;
  domain: string;
  host: string;
  address: string;
  port: number;
  txt: Record<string, string>;
}

/** Null when avahi can be used, otherwise why not. */
export function avahiUnavailableReason(): string | null {
  for (const tool of ['avahi-daemon', 'avahi-browse', 'dbus-daemon']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `'${tool}' is not installed`;
    }
  }
  return null;
}

export async function startAvahi(lab: Netlab, ref: HostRef): Promise<AvahiInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-avahi-'));
  const bus = join(dir, 'bus');
  writeFileSync(
    join(dir, 'dbus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${bus}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  );
  writeFileSync(
    join(dir, 'avahi.conf'),
    `[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
`,
  );
  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${bus}` };
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dbus = lab.spawn(ref, 'dbus-daemon', [`--config-file=${join(dir, 'dbus.conf')}`, '--nofork', '--nopidfile'], env, { stdio: 'ignore' });
    children.push(dbus);
    await waitUntil(async () => (await lab.run(ref, 'sh', ['-c', `test -S ${bus}`])).code === 0, 5000, 'dbus-daemon socket');
    let log = '';
    const avahi = lab.spawn(ref, 'avahi-daemon', ['--no-drop-root', '--no-chroot', '--no-rlimits', '--no-proc-title', '-f', join(dir, 'avahi.conf')], env, {
      privateDirs: ['/run/avahi-daemon'],
    });
    children.push(avahi);
    avahi.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    avahi.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    await waitUntil(async () => /Server startup complete/.test(log) || avahi.exitCode !== null, 10_000, 'avahi-daemon startup');
    if (avahi.exitCode !== null) throw new Error(`avahi-daemon exited: ${log.slice(-500)}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    async browse(type, timeoutMs = 10_000) {
      const r = await lab.run(ref, 'avahi-browse', ['-rpt', type], { timeoutMs, env });
      return r.stdout
        .split('\n')
        .filter((l) => l.startsWith('='))
        .map(parseResolved);
    },
    stop,
  };
}

// '=;eth0;IPv4;name;_parley._tcp;local;h1.local;10.0.0.1;47900;"v=1" "id=..."' (names escaped)
function parseResolved(line: string): AvahiResolved {
  const f = line.split(';');
  const txt: Record<string, string> = {};
  for (const m of (f.slice(9).join(';') ?? '').matchAll(/"([^"=]*)=([^"]*)"/g)) txt[m[1]!] = m[2]!;
  return {
    iface: f[1] ?? '',
    protocol: f[2] ?? '',
    name: unescapeAvahi(f[3] ?? ''),
    type: f[4] ?? '',
    domain: f[5] ?? '',
    host: f[6] ?? '',
    address: f[7] ?? '',
    port: Number(f[8]),
    txt,
  };
}

// avahi escapes each byte of non-ASCII UTF-8 as \NNN (decimal) and punctuation as \c.
function unescapeAvahi(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const dec = /^\\(\d{3})/.exec(s.slice(i, i + 4));
    if (dec) {
      bytes.push(Number(dec[1]));
      i += 3;
    } else if (s[i] === '\\' && i + 1 < s.length) {
      bytes.push(...Buffer.from(s[++i]!));
    } else {
      bytes.push(...Buffer.from(s[i]!));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
