// A manifest as JSON (hashes in base64), to hand to another process.
import type { FileManifest } from '../../main/core/files/manifest.ts';

export interface ManifestJson {
  name: string;
  path?: string;
  size: number;
  chunkSize: number;
  chunkHashes: string;
  fileHash: string;
}

export function manifestToJson(m: FileManifest): ManifestJson {
  return {
    name: m.name,
    ...(m.path === undefined ? {} : { path: m.path }),
    size: m.size,
    chunkSize: m.chunkSize,
    chunkHashes: Buffer.from(m.chunkHashes).toString('base64'),
    fileHash: Buffer.from(m.fileHash).toString('base64'),
  };
}

export function manifestFromJson(j: ManifestJson): FileManifest {
  return {
    name: j.name,
    ...(j.path === undefined ? {} : { path: j.path }),
    size: j.size,
    chunkSize: j.chunkSize,
    chunkHashes: new Uint8Array(Buffer.from(j.chunkHashes, 'base64')),
    fileHash: new Uint8Array(Buffer.from(j.fileHash, 'base64')),
  };
}
