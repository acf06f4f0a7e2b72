// The harness itself: isolation, filters and, above all, that nothing is left behind.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JsonLineProcess } from './json-lines.ts';
import { Netlab } from './netlab.ts';

const reason = Netlab.unavailableReason();
const probe = fileURLToPath(new URL('./udp-probe.ts', import.meta.url));
const netlabModule = fileURLToPath(new URL('./netlab.ts', import.meta.url));

function namespacesOf(lab: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((ns) => ns.startsWith(`${lab}-`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('netlab harness', { skip: reason ?? false }, () => {
  let lab: Netlab;
  before(async () => {
    lab = await Netlab.create({ hosts: 3 });
  });
  after(async () => {
    await lab?.destroy();
  });

  async function listen(host: string, port: number): Promise<JsonLineProcess> {
    const p = new JsonLineProcess(lab.spawn(host, process.execPath, [probe, 'listen', '--port', String(port)]), `${host} listener`);
    await p.waitFor((m) => m.type === 'ready', 5000, 'listener ready');
    return p;
  }

  async function send(host: string, to: string, port: number, text: string): Promise<void> {
    const r = await lab.run(host, process.execPath, [probe, 'send', '--to', to, '--port', String(port), '--text', text]);
    assert.equal(r.code, 0, r.stderr);
  }

  it('gives every host its own hostname, IPv4 address and IPv6 link-local address', async () => {
    for (const h of lab.hosts) {
      const r = await lab.run(h, 'sh', ['-c', 'hostname; ip -4 -o addr show dev eth0']);
      const [hostname, addr] = r.stdout.split('\n');
      assert.equal(hostname, h.name);
      assert.match(addr ?? '', new RegExp(`inet ${h.ipv4.replace(/\./g, '\\.')}/24`));
      assert.match(h.ipv6LinkLocal, /^fe80:.*%eth0$/);
    }
    assert.equal(new Set(lab.hosts.map((h) => h.ipv6LinkLocal)).size, lab.hosts.length);
  });

  it('carries unicast and broadcast between hosts over the bridge', async () => {
    const l2 = await listen('h2', 40001);
    const l3 = await listen('h3', 40001);
    await send('h1', lab.hosts[1]!.ipv4, 40001, 'unicast');
    await send('h1', lab.broadcast, 40001, 'broadcast');
    await l2.waitFor((m) => m.text === 'unicast' && m.from === lab.hosts[0]!.ipv4, 3000, 'unicast at h2');
    await l2.waitFor((m) => m.text === 'broadcast', 3000, 'broadcast at h2');
    await l3.waitFor((m) => m.text === 'broadcast', 3000, 'broadcast at h3');
    assert.equal(l3.messages.some((m) => m.text === 'unicast'), false);
    l2.child.kill();
    l3.child.kill();
  });

  it('drops UDP to a blocked port and nothing else, until unblocked', async () => {
    const l2 = await listen('h2', 40002);
    const l2b = await listen('h2', 40003);
    await lab.blockUdpPort(40002);
    await send('h1', lab.broadcast, 40002, 'blocked');
    await send('h1', lab.broadcast, 40003, 'open');
    await l2b.waitFor((m) => m.text === 'open', 3000, 'open port');
    await sleep(200);
    assert.equal(l2.messages.some((m) => m.text === 'blocked'), false);
    await lab.unblockAll();
    await send('h1', lab.broadcast, 40002, 'after');
    await l2.waitFor((m) => m.text === 'after', 3000, 'port open again');
    l2.child.kill();
    l2b.child.kill();
  });

  it('blocks broadcast without breaking unicast (ARP still works)', async () => {
    const l3 = await listen('h3', 40004);
    await lab.blockBroadcast();
    await send('h1', lab.broadcast, 40004, 'bcast');
    await send('h1', lab.hosts[2]!.ipv4, 40004, 'ucast');
    await l3.waitFor((m) => m.text === 'ucast', 3000, 'unicast');
    await sleep(200);
    assert.equal(l3.messages.some((m) => m.text === 'bcast'), false);
    await lab.unblockAll();
    l3.child.kill();
  });

  it('isolates hosts from each other like a Wi-Fi AP with client isolation', async () => {
    const l2 = await listen('h2', 40005);
    await lab.isolate();
    await send('h1', lab.broadcast, 40005, 'isolated');
    await sleep(300);
    assert.equal(l2.messages.some((m) => m.text === 'isolated'), false);
    await lab.unblockAll();
    await send('h1', lab.broadcast, 40005, 'joined');
    await l2.waitFor((m) => m.text === 'joined', 3000, 'after isolation ends');
    l2.child.kill();
  });

  it('kills its processes and deletes every namespace on destroy', async () => {
    const other = await Netlab.create({ hosts: 2 });
    const sleeper = other.spawn('h1', 'sleep', ['600']);
    const exited = new Promise((r) => sleeper.once('exit', r));
    assert.equal(namespacesOf(other.name).length, 3);
    await other.destroy();
    await exited;
    assert.deepEqual(namespacesOf(other.name), []);
    assert.throws(() => other.spawn('h1', 'true'), /destroyed/);
  });
});

describe('netlab cleanup when the owner dies', { skip: reason ?? false }, () => {
  // A child process builds a lab, prints its name and waits to be killed.
  async function owner(): Promise<{ name: string; child: JsonLineProcess }> {
    const script = `import { Netlab } from ${JSON.stringify(netlabModule)};
      const lab = await Netlab.create({ hosts: 2 });
      lab.spawn('h1', 'sleep', ['600']);
      console.log(JSON.stringify({ type: 'lab', name: lab.name }));
      setInterval(() => {}, 1000);`;
    const child = new JsonLineProcess(spawn(process.execPath, ['--input-type=module', '-e', script]), 'lab owner');
    const m = await child.waitFor((x) => x.type === 'lab', 10_000, 'lab created');
    return { name: String(m.name), child };
  }

  it('removes the lab when its owner is interrupted with SIGTERM or SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { name, child } = await owner();
      assert.equal(namespacesOf(name).length, 3);
      child.child.kill(signal);
      const { signal: endedBy } = await child.exited;
      assert.equal(endedBy, signal, 'the owner still dies of the signal');
      assert.deepEqual(namespacesOf(name), [], `after ${signal}`);
    }
  });

  it('sweeps labs left behind by an owner killed with SIGKILL', async () => {
    const { name, child } = await owner();
    child.child.kill('SIGKILL');
    await child.exited;
    assert.equal(namespacesOf(name).length, 3, 'SIGKILL leaves no chance to clean up');
    const swept = Netlab.sweep();
    assert.ok(swept.includes(name));
    assert.deepEqual(namespacesOf(name), []);
  });

  it('never sweeps a lab whose owner is alive', async () => {
    const { name, child } = await owner();
    Netlab.sweep();
    assert.equal(namespacesOf(name).length, 3);
    child.child.kill('SIGTERM');
    await child.exited;
  });
});
