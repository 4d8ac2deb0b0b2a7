/** Protocol-level upload and download for tests: the ops themselves, not the client library's helpers. */
import { createHash } from 'node:crypto';
import { newCmid, type TertuliaClient } from '../../protocol/client/index.js';
import type { AttachmentView } from '../../protocol/messages.js';

export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Begins an upload of `bytes` (declaring `declared` as its checksum) and sends every chunk; returns the upload id. */
export async function sendChunks(c: TertuliaClient, bytes: Buffer, name: string, declared = sha256Hex(bytes)): Promise<string> {
  const { upload, chunkBytes } = await c.request('upload', { name, type: 'application/octet-stream', size: bytes.length, sha256: declared });
  for (let off = 0; off < bytes.length; off += chunkBytes) {
    const r = await c.request('chunk', { upload, offset: off, data: bytes.subarray(off, off + chunkBytes) });
    if (r.received !== Math.min(off + chunkBytes, bytes.length)) throw new Error(`received ${r.received} after offset ${off}`);
  }
  return upload;
}

/** Uploads and finishes. */
export async function uploadBytes(c: TertuliaClient, bytes: Buffer, name = 'file.bin'): Promise<AttachmentView> {
  const upload = await sendChunks(c, bytes, name);
  return (await c.request('finish', { upload })).attachment;
}

/** Reads a whole attachment with `download`, chunk by chunk. */
export async function downloadBytes(c: TertuliaClient, id: string): Promise<{ attachment: AttachmentView; data: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  let offset = 0;
  for (let chunks = 1; ; chunks++) {
    const r = await c.request('download', { attachment: id, offset });
    if (r.offset !== offset) throw new Error(`asked for ${offset}, got ${r.offset}`);
    parts.push(Buffer.from(r.data));
    offset += r.data.length;
    if (r.eof) return { attachment: r.attachment, data: Buffer.concat(parts), chunks };
    if (r.data.length === 0) throw new Error('empty chunk before eof');
  }
}

/** Sends a message carrying attachments, with the `send` op itself. */
export function post(c: TertuliaClient, channel: number, body: string, attachments: string[]): Promise<{ seq: number; ts: number }> {
  return c.request('send', { channel, cmid: newCmid(), body, attachments });
}
