// Issue 4 acceptance: "The NAT between two peers is lifted mid-conversation: the link upgrades
// to direct; 0 lost, 0 duplicated." Real processes in real network namespaces (nat-lab.ts): the
// relay on the WAN, a and b as headless CLI processes behind masquerading routers, nobody given
// anybody's address. They chat through the relay, learning each other's listening addresses
// only from the Hellos inside their end-to-end TLS, and keep sending both ways while the NAT is
// lifted; the link must turn direct, the relay must stop carrying their traffic, and both sides
// must end with every message exactly once, in the same order, all delivered.
// Root only; skipped with the reason otherwise. Runs in the serial netlab phase (file name).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { DiagnosticsInfo, MessageInfo, PeerInfo, RelayInfo, SelfInfo } from '../../main/contract/contract.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { A_IP, B_IP, CLI, NatLab, natLabUnavailable, RELAY_CLI, RELAY_IP, type NsProcess } from './nat-lab.ts';
import { testLimits } from './relay-harness.ts';

const RELAY_PORT = 47481;
const TOKEN = 'two-sites';
/** Short redial backoff (--timing), not the product's 1 s … 60 s, so the test needs no minute-long waits. */
const TIMING = { redialMinMs: 250, redialMaxMs: 1000, handshakeTimeoutMs: 4000, helloTimeoutMs: 8000 };
/** Pause between two sends of one side: both sides keep talking through every phase. */
const PACE_MS = 40;

const run = promisify(execFile);
const reason = natLabUnavailable();

interface RelaySnapshot {
  sessions: { active: number };
  bytes: { forwarded: number };
}

describe('two NATed sites whose NAT is lifted mid-conversation', { skip: reason ?? false }, () => {
  let lab: NatLab;
  let relay: NsProcess;
  let statusUrl = '';
  let a: NsProcess;
  let b: NsProcess;
  let aSelf: SelfInfo;
  let bSelf: SelfInfo;

  before(async () => {
    lab = NatLab.create();
    relay = lab.spawn('wan', [
      RELAY_CLI,
      '--listen', `${RELAY_IP}:${RELAY_PORT}`,
      '--data', tempDir('parley-relay-'),
      '--token', TOKEN,
      '--status', '127.0.0.1:0',
      '--limits', JSON.stringify(testLimits),
    ], 'info');
    const ready = await relay.ready<{ url: string; status: string }>();
    statusUrl = ready.status;
    const node = (host: 'a' | 'b', name: string) =>
      lab.spawn(host, [CLI, '--json', '--no-discovery', '--data', tempDir(), '--name', name, '--relay', ready.url, '--relay-token', TOKEN, '--timing', JSON.stringify(TIMING)]);
    a = node('a', 'alice');
    b = node('b', 'bob');
    aSelf = (await a.ready<{ self: SelfInfo }>()).self;
    bSelf = (await b.ready<{ self: SelfInfo }>()).self;
  });

  after(() => {
    lab?.destroy();
    removeTempDirs();
  });

  /** The relay's GET /status, fetched inside the WAN namespace where it listens on loopback. */
  async function relayStatus(): Promise<RelaySnapshot> {
    const script = `fetch(${JSON.stringify(statusUrl)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
    const { stdout } = await run('ip', ['netns', 'exec', lab.ns('wan'), process.execPath, '-e', script], { timeout: 20_000 });
    return JSON.parse(stdout) as RelaySnapshot;
  }

  const linkTo = async (p: NsProcess, peer: SelfInfo) => (await p.call<PeerInfo[]>('listPeers')).find((x) => x.id === peer.id)?.link ?? null;
  const kinds = () => Promise.all([linkTo(a, bSelf), linkTo(b, aSelf)]);

  async function fullHistory(p: NsProcess, convId: string): Promise<MessageInfo[]> {
    const out: MessageInfo[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await p.call<MessageInfo[]>('history', before ? { convId, before, limit: 500 } : { convId, limit: 500 });
      out.unshift(...page);
      if (page.length < 500) return out;
      before = page[0]!.id;
    }
  }

  /** Messages from the other side, in the order they first arrived, and how often each was announced. */
  function arrivals(p: NsProcess): { texts: string[]; repeats: string[] } {
    const seen = new Set<string>();
    const texts: string[] = [];
    const repeats: string[] = [];
    for (const m of p.messages()) {
      if (m.mine) continue;
      if (seen.has(m.id)) repeats.push(m.text);
      else {
        seen.add(m.id);
        texts.push(m.text);
      }
    }
    return { texts, repeats };
  }

  it('upgrades the relayed link to direct, losing and duplicating nothing', async (t) => {
    await waitFor('both joined the relay and see each other', async () => {
      const [ra, rb] = await Promise.all([a.call<RelayInfo[]>('listRelays'), b.call<RelayInfo[]>('listRelays')]);
      return ra[0]?.state === 'connected' && rb[0]?.state === 'connected' && ra[0].members.some((m) => m.id === bSelf.id) && rb[0].members.some((m) => m.id === aSelf.id);
    }, 30_000, 100);
    const conv = (await a.call<{ id: string }>('openConversation', { peerId: bSelf.id })).id;
    assert.equal((await b.call<{ id: string }>('openConversation', { peerId: aSelf.id })).id, conv);

    // Both sides talk continuously from here until the end.
    const sent = { a: [] as string[], b: [] as string[] };
    let sending = true;
    const talk = async (p: NsProcess, who: 'a' | 'b') => {
      for (let i = 1; sending; i++) {
        const text = `${who}${i}`;
        await p.call('send', { convId: conv, text });
        sent[who].push(text);
        await sleep(PACE_MS);
      }
    };
    const talking = Promise.all([talk(a, 'a'), talk(b, 'b')]);
    try {
      await waitFor('a relayed link on both sides, carrying messages both ways', async () => {
        const [ka, kb] = await kinds();
        return ka === 'relay' && kb === 'relay' && arrivals(a).texts.length >= 10 && arrivals(b).texts.length >= 10;
      }, 60_000, 100);
      // Each side knows where the other listens by now (Hello addrs) and keeps dialing it, but
      // behind the NATs that cannot work: the link stays relayed.
      await sleep(2000);
      assert.deepEqual(await kinds(), ['relay', 'relay'], 'no direct path while the NATs are up');
      const viaRelay = await relayStatus();
      assert.ok(viaRelay.sessions.active >= 1 && viaRelay.bytes.forwarded > 0, JSON.stringify(viaRelay));
      const sentBeforeLift = sent.a.length + sent.b.length;

      const liftedAt = Date.now();
      lab.liftNat();
      await waitFor('a direct link on both sides', async () => (await kinds()).every((k) => k === 'direct'), 60_000, 50);
      const upgradeMs = Date.now() - liftedAt;
      const sentDuringUpgrade = sent.a.length + sent.b.length - sentBeforeLift;

      // The direct link really goes host to host, not through the relay's address.
      const diag = await a.call<DiagnosticsInfo>('diagnostics');
      const link = diag.links.find((l) => l.peerId === bSelf.id);
      assert.ok(link?.kind === 'direct', JSON.stringify(diag.links));
      assert.ok(!link.remote.startsWith(`${RELAY_IP}:`), link.remote);

      // The replaced tunnel closes, and from then on the relay carries none of their messages.
      await waitFor('the relayed session ended', async () => (await relayStatus()).sessions.active === 0, 30_000, 250);
      const afterUpgrade = await relayStatus();
      const countAfterUpgrade = sent.a.length + sent.b.length;
      await waitFor('more messages both ways over the direct link', () => sent.a.length + sent.b.length >= countAfterUpgrade + 60, 60_000, 50);
      await sleep(1000);
      const later = await relayStatus();
      assert.equal(later.bytes.forwarded, afterUpgrade.bytes.forwarded, 'no bytes through the relay once direct');
      assert.deepEqual(await kinds(), ['direct', 'direct'], 'still direct');

      sending = false;
      await talking;
      const total = sent.a.length + sent.b.length;
      t.diagnostic(
        `messages sent: ${total} (a ${sent.a.length}, b ${sent.b.length}); ${sentBeforeLift} before the NAT was lifted, ` +
          `${sentDuringUpgrade} while upgrading; upgrade took ${upgradeMs} ms after the NAT was lifted; ` +
          `relay forwarded ${afterUpgrade.bytes.forwarded} bytes in all; direct link remote seen by a: ${link.remote}`,
      );
    } finally {
      sending = false;
      await talking.catch(() => undefined);
    }

    // Drained: everything arrived and everything of each side shows delivered.
    await waitFor('each side has all of the other\'s messages', () => arrivals(a).texts.length >= sent.b.length && arrivals(b).texts.length >= sent.a.length, 60_000, 100);
    await waitFor('every message shows delivered to its sender', async () => {
      const [ha, hb] = await Promise.all([fullHistory(a, conv), fullHistory(b, conv)]);
      return [...ha, ...hb].every((m) => !m.mine || m.state === 'delivered' || m.state === 'read');
    }, 60_000, 250);

    // 0 lost, 0 duplicated, in order: each side saw the other's messages once each, in sending order…
    const atA = arrivals(a);
    const atB = arrivals(b);
    assert.deepEqual(atB.texts, sent.a, "bob has each of alice's messages once, in order");
    assert.deepEqual(atA.texts, sent.b, "alice has each of bob's messages once, in order");
    assert.deepEqual(atA.repeats, [], 'no message shown twice at alice');
    assert.deepEqual(atB.repeats, [], 'no message shown twice at bob');
    // …and both keep one and the same conversation.
    const [ha, hb] = await Promise.all([fullHistory(a, conv), fullHistory(b, conv)]);
    assert.equal(ha.length, sent.a.length + sent.b.length);
    assert.equal(new Set(ha.map((m) => m.id)).size, ha.length, 'no ID stored twice');
    assert.deepEqual(ha.map((m) => m.id), hb.map((m) => m.id), 'the same messages in the same order on both sides');
    assert.deepEqual(ha.filter((m) => m.author === aSelf.id).map((m) => m.text), sent.a);
    assert.deepEqual(ha.filter((m) => m.author === bSelf.id).map((m) => m.text), sent.b);
    // Nobody gave either node the other's address: it came from the Hello, never the relay.
    assert.doesNotMatch(relay.stderr.join('\n'), new RegExp(`${A_IP.replace(/\./g, '\\.')}|${B_IP.replace(/\./g, '\\.')}`));
  });
});
