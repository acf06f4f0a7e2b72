// Shared by the groups-* unit tests: real identities (made once per test process, since RSA
// key generation costs ~100 ms each) and in-memory stand-ins for what the node does over links.
import { createPrivateKey, constants, sign } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { generateIdentity, type Identity } from '../../main/core/identity/identity.ts';
import { certDer, encodeEvent, type GroupMember, type SignedEvent, type UnsignedEvent } from '../../main/core/groups/group-message.ts';
import type { GroupReplica, ReceiveResult } from '../../main/core/groups/replica.ts';

let pool: Identity[] | undefined;

/** Six identities, sorted by ID so tests can reason about the author tie-break. */
export function identities(): Identity[] {
  pool ??= Array.from({ length: 6 }, () => generateIdentity()).sort((a, b) => (a.id < b.id ? -1 : 1));
  return pool;
}

export function member(identity: Identity): GroupMember {
  return { id: identity.id, cert: certDer(identity) };
}

/**
 * One full catch-up of `to` from `from`, as the gsync/gev exchange does it: `to` sends its
 * vector, `from` answers with a batch, until `from` says there is no more. Returns every result.
 */
export function sync(from: GroupReplica, to: GroupReplica, limits?: { maxEvents: number; maxBytes: number }): ReceiveResult[] {
  const results: ReceiveResult[] = [];
  for (let round = 0; round < 10_000; round++) {
    const batch = from.select(to.self, to.vector(), limits);
    if (batch.events.length > 0) results.push(to.receive(batch.events, from.self));
    if (!batch.more) return results;
  }
  throw new Error('sync did not finish');
}

/** The events `from` holds, as a live send would carry them. */
export function allEvents(from: GroupReplica): SignedEvent[] {
  return from.entries().map((x) => x.signed);
}

/** What a forwarder who edits an event produces: other bytes, the author's old signature. */
export function alter(signed: SignedEvent, edit: (fields: Record<string, unknown>) => void): SignedEvent {
  const fields = decode(signed.ev) as Record<string, unknown>;
  edit(fields);
  return { ev: encode(fields), sig: signed.sig };
}

/** An event signed by `signer`'s key whatever author it claims: a forgery when they differ. */
export function signAs(signer: Identity, e: UnsignedEvent): SignedEvent {
  const ev = encodeEvent(e);
  const sig = sign('sha256', Buffer.concat([Buffer.from('parley-group-event/1\0', 'ascii'), ev]), {
    key: createPrivateKey(signer.keyPem),
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  });
  return { ev, sig: new Uint8Array(sig) };
}

export function texts(r: GroupReplica): string[] {
  return r.entries().flatMap((x) => (x.e.kind === 'text' && x.verdict.ok ? [x.e.body.text] : []));
}

export function order(r: GroupReplica): string[] {
  return r.entries().map((x) => x.e.id);
}
