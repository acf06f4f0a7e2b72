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
import type { AttachmentInfo, AttachmentKind, FolderRef, MessageInfo, PeerId, TransferView } from '../../contract/contract.ts';
import { TransferError } from '../files/errors.ts';
import { chunkCount, FILE_LIMITS, FileManifestSchema, type FileManifest } from '../files/manifest.ts';
import { createUniqueFolder } from '../files/publish.ts';
import { safeRelativePath } from '../files/safe-name.ts';
import { FolderTransferStore } from '../files/transfer-store.ts';
import { TransferManager, type TransferInfo, type TransferTiming } from '../files/transfers.ts';
import type { Link } from '../links/link.ts';
import type { LinkManager } from '../links/link-manager.ts';
import type { Logger } from '../log.ts';
import type { FileOfferWire, FrameOf } from '../protocol/frames.ts';
import type { CoreSettings } from '../settings.ts';
import type { AttachmentChange, AttachmentRow, FolderRow } from '../store/attachments-repo.ts';
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
  /** Part of a folder: the same descriptor on every file of it. */
  folder?: FolderRef | undefined;
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
  /** close() began: nothing new starts. */
  #closing = false;
  /** close() finished: the store may be closed any moment, transfer events are dropped. */
  #closed = false;
  /** A received folder's top folder being created: its files wait for the one mkdir. */
  readonly #creating = new Map<string, Promise<string>>();

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
    // A stream can still end after close() (the store is closed then): such a late outcome is
    // dropped here, and the transfer's own store resumes or settles it at the next start.
    this.files.on('progress', (p) => {
      if (!this.#closed) this.#onProgress(p.transferId);
    });
    this.files.on('done', (d) => {
      if (this.#closed) return;
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
      if (this.#closed) return;
      const a = this.#store.attachments.byTransferId(f.transferId);
      if (!a || TERMINAL.has(a.state)) return;
      this.#change(a, { state: 'failed', reason: f.code, resumable: f.resumable });
    });
    this.files.on('canceled', (c) => {
      if (this.#closed) return;
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
    this.#closing = true;
    // Transfers that settle while closing still update the store (it closes after this).
    await this.files.close();
    this.#closed = true;
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

  #wire(a: Pick<AttachmentRow, 'transferId' | 'name' | 'size' | 'mime' | 'kind' | 'manifest' | 'thumbnail' | 'width' | 'height' | 'durationMs' | 'folder'>): FileOfferWire {
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
      ...(a.folder ? { folder: a.folder } : {}),
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
    // A malformed folder descriptor reads as false: not a loose file in the download folder.
    const folder = f.folder === false ? null : (f.folder ?? null);
    const valid = manifest.success && chunkCount(f.size, f.chunk) <= OFFER_MAX_CHUNKS && f.folder !== false && (!folder || f.size <= folder.bytes);
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
      folder,
    });
    if (!valid) {
      this.#log.warn({ peer: from.slice(0, 7), msg: frame.id }, 'file offer with an invalid manifest');
      return;
    }
    if (folder) {
      this.#folderArrived(from, frame.id, frame.conv, folder);
      return;
    }
    if (autoAccepts(this.#o.settings().autoAccept, from, f.kind, f.size)) {
      // After the message is announced: the UI sees the offer, then its acceptance.
      setImmediate(() => {
        if (this.#closing) return;
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
    // The sender canceled a folder of its: files of it still arriving are canceled as they come.
    if (a.folder && a.direction === 'receive' && state === 'canceled') this.#putFolderFate(a, 'canceled');
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
    if (args.folder) {
      const folderId = args.folder.id;
      const over = this.#store.attachments.inFolder(conv.id, folderId).find((x) => x.direction === 'send' && (x.state === 'canceled' || x.state === 'declined'));
      if (over) throw new AttachmentError('invalid-args', `sendFile: this folder was ${over.state}`);
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
    if (args.folder && m.size > args.folder.bytes) {
      await this.files.cancel(offer.transferId).catch(() => {});
      throw new AttachmentError('invalid-args', 'sendFile: the folder is smaller than this file of it');
    }
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
      folder: args.folder ?? null,
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
    if (a.folder) await this.#acceptFolder(a, a.folder);
    else await this.#startDownload(a);
    return this.#info(messageId);
  }

  #downloadDir(): string {
    return this.#o.settings().downloadFolder ?? path.join(os.homedir(), 'Downloads');
  }

  async #startDownload(a: AttachmentRow): Promise<void> {
    const m = decode(a.manifest) as StoredManifest;
    const manifest = FileManifestSchema.parse({ name: a.name, size: a.size, chunkSize: m.chunk, chunkHashes: m.hashes, fileHash: m.hash });
    this.#change(a, { state: 'waiting', reason: null, resumable: false });
    let handedOver = false;
    try {
      const { dir, into } = await this.#target(a);
      handedOver = true;
      await this.files.accept(a.transferId, manifest, a.peerId!, dir, into === undefined ? {} : { into });
    } catch (err) {
      const code = err instanceof TransferError ? err.code : err instanceof AttachmentError ? 'folder-not-accepted' : 'io';
      this.#log.info({ msg: a.messageId, code }, 'could not accept a file');
      const now = this.#store.attachments.get(a.messageId)!;
      if (TERMINAL.has(now.state)) return;
      // Refused here, before the transfer layer saw it (a folder's name or path): the sender hears
      // it is over (the transfer layer tells it by itself what it refuses).
      const refusedHere = !handedOver && a.folder !== null;
      this.#change(now, { state: 'failed', reason: code, resumable: false, ...(refusedHere ? { notice: 'canceled' as const } : {}) });
      if (refusedHere) this.#flushNotices(a.peerId!);
    }
  }

  /**
   * Where a download goes: the download folder; for a file of a folder, the top folder made
   * for it when the folder was accepted, then the file's sub-path (both made safe: the sink
   * checks the whole relative path again, so nothing lands outside the created folder).
   */
  async #target(a: AttachmentRow): Promise<{ dir: string; into?: string }> {
    if (!a.folder) {
      const dir = this.#downloadDir();
      await fsp.mkdir(dir, { recursive: true });
      return { dir };
    }
    const sub = a.folder.path === '' ? null : safeRelativePath(a.folder.path);
    if (sub && !sub.ok) throw new TransferError('unsafe-name', `folder path refused: ${sub.reason}`, { refusal: sub.reason });
    const row = this.#store.attachments.folder(a.convId, a.peerId!, a.folder.id);
    if (!row || row.state !== 'accepted' || !row.downloadDir) throw new AttachmentError('invalid-args', 'the folder was not accepted');
    const top = await this.#folderDir(row, a.folder.name);
    return { dir: row.downloadDir, into: sub ? `${top}/${sub.segments.join('/')}` : top };
  }

  /** The folder's top folder inside the download folder: created once, by the first file that needs it. */
  #folderDir(row: FolderRow, name: string): Promise<string> {
    if (row.dirName) return Promise.resolve(row.dirName);
    const key = `${row.convId}/${row.peerId}/${row.folderId}`;
    let creating = this.#creating.get(key);
    if (!creating) {
      creating = (async () => {
        const again = this.#store.attachments.folder(row.convId, row.peerId, row.folderId);
        if (again?.dirName) return again.dirName;
        await fsp.mkdir(row.downloadDir!, { recursive: true });
        const made = await createUniqueFolder(row.downloadDir!, name);
        this.#store.attachments.putFolder({ ...row, state: again?.state ?? row.state, dirName: made.name });
        this.#log.info({ conv: row.convId, folder: row.folderId }, 'folder created for a received folder');
        return made.name;
      })().finally(() => this.#creating.delete(key));
      this.#creating.set(key, creating);
    }
    return creating;
  }

  /** The files of one folder one peer offered in one conversation (mine, if peerId is null), oldest first. */
  #folderFiles(a: AttachmentRow): AttachmentRow[] {
    return this.#store.attachments.inFolder(a.convId, a.folder!.id).filter((x) => x.direction === a.direction && x.peerId === a.peerId);
  }

  /**
   * The files the folder's first offer announced: at most its count and its bytes, oldest
   * first. A peer sending more than it announced is asked about the rest, file by file.
   */
  #withinFolder(files: readonly AttachmentRow[]): Set<string> {
    const first = files[0]?.folder;
    const ok = new Set<string>();
    if (!first) return ok;
    let bytes = 0;
    for (const f of files) {
      bytes += f.size;
      if (ok.size >= first.count || bytes > first.bytes) break;
      ok.add(f.messageId);
    }
    return ok;
  }

  /** "Accept the folder": every file of it offered so far, and those still to come. */
  async #acceptFolder(a: AttachmentRow, folder: FolderRef): Promise<void> {
    const known = this.#store.attachments.folder(a.convId, a.peerId!, folder.id);
    this.#store.attachments.putFolder({
      convId: a.convId,
      peerId: a.peerId!,
      folderId: folder.id,
      state: 'accepted',
      downloadDir: known?.downloadDir ?? this.#downloadDir(),
      dirName: known?.dirName ?? null,
      createdAt: known?.createdAt ?? Date.now(),
    });
    const files = this.#folderFiles(a);
    const within = this.#withinFolder(files);
    const todo = files.filter((f) => f.state === 'offered' && (within.has(f.messageId) || f.messageId === a.messageId));
    await Promise.all(todo.map((f) => this.#startDownload(f)));
  }

  /** A file of a folder arrived: it follows the folder's fate, or the auto-accept rules for the whole folder. */
  #folderArrived(from: PeerId, messageId: string, convId: string, folder: FolderRef): void {
    const row = this.#store.attachments.folder(convId, from, folder.id);
    const a = this.#store.attachments.get(messageId)!;
    const within = this.#withinFolder(this.#folderFiles(a)).has(messageId);
    if (row?.state === 'declined' || row?.state === 'canceled') {
      this.#store.attachments.update(messageId, { state: row.state, reason: row.state === 'declined' ? 'declined' : 'canceled', notice: row.state });
      setImmediate(() => {
        if (!this.#closing) this.#flushNotices(from);
      });
      return;
    }
    const go = row?.state === 'accepted' ? within : within && autoAccepts(this.#o.settings().autoAccept, from, 'file', folder.bytes);
    if (!go) return;
    // After the message is announced: the UI sees the offer, then its acceptance.
    setImmediate(() => {
      if (this.#closing) return;
      const now = this.#store.attachments.get(messageId);
      if (now?.state !== 'offered') return;
      const run = row?.state === 'accepted' ? this.#startDownload(now) : this.#acceptFolder(now, folder);
      run.catch((err: unknown) => this.#log.info({ msg: messageId, err: (err as Error).message }, 'auto-accept failed'));
    });
  }

  decline(messageId: string): MessageInfo {
    const a = this.#need(messageId, 'receive');
    if (a.state !== 'offered') throw new AttachmentError('invalid-args', `declineFile: the file is ${a.state}, not offered`);
    if (a.folder) {
      // The whole folder: its offered files now, and those still to come.
      this.#putFolderFate(a, 'declined');
      for (const f of this.#folderFiles(a)) if (f.state === 'offered') this.#change(f, { state: 'declined', reason: 'declined', notice: 'declined' });
    } else this.#change(a, { state: 'declined', reason: 'declined', notice: 'declined' });
    this.#flushNotices(a.peerId!);
    return this.#info(messageId);
  }

  async cancel(messageId: string): Promise<MessageInfo> {
    const a = this.#need(messageId);
    if (TERMINAL.has(a.state)) throw new AttachmentError('invalid-args', `cancelTransfer: the transfer is ${a.state} already`);
    if (a.folder) {
      // The whole folder, either side: every file of it not finished yet (and, received, those still to come).
      if (a.direction === 'receive') this.#putFolderFate(a, 'canceled');
      const others = this.#folderFiles(a).filter((f) => f.messageId !== a.messageId && !TERMINAL.has(f.state));
      await Promise.all([a, ...others].map((f) => this.#cancelOne(f)));
      return this.#info(messageId);
    }
    await this.#cancelOne(a);
    return this.#info(messageId);
  }

  #putFolderFate(a: AttachmentRow, state: 'declined' | 'canceled'): void {
    const known = this.#store.attachments.folder(a.convId, a.peerId!, a.folder!.id);
    this.#store.attachments.putFolder({
      convId: a.convId,
      peerId: a.peerId!,
      folderId: a.folder!.id,
      state,
      downloadDir: known?.downloadDir ?? null,
      dirName: known?.dirName ?? null,
      createdAt: known?.createdAt ?? Date.now(),
    });
  }

  async #cancelOne(a: AttachmentRow): Promise<void> {
    const messageId = a.messageId;
    // Marked first: the transfer layer's own 'canceled' event then finds it finished.
    this.#change(a, { state: 'canceled', reason: 'canceled', ...(a.peerId ? { notice: 'canceled' as const } : {}) });
    await this.files.cancel(a.transferId).catch((err: unknown) => this.#log.warn({ msg: messageId, err: (err as Error).message }, 'cancel failed'));
    if (a.peerId) this.#flushNotices(a.peerId);
    // A group offer: the members linked now hear it at once, the others when they ask for it.
    for (const p of a.recipients ?? []) {
      const link = this.#o.links.get(p);
      if (link?.isUp && link.caps.has(FILES_CAP)) link.send({ t: 'xfer', id: a.transferId, state: 'canceled' });
    }
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
      ...(a.folder ? { folder: a.folder } : {}),
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
