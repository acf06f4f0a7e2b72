// Two LANs behind masquerading routers, the relay on the "WAN" between them (nat-lab.ts): a and
// b are headless CLI processes started with --relay, and cannot reach each other by any
// address, yet chat through the relay. Root only; skipped with the reason otherwise.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageInfo, PeerInfo, RelayInfo, SelfInfo } from '../../main/contract/contract.ts';
import { removeTempDirs, tempDir } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/wait.ts';
import { B_IP, CLI, NatLab, natLabUnavailable, RELAY_CLI, RELAY_IP, type NsProcess } from './nat-lab.ts';
import { testLimits } from './relay-harness.ts';

const RELAY_PORT = 47480;
const TOKEN = 'lan-party';
const reason = natLabUnavailable();

const linkTo = async (p: NsProcess, peer: SelfInfo) => (await p.call<PeerInfo[]>('listPeers')).find((x) => x.id === peer.id)?.link ?? null;

describe('two NATed LANs with the relay on the WAN', { skip: reason ?? false }, () => {
  let lab: NatLab;
  let relayUrl = '';
  let relayProc: NsProcess;
  let a: NsProcess;
  let b: NsProcess;
  let aSelf: SelfInfo;
  let bSelf: SelfInfo;

  before(async () => {
    lab = NatLab.create();
    relayProc = lab.spawn(
      'wan',
      [RELAY_CLI, '--listen', `${RELAY_IP}:${RELAY_PORT}`, '--data', tempDir('parley-relay-'), '--token', TOKEN, '--no-status', '--limits', JSON.stringify(testLimits)],
      'info',
    );
    relayUrl = (await relayProc.ready<{ url: string }>()).url;
    const node = (host: 'a' | 'b', name: string) =>
      lab.spawn(host, [CLI, '--json', '--no-discovery', '--data', tempDir(), '--name', name, '--relay', relayUrl, '--relay-token', TOKEN]);
    a = node('a', 'alice');
    b = node('b', 'bob');
    aSelf = (await a.ready<{ self: SelfInfo }>()).self;
    bSelf = (await b.ready<{ self: SelfInfo }>()).self;
  });

  after(() => {
    lab?.destroy();
    removeTempDirs();
  });

  it('has no direct path between the LANs, yet alice and bob chat through the relay', async () => {
    assert.match(relayUrl, new RegExp(`^parley-relay://${RELAY_IP.replace(/\./g, '\\.')}:${RELAY_PORT}/\\?id=`));
    // Give alice bob's real LAN address: a direct dial can only fail behind these NATs.
    await a.call('addPeer', { address: `${B_IP}:${bSelf.port}`, id: bSelf.id });
    await waitFor('both joined the relay and see each other', async () => {
      const [ra, rb] = await Promise.all([a.call<RelayInfo[]>('listRelays'), b.call<RelayInfo[]>('listRelays')]);
      return ra[0]?.state === 'connected' && rb[0]?.state === 'connected' && ra[0].members.some((m) => m.id === bSelf.id);
    }, 30_000);
    const conv = (await a.call<{ id: string }>('openConversation', { peerId: bSelf.id })).id;
    for (let i = 1; i <= 20; i++) await a.call('send', { convId: conv, text: `across the NATs ${i}` });
    await waitFor('bob has all 20', () => b.messages().filter((m) => !m.mine).length >= 20, 30_000);
    assert.deepEqual(
      b.messages().filter((m) => !m.mine).map((m) => m.text),
      Array.from({ length: 20 }, (_, i) => `across the NATs ${i + 1}`),
    );
    assert.equal(await linkTo(a, bSelf), 'relay');
    // The relay saw the routers' WAN addresses, never the LAN addresses behind them (nor the
    // ones the peers tell each other inside their end-to-end TLS).
    const joins = relayProc.stderr.filter((l) => l.includes('member joined')).join('\n');
    assert.match(joins, /203\.0\.113\.2:/);
    assert.match(joins, /203\.0\.113\.6:/);
    assert.doesNotMatch(relayProc.stderr.join('\n'), /10\.[12]\.0\.10/);
    assert.equal(await linkTo(b, aSelf), 'relay');
    await b.call('send', { convId: conv, text: 'got them all' });
    await waitFor('alice has the reply', () => a.messages().some((m) => !m.mine && m.text === 'got them all'), 15_000);
    await waitFor('alice sees her messages delivered', async () => {
      const h = await a.call<MessageInfo[]>('history', { convId: conv, limit: 100 });
      return h.filter((m) => m.mine).every((m) => m.state === 'delivered');
    }, 15_000);
  });
});
