// Files in conversations: a file offer is a message (its body carries `file`, PROTOCOL.md
// §14.1), the bytes move over parley-file/1 streams (main/core/files), and this module joins
// the two: it stores what each offer said (attachments table, migration 0006), accepts,
// declines, cancels and retries, applies the auto-accept rules, and turns the transfer layer's
// events into `transfer` events and re-emitted `message` events. README.md has the design.
import os from 'node:os';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type tls from 'node:tls';
import { decode, encode } from '@msgpack/msgpack';
import type { AttachmentInfo, AttachmentKind, MessageInfo, PeerId, TransferView } from '../../contract/contract.ts';
import { TransferError } from '../files/errors.ts';
import { chunkCount, FILE_LIMITS, FileManifestSchema, type FileManifest } from '../files/manifest.ts';
import { FolderTransferStore } from '../files/transfer-store.ts';
import { TransferManager, type TransferInfo, type TransferTiming } from '../files/transfers.ts';
import type { Link } from '../links/link.ts';
import type { LinkManager } from '../links/link-manager.ts';
import type { Logger } from '../log.ts';
import type { FileOfferWire, FrameOf } from '../protocol/frames.ts';
import type { CoreSettings } from '../settings.ts';
import type { AttachmentChange, AttachmentRow } from '../store/attachments-repo.ts';
import type { MessageRow, Store } from '../store/store.ts';
import { autoAccepts } from './auto-accept.ts';
import { Media } from './media.ts';
import { acceptableThumbnail, parseThumbnail, ThumbnailError } from './thumbnail.ts';

/** Offers carry their manifest, so a file has at most this many chunks (chunks grow instead). */
export const OFFER_MAX_CHUNKS = 1024;
export const FILES_CAP = 'files/1';

/** Kinds whose sent file stays in uploads/ after the transfer, so the sender still sees it. */
const KEEP_SENT: ReadonlySet<AttachmentKind> = new Set(['image', 'audio', 'video', 'voice']);

export class AttachmentError extends Error {
  readonly code: 'invalid-args' | 'not-found' | 'unavailable';
  constructor(code: AttachmentError['code'], message: string) {
    super(message);
    this.name = 'AttachmentError';
    this.code = code;
  }
}

export interface SendFileArgs {
  convId: string;
  upload: string;
  kind: AttachmentKind;
  thumbnail?: string | undefined;
  width?: number | undefined;
  height?: number | undefined;
  durationMs?: number | undefined;
  text?: string | undefined;
  replyTo?: string | undefined;
}

export interface AttachmentsOptions {
  selfId: PeerId;
  dataDir: string;
  store: Store;
  links: LinkManager;
  log: Logger;
  settings: () => CoreSettings;
  /** Stores an outgoing direct message; `attach` runs after its row exists and before it is sent. */
  sendMessage: (convId: string, peerId: PeerId, text: string, replyTo: string | undefined, attach: (row: MessageRow) => void) => Promise<MessageInfo>;
  /** Groups: the other current members, and sending the text event that carries the offer. */
  groupMembers: (convId: string) => PeerId[];
  sendGroup: (convId: string, text: string, replyTo: string | undefined, file: FileOfferWire) => MessageInfo;
  /** A stored message as the UI sees it (attachment included). */
  toInfo: (row: MessageRow) => MessageInfo;
  emitMessage: (m: MessageInfo) => void;
  /** An attachment's message changed (its transfer moved): not a new message. */
  emitChanged: (m: MessageInfo) => void;
  emitTransfer: (t: { messageId: string; convId: string; transfer: TransferView }) => void;
  /** A pinned parley-file/1 socket to the peer: direct, else through a relay. */
  connect: (peerId: PeerId) => Promise<tls.TLSSocket>;
  timing?: Partial<TransferTiming>;
}

interface StoredManifest {
  chunk: number;
  hashes: Uint8Array;
  hash: Uint8Array;
}

const TERMINAL = new Set(['done', 'declined', 'canceled']);

export class Attachments {
  readonly files: TransferManager;
  readonly media: Media;
  readonly #o: AttachmentsOptions;
  readonly #log: Logger;
  readonly #store: Store;
  #closed = false;

  constructor(opts: AttachmentsOptions) {
    this.#o = opts;
    this.#log = opts.log;
    this.#store = opts.store;
    this.files = new TransferManager({
      selfId: opts.selfId,
      store: new FolderTransferStore(path.join(opts.dataDir, 'transfers'), opts.log),
      connect: opts.connect,
      log: opts.log,
      ...(opts.timing ? { timing: opts.timing } : {}),
    });
    this.media = new Media({ dataDir: opts.dataDir, log: opts.log, attachment: (id) => this.#store.attachments.get(id) });
    this.files.on('progress', (p) => this.#onProgress(p.transferId));
    this.files.on('done', (d) => {
      const a = this.#store.attachments.byTransferId(d.transferId);
      if (!a) return;
      if (d.direction === 'receive') this.#change(a, { state: 'done', bytesDone: a.size, localPath: d.received?.path ?? null, reason: null });
      else if (a.recipients) {
        // A group offer: done once every member it was offered to has it.
        const donePeers = [...new Set([...a.donePeers, d.peerId])];
        const all = a.recipients.every((p) => donePeers.includes(p));
        this.#change(a, all ? { donePeers, state: 'done', bytesDone: a.size } : { donePeers });
      } else this.#change(a, { state: 'done', bytesDone: a.size });
    });
    this.files.on('failed', (f) => {
      const a = this.#store.attachments.byTransferId(f.transferId);
      if (!a || TERMINAL.has(a.state)) return;
      this.#change(a, { state: 'failed', reason: f.code, resumable: f.resumable });
    });
    this.files.on('canceled', (c) => {
      const a = this.#store.attachments.byTransferId(c.transferId);
      if (!a || TERMINAL.has(a.state)) return;
      // One member canceling its download of a group offer ends nothing for the others.
      if (a.recipients && c.by === 'peer') return;
      this.#change(a, { state: 'canceled', reason: c.by === 'peer' ? 'canceled-by-peer' : 'canceled' });
    });
  }

  /** Resumes accepted downloads and served offers of an earlier run. */
  async start(): Promise<void> {
    await this.files.start();
    // Uploads posted and never offered (the UI went away); a sent image stays with its message.
    void this.media.sweep((file) => this.#store.attachments.bySource(file) !== undefined).catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.files.close();
  }

  // ---- the wire ------------------------------------------------------------------------

  /**
   * Body fields of an outgoing `msg` frame carrying a file (undefined for any other message).
   * A peer whose link lacks files/1 gets the name as text rather than an empty message.
   */
  body(row: MessageRow, caps?: ReadonlySet<string>): { file: FileOfferWire } | { text: string } | undefined {
    const a = this.#store.attachments.get(row.id);
    if (!a) return undefined;
    if (caps && !caps.has(FILES_CAP)) return { text: row.text || a.name };
    return { file: this.#wire(a) };
  }

  #wire(a: Pick<AttachmentRow, 'transferId' | 'name' | 'size' | 'mime' | 'kind' | 'manifest' | 'thumbnail' | 'width' | 'height' | 'durationMs'>): FileOfferWire {
    const m = decode(a.manifest) as StoredManifest;
    return {
      transfer: a.transferId,
      name: a.name,
      size: a.size,
      mime: a.mime,
      kind: a.kind,
      chunk: m.chunk,
      hashes: new Uint8Array(m.hashes),
      hash: new Uint8Array(m.hash),
      ...(a.thumbnail ? { thumb: new Uint8Array(a.thumbnail) } : {}),
      ...(a.width !== null ? { w: a.width } : {}),
      ...(a.height !== null ? { h: a.height } : {}),
      ...(a.durationMs !== null ? { dur: a.durationMs } : {}),
    };
  }

  /**
   * A stored incoming message (or a resend of one) whose body carries a file. Called before
   * the message is announced, so its MessageInfo already has the attachment.
   */
  incoming(from: PeerId, frame: Pick<FrameOf<'msg'>, 'id' | 'conv' | 'body'>): void {
    const f = frame.body.file;
    if (!f || this.#store.attachments.get(frame.id)) return;
    if (this.#store.attachments.byTransferId(f.transfer)) {
      this.#log.warn({ peer: from.slice(0, 7), msg: frame.id }, 'file offer reuses a transfer ID; ignored');
      return;
    }
    const manifest = FileManifestSchema.safeParse({ name: f.name, size: f.size, chunkSize: f.chunk, chunkHashes: f.hashes, fileHash: f.hash });
    const valid = manifest.success && chunkCount(f.size, f.chunk) <= OFFER_MAX_CHUNKS;
    const thumb = acceptableThumbnail(f.thumb);
    if (f.thumb && !thumb) this.#log.info({ peer: from.slice(0, 7), msg: frame.id }, 'dropping an invalid thumbnail');
    this.#store.attachments.insert({
      messageId: frame.id,
      transferId: f.transfer,
      convId: frame.conv,
      direction: 'receive',
      peerId: from,
      name: f.name,
      size: f.size,
      mime: f.mime,
      kind: f.kind,
      thumbnail: thumb ?? null,
      width: f.w ?? null,
      height: f.h ?? null,
      durationMs: f.dur ?? null,
      manifest: encode({ chunk: f.chunk, hashes: f.hashes, hash: f.hash }),
      source: null,
      localPath: null,
      state: valid ? 'offered' : 'failed',
      reason: valid ? null : 'invalid-offer',
      resumable: false,
      bytesDone: 0,
      notice: null,
      recipients: null,
      donePeers: [],
      createdAt: Date.now(),
    });
    if (!valid) {
      this.#log.warn({ peer: from.slice(0, 7), msg: frame.id }, 'file offer with an invalid manifest');
      return;
    }
    if (autoAccepts(this.#o.settings().autoAccept, from, f.kind, f.size)) {
      // After the message is announced: the UI sees the offer, then its acceptance.
      setImmediate(() => {
        if (this.#closed) return;
        this.accept(frame.id).catch((err: unknown) => this.#log.info({ msg: frame.id, err: (err as Error).message }, 'auto-accept failed'));
      });
    }
  }

  /** `xfer` from a peer: it declined my offer, or one of us canceled. */
  onXfer(from: PeerId, frame: FrameOf<'xfer'>): void {
    const a = this.#store.attachments.byTransferId(frame.id);
    if (!a || a.peerId !== from || TERMINAL.has(a.state)) return;
    if (frame.state === 'declined' && a.direction !== 'send') return;
    const state = frame.state === 'declined' ? 'declined' : 'canceled';
    this.#change(a, { state, reason: frame.state === 'declined' ? 'declined' : 'canceled-by-peer', notice: null });
    void this.files.cancel(a.transferId).catch(() => {});
  }

  /** A link came up: resume waiting downloads at once and tell the peer what it missed. */
  linkUp(link: Link): void {
    this.#store.setMeta(`peer.caps.${link.peerId}`, JSON.stringify([...link.caps]));
    this.files.peerReachable(link.peerId);
    this.#flushNotices(link.peerId);
  }

  #flushNotices(peerId: PeerId): void {
    const link = this.#o.links.get(peerId);
    if (!link || !link.isUp || !link.caps.has(FILES_CAP)) return;
    for (const a of this.#store.attachments.notices(peerId)) {
      if (!a.notice) continue;
      link.send({ t: 'xfer', id: a.transferId, state: a.notice });
      if (!link.closed) this.#store.attachments.update(a.messageId, { notice: null });
    }
  }

  /** Whether this peer's Parley takes files: its live link's capabilities, else the last link's. */
  peerTakesFiles(peerId: PeerId): boolean {
    const link = this.#o.links.get(peerId);
    if (link?.isUp) return link.caps.has(FILES_CAP);
    try {
      const caps = JSON.parse(this.#store.getMeta(`peer.caps.${peerId}`) ?? '[]') as unknown;
      return Array.isArray(caps) && caps.includes(FILES_CAP);
    } catch {
      return false;
    }
  }

  // ---- commands ------------------------------------------------------------------------

  async sendFile(args: SendFileArgs): Promise<MessageInfo> {
    const conv = this.#store.getConversation(args.convId);
    if (!conv) throw new AttachmentError('not-found', 'no such conversation');
    const peers = conv.kind === 'direct' ? [conv.peerId] : this.#o.groupMembers(conv.id);
    if (peers.length === 0) throw new AttachmentError('invalid-args', 'nobody else is in this group');
    // An older build would refuse an event or message whose text is empty: every recipient must take files.
    const unable = peers.filter((p) => !this.peerTakesFiles(p));
    if (unable.length > 0) {
      throw new AttachmentError(
        'unavailable',
        conv.kind === 'direct'
          ? "this contact's Parley cannot receive files (or has not been online since this one started keeping track)"
          : `${unable.length} member(s) of this group use a Parley that cannot receive files (or have not been online since this one started keeping track)`,
      );
    }
    let thumbnail: Uint8Array | null = null;
    if (args.thumbnail !== undefined) {
      try {
        thumbnail = parseThumbnail(args.thumbnail);
      } catch (err) {
        if (err instanceof ThumbnailError) throw new AttachmentError('invalid-args', `sendFile: ${err.message}`);
        throw err;
      }
    }
    const upload = await this.media.uploaded(args.upload);
    if (!upload) throw new AttachmentError('not-found', 'no such upload');
    if (this.#store.attachments.bySource(upload.file)) throw new AttachmentError('invalid-args', 'this upload was sent already');
    let chunkSize = FILE_LIMITS.defaultChunkBytes;
    while (chunkCount(upload.meta.size, chunkSize) > OFFER_MAX_CHUNKS && chunkSize < FILE_LIMITS.maxChunkBytes) chunkSize *= 2;
    if (chunkCount(upload.meta.size, chunkSize) > OFFER_MAX_CHUNKS) throw new AttachmentError('invalid-args', 'the file is too large to send');
    // The name is display text for the receiver, who makes it safe again; a separator would only get it refused.
    const name = upload.meta.name.replace(/[/\\]/g, '_');
    let offer: { transferId: string; manifest: FileManifest };
    try {
      offer = await this.files.offer(conv.kind === 'direct' ? peers[0]! : peers, upload.file, { chunkSize, name });
    } catch (err) {
      if (err instanceof TransferError) throw new AttachmentError('invalid-args', `sendFile: ${err.message}`);
      throw err;
    }
    const m = offer.manifest;
    const fields = {
      transferId: offer.transferId,
      convId: args.convId,
      direction: 'send' as const,
      peerId: conv.kind === 'direct' ? peers[0]! : null,
      name,
      size: m.size,
      mime: upload.meta.mime,
      kind: args.kind,
      thumbnail,
      width: args.width ?? null,
      height: args.height ?? null,
      durationMs: args.durationMs ?? null,
      manifest: encode({ chunk: m.chunkSize, hashes: m.chunkHashes, hash: m.fileHash }),
      source: upload.file,
      localPath: null,
      state: 'offered' as const,
      reason: null,
      resumable: false,
      bytesDone: 0,
      notice: null,
      recipients: conv.kind === 'direct' ? null : peers,
      donePeers: [],
      createdAt: Date.now(),
    };
    if (conv.kind === 'direct') {
      return this.#o.sendMessage(args.convId, peers[0]!, args.text ?? '', args.replyTo, (row) => {
        this.#store.attachments.insert({ messageId: row.id, ...fields });
      });
    }
    // The signed event carries the whole offer; the row here is only this node's state of it,
    // so the line is announced again once it has its attachment.
    let sent: MessageInfo;
    try {
      sent = this.#o.sendGroup(args.convId, args.text ?? '', args.replyTo, this.#wire(fields));
    } catch (err) {
      await this.files.cancel(offer.transferId).catch(() => {});
      throw err;
    }
    this.#store.attachments.insert({ messageId: sent.id, ...fields });
    const info = this.#info(sent.id);
    this.#o.emitMessage(info);
    return info;
  }

  async accept(messageId: string): Promise<MessageInfo> {
    const a = this.#need(messageId, 'receive');
    if (a.state !== 'offered') throw new AttachmentError('invalid-args', `acceptFile: the file is ${a.state}, not offered`);
    await this.#startDownload(a);
    return this.#info(messageId);
  }

  async #startDownload(a: AttachmentRow): Promise<void> {
    const m = decode(a.manifest) as StoredManifest;
    const manifest = FileManifestSchema.parse({ name: a.name, size: a.size, chunkSize: m.chunk, chunkHashes: m.hashes, fileHash: m.hash });
    const dir = this.#o.settings().downloadFolder ?? path.join(os.homedir(), 'Downloads');
    this.#change(a, { state: 'waiting', reason: null, resumable: false });
    try {
      await fsp.mkdir(dir, { recursive: true });
      await this.files.accept(a.transferId, manifest, a.peerId!, dir);
    } catch (err) {
      const code = err instanceof TransferError ? err.code : 'io';
      this.#log.info({ msg: a.messageId, code }, 'could not accept a file');
      this.#change(this.#store.attachments.get(a.messageId)!, { state: 'failed', reason: code, resumable: false });
    }
  }

  decline(messageId: string): MessageInfo {
    const a = this.#need(messageId, 'receive');
    if (a.state !== 'offered') throw new AttachmentError('invalid-args', `declineFile: the file is ${a.state}, not offered`);
    this.#change(a, { state: 'declined', reason: 'declined', notice: 'declined' });
    this.#flushNotices(a.peerId!);
    return this.#info(messageId);
  }

  async cancel(messageId: string): Promise<MessageInfo> {
    const a = this.#need(messageId);
    if (TERMINAL.has(a.state)) throw new AttachmentError('invalid-args', `cancelTransfer: the transfer is ${a.state} already`);
    // Marked first: the transfer layer's own 'canceled' event then finds it finished.
    this.#change(a, { state: 'canceled', reason: 'canceled', ...(a.peerId ? { notice: 'canceled' as const } : {}) });
    await this.files.cancel(a.transferId).catch((err: unknown) => this.#log.warn({ msg: messageId, err: (err as Error).message }, 'cancel failed'));
    if (a.peerId) this.#flushNotices(a.peerId);
    // A group offer: the members linked now hear it at once, the others when they ask for it.
    for (const p of a.recipients ?? []) {
      const link = this.#o.links.get(p);
      if (link?.isUp && link.caps.has(FILES_CAP)) link.send({ t: 'xfer', id: a.transferId, state: 'canceled' });
    }
    return this.#info(messageId);
  }

  async retry(messageId: string): Promise<MessageInfo> {
    const a = this.#need(messageId, 'receive');
    if (a.state !== 'failed' && a.state !== 'waiting') throw new AttachmentError('invalid-args', `retryTransfer: the transfer is ${a.state}`);
    if (a.reason === 'invalid-offer') throw new AttachmentError('unavailable', 'this offer cannot be received');
    if (this.files.retry(a.transferId)) this.#change(a, { state: 'waiting', reason: null, resumable: false });
    // Not resumable: the transfer layer forgot it. Accept it again from the start.
    else await this.#startDownload(a);
    return this.#info(messageId);
  }

  /** The received file's path, for the desktop shell's "show in folder". */
  localPath(messageId: string): string {
    const a = this.#need(messageId, 'receive');
    if (a.state !== 'done' || !a.localPath) throw new AttachmentError('unavailable', 'the file has not been received');
    return a.localPath;
  }

  // ---- what the UI sees ----------------------------------------------------------------

  /** The hook in MessageInfo: the attachment of a message, if it has one. */
  info(messageId: string): AttachmentInfo | undefined {
    const a = this.#store.attachments.get(messageId);
    return a ? this.#attachmentInfo(a) : undefined;
  }

  #attachmentInfo(a: AttachmentRow): AttachmentInfo {
    const bytesHere = a.direction === 'send' ? a.source !== null : a.state === 'done' && a.localPath !== null;
    return {
      transferId: a.transferId,
      name: a.name,
      size: a.size,
      mime: a.mime,
      kind: a.kind,
      ...(a.thumbnail ? { thumbnail: Buffer.from(a.thumbnail).toString('base64') } : {}),
      ...(a.width !== null ? { width: a.width } : {}),
      ...(a.height !== null ? { height: a.height } : {}),
      ...(a.durationMs !== null ? { durationMs: a.durationMs } : {}),
      transfer: this.#view(a),
      url: bytesHere ? `/media/${a.messageId}` : null,
    };
  }

  #view(a: AttachmentRow): TransferView {
    let state = a.state;
    let live: TransferInfo | undefined;
    if (state === 'waiting' || state === 'running' || (state === 'offered' && a.direction === 'send')) {
      live = this.files.list().find((t) => t.transferId === a.transferId);
      if (live && state !== 'offered') state = live.state === 'receiving' || live.state === 'sending' || live.state === 'verifying' ? 'running' : live.state === 'failed' ? 'failed' : 'waiting';
      if (live && state === 'offered' && live.state === 'sending') state = 'running';
    }
    const running = state === 'running';
    return {
      state,
      direction: a.direction,
      bytesDone: state === 'done' ? a.size : (live?.bytesDone ?? a.bytesDone),
      bytesTotal: a.size,
      bytesPerSec: running ? Math.round(live?.bytesPerSec ?? 0) : 0,
      etaMs: running ? (live?.etaMs ?? null) : null,
      ...(a.reason && (state === 'failed' || state === 'canceled' || state === 'declined') ? { reason: a.reason } : {}),
      ...(state === 'failed' ? { resumable: a.resumable } : {}),
      ...(a.recipients ? { recipients: { done: a.donePeers.length, total: a.recipients.length } } : {}),
    };
  }

  #onProgress(transferId: string): void {
    const a = this.#store.attachments.byTransferId(transferId);
    if (!a || TERMINAL.has(a.state)) return;
    if (a.state !== 'running') {
      this.#change(a, { state: 'running' });
      return;
    }
    this.#o.emitTransfer({ messageId: a.messageId, convId: a.convId, transfer: this.#view(a) });
  }

  #info(messageId: string): MessageInfo {
    const row = this.#store.getMessage(messageId);
    if (!row) throw new AttachmentError('not-found', 'no such message');
    return this.#o.toInfo(row);
  }

  /** Stores a change of state and re-announces the message (and the transfer). */
  #change(a: AttachmentRow, change: AttachmentChange): void {
    // A sent file is kept while its offer lives (and afterwards for media, which my own
    // conversation still shows); a finished document, a canceled or declined offer let it go.
    const source = a.direction === 'send' ? a.source : null;
    const release = source !== null && change.state !== undefined && TERMINAL.has(change.state) && (change.state !== 'done' || !KEEP_SENT.has(a.kind));
    const next = this.#store.attachments.update(a.messageId, release ? { ...change, source: null } : change);
    if (release) void this.media.discard(source).catch(() => {});
    if (!next) return;
    const row = this.#store.getMessage(a.messageId);
    if (row) this.#o.emitChanged(this.#o.toInfo(row));
    this.#o.emitTransfer({ messageId: a.messageId, convId: a.convId, transfer: this.#view(next) });
  }

  #need(messageId: string, direction?: 'send' | 'receive'): AttachmentRow {
    const a = this.#store.attachments.get(messageId);
    if (!a) throw new AttachmentError('not-found', 'no file in this message');
    if (direction && a.direction !== direction) throw new AttachmentError('invalid-args', direction === 'receive' ? 'this is a file I sent' : 'this is a file I received');
    return a;
  }
}
