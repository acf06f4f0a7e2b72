// Posting a file's bytes to the host before offering it: '/upload' on the page's own origin
// (web mode's HTTP server, the desktop shell's custom protocol). The host answers with the
// upload's ID, which `sendFile` then names. The answer is checked like any other input.
import { z } from 'zod';
import { CallError } from './transport.ts';

export const UPLOAD_PATH = '/upload';

const UploadAnswerSchema = z.object({ upload: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/) });

export async function postUpload(file: Blob, name: string, headers: Record<string, string>): Promise<string> {
  let res: Response;
  try {
    res = await fetch(UPLOAD_PATH, {
      method: 'POST',
      body: file,
      headers: {
        ...headers,
        // Non-ASCII names cannot go into a header as they are.
        'x-parley-name': encodeURIComponent(name),
        'content-type': file.type || 'application/octet-stream',
      },
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new CallError('unavailable', (err as Error).message);
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const message = z.object({ error: z.object({ message: z.string().max(500) }) }).safeParse(body);
    throw new CallError('unavailable', message.success ? message.data.error.message : `upload failed (${res.status})`);
  }
  const parsed = UploadAnswerSchema.safeParse(body);
  if (!parsed.success) throw new CallError('internal', 'the host gave no upload ID');
  return parsed.data.upload;
}
