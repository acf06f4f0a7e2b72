// The façade without a network: an interface list that matches nothing means no socket
// ever sends, so this runs safely on any machine.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Discovery, startDiscovery } from '../../main/core/discovery/index.ts';
import { peerIdFromSpki } from '../../main/core/identity/peer-id.ts';

const self = () => ({ id: peerIdFromSpki(randomBytes(44)), name: 'Ada', port: 47900, presence: 'online' as const, statusText: '' });

describe('discovery façade', () => {
  it('refuses an invalid self description with a clear error, before touching the network', () => {
    assert.throws(() => new Discovery({ self: { ...self(), id: 'nope' } }), /invalid discovery self: id/);
    assert.throws(() => new Discovery({ self: { ...self(), port: 0 } }), /invalid discovery self: port/);
    assert.throws(() => new Discovery({ self: { ...self(), name: '   ' } }), /invalid discovery self: name/);
  });

  it('explains in its diagnostics that it has no interface to announce on', async () => {
    const d = await startDiscovery({ self: self(), interfaces: ['parley-none0'] });
    try {
      const diag = d.diagnostics();
      assert.deepEqual(diag.interfaces, []);
      assert.deepEqual(diag.skippedInterfaces, [{ name: 'parley-none0', reason: 'not present' }]);
      assert.ok(diag.hints.some((h) => /no usable network interface/.test(h)), diag.hints.join('\n'));
      assert.equal(diag.beacon?.sent, 0);
      assert.deepEqual(d.peers(), []);
    } finally {
      await d.stop();
    }
  });

  it('validates updates to the announced self and keeps the ID fixed', async () => {
    const s = self();
    const d = await startDiscovery({ self: s, interfaces: ['parley-none0'], mdns: false });
    try {
      d.updateSelf({ presence: 'away', statusText: 'lunch' });
      assert.throws(() => d.updateSelf({ statusText: 'x'.repeat(141) }), /statusText/);
      assert.throws(() => d.updateSelf({ presence: 'invisible' as never }), /presence/);
      d.updateSelf({ id: 'AAAA' } as never);
      assert.equal(d.diagnostics().self.id, s.id);
    } finally {
      await d.stop();
    }
  });

  it('stops idempotently', async () => {
    const d = await startDiscovery({ self: self(), interfaces: ['parley-none0'] });
    await Promise.all([d.stop(), d.stop()]);
    await d.stop();
  });
});
