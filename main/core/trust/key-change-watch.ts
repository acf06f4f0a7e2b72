// Where the key-change rule (key-change.ts) meets the peers this node learns of: every name a
// stored peer takes, and every name an unproven discovery candidate announces. Stored peers'
// flags live in the store; a candidate's only here, in memory, until a link proves it (or
// discovery forgets it), since nothing has shown the candidate holds its key yet.
import type { KeyChange, PeerId } from '../../contract/contract.ts';
import type { Logger } from '../log.ts';
import type { PeerRow, PeerUpdate, Store } from '../store/store.ts';
import { isNewName, keyChangeFor, nameKey } from './key-change.ts';

/** Forged announcements can name any number of IDs: the most recent ones only are kept. */
const MAX_CANDIDATE_FLAGS = 1024;

interface CandidateFlag {
  key: string;
  keyChange: KeyChange | null;
  dismissed: boolean;
}

export class KeyChangeWatch {
  private readonly candidates = new Map<PeerId, CandidateFlag>();
  private readonly selfId: PeerId;
  private readonly store: Store;
  private readonly log: Logger;

  constructor(opts: { selfId: PeerId; store: Store; log: Logger }) {
    this.selfId = opts.selfId;
    this.store = opts.store;
    this.log = opts.log;
  }

  /**
   * Stores what a peer says about itself. Every path that learns a peer's name (Hello,
   * presence, a relay's directory, the relay mailbox) comes through here, so that the rule sees
   * each first name and each rename.
   */
  upsertPeer(p: PeerUpdate): PeerRow {
    if (p.name === undefined || p.id === this.selfId) return this.store.upsertPeer(p);
    const before = this.store.getPeer(p.id);
    let change: KeyChange | null = null;
    if (isNewName(before?.name, p.name) && !this.store.peerTrust(p.id)?.keyChange) {
      // A candidate whose warning the person dismissed before its link came up stays dismissed.
      const candidate = this.candidates.get(p.id);
      const dismissed = !before?.name && candidate?.dismissed === true && candidate.key === nameKey(p.name);
      if (!dismissed) change = keyChangeFor(p.id, p.name, this.store.knownContacts());
    }
    const row = this.store.upsertPeer(p);
    this.candidates.delete(p.id);
    if (change) {
      this.store.setKeyChange(p.id, change);
      this.log.warn({ peer: p.id.slice(0, 7), previous: change.previousId.slice(0, 7), verifiedBefore: change.verifiedBefore }, "a new ID carries a known contact's name");
    }
    return row;
  }

  /** A discovery candidate's announced name. */
  noteCandidate(c: { id: PeerId; name: string }): void {
    if (c.id === this.selfId || this.store.getPeer(c.id)) return;
    const key = nameKey(c.name);
    const known = this.candidates.get(c.id);
    if (known && (known.key === key || known.keyChange)) return;
    const keyChange = key ? keyChangeFor(c.id, c.name, this.store.knownContacts()) : null;
    if (this.candidates.size >= MAX_CANDIDATE_FLAGS) this.candidates.delete(this.candidates.keys().next().value!);
    this.candidates.set(c.id, { key, keyChange, dismissed: false });
    if (keyChange) this.log.warn({ peer: c.id.slice(0, 7), previous: keyChange.previousId.slice(0, 7) }, "a discovered ID carries a known contact's name");
  }

  candidateKeyChange(peerId: PeerId): KeyChange | null {
    return this.candidates.get(peerId)?.keyChange ?? null;
  }

  /** Discovery forgot it, or it is stored now: re-evaluated if it comes back as a candidate. */
  forgetCandidate(peerId: PeerId): void {
    this.candidates.delete(peerId);
  }

  /** The person dismissed a candidate's warning: it stays dismissed when its link comes up. */
  dismissCandidate(peerId: PeerId): void {
    const flag = this.candidates.get(peerId);
    if (flag) {
      flag.keyChange = null;
      flag.dismissed = true;
    }
  }
}
