// Files in tests: uploads through the core's media module (what both hosts call), and a
// whole-file digest to compare what arrived with what was sent.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { MessageInfo } from '../../main/contract/contract.ts';
import type { ParleyNode } from '../../main/core/node.ts';

export async function upload(n: ParleyNode, name: string, bytes: Uint8Array | string, mime = 'application/octet-stream'): Promise<string> {
  const body = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const res = await n.attachments.media.handle(
    new Request('http://parley.test/upload', { method: 'POST', body, headers: { 'x-parley-name': encodeURIComponent(name), 'content-type': mime } }),
  );
  if (!res || res.status !== 200) throw new Error(`upload refused: ${res?.status} ${await res?.text()}`);
  return ((await res.json()) as { upload: string }).upload;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The latest MessageInfo of every message a node announced, new (message) or changed (messageChanged). */
export function messages(n: ParleyNode): Map<string, MessageInfo> {
  const byId = new Map<string, MessageInfo>();
  n.api.on('message', (m) => byId.set(m.id, m));
  n.api.on('messageChanged', (m) => byId.set(m.id, m));
  return byId;
}
