// What the transfer layer must remember across a restart: the offers this node made (so a
// receiver can resume from a sender that restarted) and the downloads it accepted (so it
// resumes them itself). Chunk progress is not here: the DownloadSink journal beside each temp
// file holds that. The interface is small so the node can keep these rows in SQLite instead;
// FolderTransferStore keeps one JSON file per transfer, replaced atomically.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PeerIdSchema, type PeerId } from '../../contract/contract.ts';
import type { Logger } from '../log.ts';
import { errnoOf } from './errors.ts';
import { fsyncDir } from './fs-safe.ts';
import type { SourceStamp } from './file-source.ts';
import { FileManifestSchema, TransferIdSchema, type FileManifest } from './manifest.ts';

export interface StoredOffer {
  transferId: string;
  /** The only peer that may fetch it (the first of `peers` for a group offer). */
  peerId: PeerId;
  /** A group offer: every member that may fetch it. */
  peers?: PeerId[];
  file: string;
  manifest: FileManifest;
  /** The file's size and modification time when it was hashed (FileSource.stamp). */
  stamp?: SourceStamp;
}

export interface StoredDownload {
  transferId: string;
  /** The sender. */
  peerId: PeerId;
  dir: string;
  manifest: FileManifest;
  into?: string;
  maxFileBytes?: number;
  keepFreeBytes?: number;
}

export interface TransferStore {
  loadOffers(): Promise<StoredOffer[]>;
  putOffer(offer: StoredOffer): Promise<void>;
  deleteOffer(transferId: string): Promise<void>;
  loadDownloads(): Promise<StoredDownload[]>;
  putDownload(download: StoredDownload): Promise<void>;
  deleteDownload(transferId: string): Promise<void>;
}

const base64 = z
  .string()
  .max(200_000)
  .transform((s) => new Uint8Array(Buffer.from(s, 'base64')));
const StoredManifest = z.object({
  name: z.string(),
  path: z.string().optional(),
  size: z.number(),
  chunkSize: z.number(),
  chunkHashes: base64,
  fileHash: base64,
});
const OfferFile = z.object({
  v: z.literal(1),
  kind: z.literal('offer'),
  transferId: TransferIdSchema,
  peerId: PeerIdSchema,
  peers: z.array(PeerIdSchema).min(1).max(1024).optional(),
  file: z.string().min(1),
  manifest: StoredManifest.pipe(FileManifestSchema),
  stamp: z.object({ size: z.number().int().min(0), mtimeMs: z.number() }).optional(),
});
const DownloadFile = z.object({
  v: z.literal(1),
  kind: z.literal('download'),
  transferId: TransferIdSchema,
  peerId: PeerIdSchema,
  dir: z.string().min(1),
  manifest: StoredManifest.pipe(FileManifestSchema),
  into: z.string().optional(),
  maxFileBytes: z.number().int().min(0).optional(),
  keepFreeBytes: z.number().int().min(0).optional(),
});

function manifestJson(m: FileManifest) {
  return {
    name: m.name,
    ...(m.path === undefined ? {} : { path: m.path }),
    size: m.size,
    chunkSize: m.chunkSize,
    chunkHashes: Buffer.from(m.chunkHashes).toString('base64'),
    fileHash: Buffer.from(m.fileHash).toString('base64'),
  };
}

export class FolderTransferStore implements TransferStore {
  readonly dir: string;
  readonly #log: Logger | undefined;

  constructor(dir: string, log?: Logger) {
    this.dir = dir;
    this.#log = log;
  }

  #path(kind: 'offer' | 'download', transferId: string): string {
    // Transfer IDs are ULIDs (checked by every caller's schema), so this stays in the folder.
    return path.join(this.dir, `${kind}-${TransferIdSchema.parse(transferId)}.json`);
  }

  async #write(file: string, value: unknown): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(value));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    await fsyncDir(this.dir);
  }

  async #remove(file: string): Promise<void> {
    try {
      await fsp.unlink(file);
      await fsyncDir(this.dir);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }

  async #load<T>(kind: 'offer' | 'download', schema: z.ZodType<T>): Promise<T[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    }
    const out: T[] = [];
    for (const name of names.sort()) {
      if (!name.startsWith(`${kind}-`) || !name.endsWith('.json')) continue;
      try {
        const parsed = schema.safeParse(JSON.parse(await fsp.readFile(path.join(this.dir, name), 'utf8')));
        if (parsed.success) out.push(parsed.data);
        else this.#log?.warn({ file: name, issue: parsed.error.issues[0]?.message }, 'ignoring an unreadable transfer record');
      } catch (err) {
        this.#log?.warn({ file: name, err: (err as Error).message }, 'ignoring an unreadable transfer record');
      }
    }
    return out;
  }

  async loadOffers(): Promise<StoredOffer[]> {
    const rows = await this.#load('offer', OfferFile);
    return rows.map((r) => ({ transferId: r.transferId, peerId: r.peerId, ...(r.peers ? { peers: r.peers } : {}), file: r.file, manifest: r.manifest, ...(r.stamp ? { stamp: r.stamp } : {}) }));
  }

  putOffer(o: StoredOffer): Promise<void> {
    return this.#write(this.#path('offer', o.transferId), {
      v: 1,
      kind: 'offer',
      transferId: o.transferId,
      peerId: o.peerId,
      ...(o.peers ? { peers: o.peers } : {}),
      file: o.file,
      manifest: manifestJson(o.manifest),
      ...(o.stamp ? { stamp: o.stamp } : {}),
    });
  }

  deleteOffer(transferId: string): Promise<void> {
    return this.#remove(this.#path('offer', transferId));
  }

  async loadDownloads(): Promise<StoredDownload[]> {
    const rows = await this.#load('download', DownloadFile);
    return rows.map((r) => ({
      transferId: r.transferId,
      peerId: r.peerId,
      dir: r.dir,
      manifest: r.manifest,
      ...(r.into === undefined ? {} : { into: r.into }),
      ...(r.maxFileBytes === undefined ? {} : { maxFileBytes: r.maxFileBytes }),
      ...(r.keepFreeBytes === undefined ? {} : { keepFreeBytes: r.keepFreeBytes }),
    }));
  }

  putDownload(d: StoredDownload): Promise<void> {
    return this.#write(this.#path('download', d.transferId), { v: 1, kind: 'download', ...d, manifest: manifestJson(d.manifest) });
  }

  deleteDownload(transferId: string): Promise<void> {
    return this.#remove(this.#path('download', transferId));
  }
}

/** Keeps nothing across a restart (tests, or a node that does not resume). */
export class MemoryTransferStore implements TransferStore {
  readonly offers = new Map<string, StoredOffer>();
  readonly downloads = new Map<string, StoredDownload>();
  async loadOffers() {
    return [...this.offers.values()];
  }
  async putOffer(o: StoredOffer) {
    this.offers.set(o.transferId, o);
  }
  async deleteOffer(id: string) {
    this.offers.delete(id);
  }
  async loadDownloads() {
    return [...this.downloads.values()];
  }
  async putDownload(d: StoredDownload) {
    this.downloads.set(d.transferId, d);
  }
  async deleteDownload(id: string) {
    this.downloads.delete(id);
  }
}
