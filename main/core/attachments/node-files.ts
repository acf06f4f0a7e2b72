// How a ParleyNode carries files (kept out of node.ts): the listener's parley-file/1 ALPN and
// relay tunnels lead to the TransferManager, whose streams go out as a direct dial when the
// peer has a dialable address, else as a relay tunnel; links coming up resume downloads and
// carry declines and cancels; the messenger's frames and MessageInfo get the `file` parts.
import type tls from 'node:tls';
import type { PeerId } from '../../contract/contract.ts';
import { FILE_ALPN } from '../files/stream-frames.ts';
import { formatAddress, parseAddress } from '../links/address.ts';
import { dial } from '../links/tls.ts';
import type { ParleyNode } from '../node.ts';
import { Attachments } from './service.ts';

/** A direct file dial gives up after this; then a relay is tried. */
const DIRECT_DIAL_MS = 5000;

export function wireFiles(node: ParleyNode): Attachments {
  const attachments = new Attachments({
    selfId: node.identity.id,
    dataDir: node.dataDir,
    store: node.store,
    links: node.links,
    log: node.log.child({ part: 'files' }),
    settings: () => node.settings.current,
    sendMessage: (convId, peerId, text, replyTo, attach) => node.messenger.send(convId, peerId, text, replyTo ? { replyTo } : undefined, attach),
    groupMembers: (convId) => node.groups.otherMembers(convId),
    sendGroup: (convId, text, replyTo, file) => node.groups.send(convId, text, { replyTo, file }),
    toInfo: (row) => node.groups.decorate(node.messenger.toInfo(row)),
    emitMessage: (m) => node.events.emit('message', m),
    emitChanged: (m) => node.events.emit('messageChanged', m),
    emitTransfer: (t) => node.events.emit('transfer', t),
    connect: (peerId) => connectFile(node, peerId),
  });
  node.messenger.files = {
    body: (row, caps) => attachments.body(row, caps),
    incoming: (from, frame) => attachments.incoming(from, frame),
    info: (id) => attachments.info(id),
  };
  node.groups.files = { incoming: (from, event) => attachments.incoming(from, event) };
  node.links.on('up', (link) => attachments.linkUp(link));
  node.links.on('frame', (link, frame) => {
    if (frame.t === 'xfer') attachments.onXfer(link.peerId, frame);
  });
  return attachments;
}

/** Where the peer may be dialed directly now: its live direct link's address first, then the stored ones. */
function directAddresses(node: ParleyNode, peerId: PeerId): string[] {
  const link = node.links.get(peerId);
  if (link?.kind === 'relay') return [];
  const out: string[] = [];
  if (link?.direction === 'out') out.push(link.remoteAddress);
  else if (link?.peerHello?.port) out.push(formatAddress(link.remoteHost, link.peerHello.port));
  for (const a of node.store.getPeer(peerId)?.addresses ?? []) if (!out.includes(a)) out.push(a);
  return out.slice(0, 8);
}

async function connectFile(node: ParleyNode, peerId: PeerId): Promise<tls.TLSSocket> {
  const addrs = directAddresses(node, peerId);
  if (addrs.length) {
    const attempts = addrs.map((a) => {
      const { host, port } = parseAddress(a);
      return dial({ identity: node.identity, host, port, expectedId: peerId, timeoutMs: DIRECT_DIAL_MS, alpn: FILE_ALPN });
    });
    try {
      const socket = await Promise.any(attempts);
      void Promise.allSettled(attempts).then((all) => {
        for (const r of all) if (r.status === 'fulfilled' && r.value !== socket) r.value.destroy();
      });
      return socket;
    } catch {
      // No direct path: a relay may still reach the peer.
    }
  }
  const relay = node.relays.find((r) => r.client.member(peerId));
  if (relay) return relay.fileTunnel(peerId);
  throw new Error('the peer cannot be reached directly or through a relay');
}
