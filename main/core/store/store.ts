// The local history store: one SQLite file per node. Synchronous by design (better-sqlite3):
// a call returns after its transaction committed durably, which is when the messenger may
// ack or report a message as stored.
import type Database from 'better-sqlite3';
import type { KeyChange, PeerId } from '../../contract/contract.ts';
import { AttachmentsRepo } from './attachments-repo.ts';
import { ConversationsRepo, directConversationId } from './conversations-repo.ts';
import { openDatabase } from './db.ts';
import { GroupsRepo, groupConversationId, type GroupCommit, type GroupCommitResult, type GroupEventRecord, type GroupRow } from './groups-repo.ts';
import { MessagesRepo, type IncomingOutcome, type MsgFrameLike, type OutboxRow, type OutgoingMessage, type RichFields } from './messages-repo.ts';
import type { RichRepo, StoredOp } from './rich.ts';
import { PeersRepo, type PeerUpdate } from './peers-repo.ts';
import type { ConversationRow, MessageRow, PeerRow } from './rows.ts';
import { MessageSearch, type SearchResult } from './search.ts';
import { TrustRepo, type ContactRow, type PeerTrust } from './trust-repo.ts';

export { StoreError, type StoreErrorCode } from './db.ts';
export type { ContactRow, PeerTrust };
export type { GroupCommit, GroupCommitResult, GroupEventRecord, GroupRow };
export { groupConversationId };
export type { RichFields, StoredOp };
export type { ConversationRow, IncomingOutcome, MessageRow, MsgFrameLike, OutboxRow, OutgoingMessage, PeerRow, PeerUpdate, SearchResult };

export type ConversationSummary = ConversationRow & { unread: number; last: MessageRow | null };

/** Opens (or creates) the store at `file`; throws StoreError for a damaged, foreign or too-new file. */
export function openStore(file: string): Store {
  return new Store(openDatabase(file));
}

export class Store {
  private readonly db: Database.Database;
  private readonly peers: PeersRepo;
  private readonly messages: MessagesRepo;
  private readonly conversations: ConversationsRepo;
  private readonly fts: MessageSearch;
  private readonly trust: TrustRepo;
  private readonly groupsRepo: GroupsRepo;
  /** Files offered with messages (migration 0006; main/core/attachments). */
  readonly attachments: AttachmentsRepo;

  constructor(db: Database.Database) {
    this.db = db;
    this.attachments = new AttachmentsRepo(db);
    this.peers = new PeersRepo(db);
    this.messages = new MessagesRepo(db);
    this.conversations = new ConversationsRepo(db, this.messages);
    this.fts = new MessageSearch(db);
    this.trust = new TrustRepo(db);
    this.groupsRepo = new GroupsRepo(db, this.messages.rich);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- settings and peers --------------------------------------------------------------

  getMeta(key: string): string | undefined {
    return this.peers.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.peers.setMeta(key, value);
  }

  /** Fields not given keep their stored value; `addresses` replaces the list. */
  upsertPeer(p: PeerUpdate): PeerRow {
    return this.peers.upsertPeer(p);
  }

  getPeer(id: PeerId): PeerRow | undefined {
    return this.peers.getPeer(id);
  }

  listPeers(): PeerRow[] {
    return this.peers.listPeers();
  }

  // ---- trust: verified IDs and key-change warnings (set by the person and the core only) ----

  peerTrust(id: PeerId): PeerTrust | undefined {
    return this.trust.get(id);
  }

  allPeerTrust(): Map<PeerId, PeerTrust> {
    return this.trust.all();
  }

  /** Verifying also clears a key-change warning. False when the peer is not stored. */
  setVerified(id: PeerId, verified: boolean): boolean {
    return this.trust.setVerified(id, verified);
  }

  /** False when the peer is not stored. */
  setKeyChange(id: PeerId, change: KeyChange | null): boolean {
    return this.trust.setKeyChange(id, change);
  }

  /** Named peers that are verified or that we exchanged messages with. */
  knownContacts(): ContactRow[] {
    return this.trust.contacts();
  }

  /** Keeps the certificate (DER) a known peer proved; refused unless its key hashes to `id`. */
  setPeerCertificate(id: PeerId, der: Uint8Array): boolean {
    return this.peers.setCertificate(id, der);
  }

  /** The certificate last proved by this peer, for sealing mailbox messages to it. */
  peerCertificate(id: PeerId): Uint8Array | undefined {
    return this.peers.getCertificate(id);
  }

  // ---- conversations -------------------------------------------------------------------

  /** The same on both sides. */
  directConversationId(a: PeerId, b: PeerId): string {
    return directConversationId(a, b);
  }

  ensureDirectConversation(selfId: PeerId, peerId: PeerId): ConversationRow {
    return this.conversations.ensureDirectConversation(selfId, peerId, this.peers.getPeer(peerId)?.name);
  }

  getConversation(id: string): ConversationRow | undefined {
    return this.conversations.getConversation(id);
  }

  /** Most recent activity (highest lamport) first. */
  listConversations(selfId: PeerId): ConversationSummary[] {
    return this.conversations.listConversations().map((c) => ({
      ...c,
      unread: this.conversations.unreadCount(c.id, selfId),
      last: this.messages.last(c.id),
    }));
  }

  // ---- messages ------------------------------------------------------------------------

  /** One transaction: allocates seq and lamport, stores as 'pending', enqueues. Rows in batch order. */
  insertOutgoing(batch: OutgoingMessage[]): MessageRow[] {
    return this.messages.insertOutgoing(batch);
  }

  /** One transaction. The conversations must exist. */
  insertIncoming(batch: MsgFrameLike[]): IncomingOutcome[] {
    return this.messages.insertIncoming(batch);
  }

  /** insertOutgoing, also naming the messages my ops in the batch changed (rich.ts). */
  insertOutgoingRich(batch: OutgoingMessage[]): { rows: MessageRow[]; touched: string[] } {
    return this.messages.insertOutgoingRich(batch);
  }

  /** insertIncoming, also naming the messages ops changed and the waiting ops dropped as not allowed. */
  insertIncomingRich(batch: MsgFrameLike[]): { outcomes: IncomingOutcome[]; touched: string[]; refused: string[] } {
    return this.messages.insertIncomingRich(batch);
  }

  /** Ops, reactions and broadcasts (migration 0005). */
  get rich(): RichRepo {
    return this.messages.rich;
  }

  getMessage(id: string): MessageRow | undefined {
    return this.messages.getMessage(id);
  }

  /** A relay's mailbox accepted these for their offline recipient; they read as 'stored' until acked. */
  markStored(ids: string[]): MessageRow[] {
    return this.messages.markStored(ids);
  }

  markDelivered(ids: string[]): MessageRow[] {
    return this.messages.markDelivered(ids);
  }

  markRejected(id: string): MessageRow | undefined {
    return this.messages.markRejected(id);
  }

  cancel(id: string): MessageRow | undefined {
    return this.messages.cancel(id);
  }

  outbox(peerId: PeerId, afterRowid: number, limit: number): OutboxRow[] {
    return this.messages.outbox(peerId, afterRowid, limit);
  }

  outboxCount(peerId?: PeerId): number {
    return this.messages.outboxCount(peerId);
  }

  outboxPeers(): PeerId[] {
    return this.messages.outboxPeers();
  }

  /** My messages still in the outbox that were enqueued before `cutoff` (ms), oldest first. */
  /** Outbox entries enqueued in [from, cutoff): those that crossed the delivery deadline since the last look. */
  overdue(from: number, cutoff: number, limit: number): MessageRow[] {
    return this.messages.overdue(from, cutoff, limit);
  }

  /** Oldest first; the `limit` messages just before `before`, or the newest ones. */
  history(convId: string, opts: { before?: string | undefined; after?: string | undefined; around?: string | undefined; limit: number }): MessageRow[] {
    return this.messages.history(convId, opts);
  }

  search(query: string, limit: number): SearchResult[] {
    return this.fts.search(query, limit);
  }

  // ---- groups (groups-repo.ts) ---------------------------------------------------------

  getGroup(id: string): GroupRow | undefined {
    return this.groupsRepo.get(id);
  }

  listGroups(): GroupRow[] {
    return this.groupsRepo.list();
  }

  /** A group's events as received (author's bytes and signature), in group order. */
  groupEvents(groupId: string): ReturnType<GroupsRepo['events']> {
    return this.groupsRepo.events(groupId);
  }

  /** One transaction: what a replica stored or re-judged, durably, with the history rows it shows. */
  commitGroup(c: GroupCommit): GroupCommitResult {
    return this.groupsRepo.commit(c);
  }

  // ---- read markers --------------------------------------------------------------------

  markReadUpTo(convId: string, messageId: string, selfId: PeerId): { changed: boolean; unread: number } {
    return this.conversations.markReadUpTo(convId, messageId, selfId);
  }

  unreadCount(convId: string, selfId: PeerId): number {
    return this.conversations.unreadCount(convId, selfId);
  }

  applyPeerRead(convId: string, upTo: string, selfId: PeerId): MessageRow[] {
    return this.conversations.applyPeerRead(convId, upTo, selfId);
  }
}
