// The node's side of the offline mailbox.
//
// How it meets the messenger's outbox: the outbox stays the single source of truth. A message
// to a peer who is offline (not in the relay's directory, no link) is sealed and deposited as
// well as staying in the outbox; it is shown as 'stored' (at a relay) once the relay accepted
// it. When the two peers next have a link, the outbox resends it as always; the recipient,
// which stored it from the mailbox, answers 'duplicate' with an ack, and only that ack makes
// it 'delivered' and removes it from the outbox. So the relay can lose, delay or replay
// envelopes without losing or duplicating a message, and its word is never taken for
// delivery.
//
// Sealing needs the recipient's certificate. The one the recipient proved on an earlier link
// (kept in the store) comes first; the relay's copy is only asked for when there is none, so a
// relay that never saw the recipient (or restarted and forgot it) still takes its mail.
//
// On the recipient: envelopes are opened and checked (seal.ts), stored with the same
// idempotent insert the messenger uses (dedup by message ID against the store), then acked to
// the relay, which deletes them. Envelopes that can never be valid are acked too, so they do
// not come back forever.
import type { PeerId } from '../../contract/contract.ts';
import type { Logger } from '../log.ts';
import type { ParleyNode } from '../node.ts';
import type { FrameOf } from '../protocol/frames.ts';
import type { RelayClient } from './client.ts';
import type { Envelope } from './frames.ts';
import { openEnvelope, sealMessage, SealError } from './seal.ts';

/** Keeps one deposit frame well under the relay's frame cap. */
const DEPOSIT_BATCH_BYTES = 160 * 1024;
const DEPOSIT_BATCH_ITEMS = 200;
const OUTBOX_PAGE = 256;

export interface MailboxStats {
  deposited: number;
  refused: number;
  received: number;
  duplicates: number;
  invalid: number;
}

function envelopeSize(e: Envelope): number {
  return e.cert.byteLength + e.wrappedKey.byteLength + e.ct.byteLength + e.sig.byteLength + 300;
}

export class MailboxClient {
  readonly stats: MailboxStats = { deposited: 0, refused: 0, received: 0, duplicates: 0, invalid: 0 };
  private readonly node: ParleyNode;
  private readonly client: RelayClient;
  private readonly log: Logger;
  /** Deposited (or refused for good) in this process; the relay dedupes across restarts. */
  private readonly done = new Set<string>();
  private readonly certs = new Map<PeerId, Uint8Array>();
  /** Peers the relay had no certificate for: do not ask again before this time. */
  private readonly noCertUntil = new Map<PeerId, number>();
  private readonly busy = new Set<PeerId>();
  /** Peers whose deposits the relay refused for quota: ask again only after this time. */
  private readonly quotaUntil = new Map<PeerId, number>();

  constructor(opts: { node: ParleyNode; client: RelayClient; log: Logger }) {
    this.node = opts.node;
    this.client = opts.client;
    this.log = opts.log;
  }

  /**
   * Deposits what the outbox holds for `peerId` and was not deposited yet. The caller decides
   * that the peer is offline; this only needs the relay connection and the peer's certificate.
   */
  async depositFor(peerId: PeerId): Promise<number> {
    if (this.busy.has(peerId) || !this.client.connected) return 0;
    if ((this.quotaUntil.get(peerId) ?? 0) > Date.now()) return 0;
    this.busy.add(peerId);
    try {
      const cert = await this.certificateOf(peerId);
      if (!cert) return 0;
      let total = 0;
      let after = 0;
      for (;;) {
        const rows = this.node.store.outbox(peerId, after, OUTBOX_PAGE);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.outboxRowid;
        // Ops (edits, reactions: rich/1) wait for a link: whether the recipient's build knows
        // them is learnt only from its Hello.
        const fresh = rows.filter((r) => !this.done.has(r.id) && r.author === this.node.identity.id && r.op === null);
        let batch: Envelope[] = [];
        let bytes = 0;
        for (const row of fresh) {
          const msg: FrameOf<'msg'> = { t: 'msg', id: row.id, conv: row.convId, author: row.author, seq: row.seq, lamport: row.lamport, ts: row.ts, body: this.node.messenger.bodyOf(row) };
          const e = sealMessage({ msg, to: peerId, sender: this.node.identity, recipientCert: cert });
          if (batch.length > 0 && (bytes + envelopeSize(e) > DEPOSIT_BATCH_BYTES || batch.length >= DEPOSIT_BATCH_ITEMS)) {
            const n = await this.send(peerId, batch);
            if (n < 0) return total;
            total += n;
            batch = [];
            bytes = 0;
          }
          batch.push(e);
          bytes += envelopeSize(e);
        }
        if (batch.length > 0) {
          const n = await this.send(peerId, batch);
          if (n < 0) return total;
          total += n;
        }
        if (rows.length < OUTBOX_PAGE) break;
      }
      return total;
    } catch (err) {
      this.log.info({ peer: peerId.slice(0, 7), err: (err as Error).message }, 'mailbox deposit failed; will try again');
      return 0;
    } finally {
      this.busy.delete(peerId);
    }
  }

  /** Returns how many the relay accepted, or -1 when it refused for quota (stop for now). */
  private async send(peerId: PeerId, batch: Envelope[]): Promise<number> {
    const reply = await this.client.deposit(batch);
    for (const id of reply.accepted) this.done.add(id);
    const changed = this.node.store.markStored(reply.accepted);
    for (const row of changed) this.node.messenger.announce(row);
    this.stats.deposited += reply.accepted.length;
    this.stats.refused += reply.refused.length;
    let quota = false;
    for (const r of reply.refused) {
      if (r.reason === 'quota') quota = true;
      // Anything else would be refused again: never offer it twice in this process.
      else this.done.add(r.id);
    }
    if (reply.refused.length > 0) this.log.warn({ peer: peerId.slice(0, 7), refused: reply.refused.length, quota }, 'relay refused some mailbox deposits');
    if (quota) {
      this.quotaUntil.set(peerId, Date.now() + 60_000);
      return -1;
    }
    return reply.accepted.length;
  }

  private async certificateOf(peerId: PeerId): Promise<Uint8Array | null> {
    const known = this.certs.get(peerId) ?? this.node.store.peerCertificate(peerId);
    if (known) {
      this.certs.set(peerId, known);
      return known;
    }
    if ((this.noCertUntil.get(peerId) ?? 0) > Date.now()) return null;
    const cert = await this.client.certificate(peerId);
    if (cert) {
      this.certs.set(peerId, cert);
      this.noCertUntil.delete(peerId);
    } else {
      this.noCertUntil.set(peerId, Date.now() + 60_000);
      this.log.info({ peer: peerId.slice(0, 7) }, 'relay has no certificate for this peer yet: cannot seal to it');
    }
    return cert;
  }

  /** Envelopes from the relay: open, store (deduplicated), announce, then ack. */
  receive(items: Envelope[]): void {
    const self = this.node.identity.id;
    const store = this.node.store;
    const valid: Array<FrameOf<'msg'>> = [];
    const senderCerts = new Map<PeerId, Uint8Array>();
    const ackIds: string[] = [];
    for (const e of items) {
      try {
        const frame = openEnvelope(e, this.node.identity);
        if (frame.conv !== store.directConversationId(self, frame.author)) throw new SealError('bad-content', 'message for a conversation other than ours');
        valid.push(frame);
        senderCerts.set(frame.author, e.cert);
      } catch (err) {
        this.stats.invalid++;
        this.log.warn({ from: e.from.slice(0, 7), code: err instanceof SealError ? err.code : 'error' }, 'dropping an invalid mailbox envelope');
      }
      ackIds.push(e.id);
    }
    if (valid.length > 0) {
      try {
        for (const author of new Set(valid.map((f) => f.author))) {
          if (!store.getPeer(author)) this.node.updatePeer({ id: author, name: this.client.member(author)?.name ?? '' });
          store.ensureDirectConversation(self, author);
        }
        // The sender's certificate proved its ID (openEnvelope checked the key hash and the
        // signature): enough to seal a reply to it while it is offline, as after a link.
        for (const [author, cert] of senderCerts) store.setPeerCertificate(author, cert);
        const { outcomes, touched } = store.insertIncomingRich(valid);
        const fresh = new Set(valid.filter((_, i) => outcomes[i] === 'stored').map((f) => f.id));
        for (const id of touched) {
          if (fresh.has(id)) continue; // new: told as a message below, as it is now
          const row = store.getMessage(id);
          if (row) this.node.events.emit('messageChanged', this.node.messenger.toInfo(row));
        }
        valid.forEach((frame, i) => {
          const outcome = outcomes[i];
          if (frame.body.file && (outcome === 'stored' || outcome === 'duplicate')) this.node.messenger.files?.incoming(frame.author, frame);
          if (outcome === 'stored') {
            this.stats.received++;
            const row = store.getMessage(frame.id);
            if (row && row.op === null) this.node.events.emit('message', this.node.messenger.toInfo(row));
          } else if (outcome === 'duplicate') this.stats.duplicates++;
          else {
            this.stats.invalid++;
            this.log.warn({ from: frame.author.slice(0, 7), msg: frame.id }, 'mailbox message reuses a stored ID with other content');
          }
        });
      } catch (err) {
        // Not acked: the relay offers them again on the next join.
        this.log.error({ err: (err as Error).message }, 'could not store mailbox messages');
        return;
      }
    }
    // Committed durably (synchronous=FULL) before the relay may forget them.
    this.client.ackMail(ackIds);
  }
}
