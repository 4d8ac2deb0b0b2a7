/**
 * File attachments on top of the request path: uploads (`upload`, `chunk`,
 * `finish`) and downloads (`download`), from memory or streamed from and to
 * disk, each verified end to end with SHA-256. TertuliaClient exposes them as
 * methods; this file holds the work so the client stays a list of ops.
 *
 * Retries: `chunk` and `download` are safe to resend (a chunk at an offset the
 * server already has is skipped), so they retry after a lost connection and
 * retryable errors. `upload` retries too: a reply lost on the way leaves an
 * unused upload on the server, which it discards after its idle timeout. So
 * does `finish`: should the first try have been stored, the retry finds no
 * upload (NO_SUCH_UPLOAD). NO_SUCH_UPLOAD on `chunk` or `finish` (the upload
 * expired, or the client reconnected to another server) restarts the whole
 * upload once; at worst the file is then stored twice, and the copy no message
 * uses is deleted by the server after its grace period.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { ErrorCode, TertuliaError } from '../errors.js';
import * as F from '../fields.js';
import type { AttachmentView, Limits, Op, Requests, Results } from '../messages.js';
import type { RequestOptions } from './types.js';

/** What the attachment functions need of a client: its request path and the server's limits. */
export interface AttachmentTransport {
  request<K extends Op>(op: K, args: Requests[K], options?: RequestOptions): Promise<Results[K]>;
  readonly limits: Limits | null;
}

/** Progress of a transfer: bytes done so far out of `total`. */
export type ProgressListener = (done: number, total: number) => void;

/** Options of an upload. */
export interface UploadOptions {
  /** Deadline of each request of the transfer in ms, instead of requestTimeoutMs. */
  timeoutMs?: number;
  /**
   * Called with (0, total) first, then after every chunk the server
   * acknowledged; starts again from 0 should the upload be restarted.
   */
  onProgress?: ProgressListener;
}

/** Options of uploadFile: the upload's, plus the name and content type to store. */
export interface UploadFileOptions extends UploadOptions {
  /** File name to store (default: the path's last component). */
  name?: string;
  /** Content type (default: guessed from the name's extension, else application/octet-stream). */
  type?: string;
}

/** Name and content type of an upload from memory. */
export interface UploadMeta {
  name: string;
  /** Default application/octet-stream. */
  type?: string;
}

/** Options of a download. */
export interface DownloadOptions {
  /** Deadline of each request of the transfer in ms, instead of requestTimeoutMs. */
  timeoutMs?: number;
  /** Called after every chunk received. */
  onProgress?: ProgressListener;
}

/** Content type of files without a known extension. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

const TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.mp4': 'video/mp4',
  '.mp3': 'audio/mpeg',
  '.json': 'application/json',
  '.zip': 'application/zip',
};

/** Content type for a file name, from its extension (a handful of common ones), else application/octet-stream. */
export function guessContentType(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}

// Room in a frame for everything of a `chunk` request but its data.
const CHUNK_FRAME_OVERHEAD = 256;
// Chunk size when the server's limits are not known yet (its default).
const FALLBACK_CHUNK_BYTES = 256 * 1024;
// Read size of the hashing pass over a file.
const HASH_READ_BYTES = 1024 * 1024;

/** Bytes to upload: their size, their SHA-256 and a way to read a range of them. */
interface Source {
  readonly size: number;
  readonly sha256: string;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Uploads bytes held in memory; resolves with the stored attachment. */
export async function uploadBytes(
  t: AttachmentTransport,
  bytes: Uint8Array,
  meta: UploadMeta,
  opts: UploadOptions = {},
): Promise<AttachmentView> {
  const type = meta.type ?? DEFAULT_CONTENT_TYPE;
  checkUpload(t, meta.name, type, bytes.length);
  const source: Source = {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
  return uploadSource(t, source, meta.name, type, opts);
}

/**
 * Uploads a file streamed from disk: one pass computes its SHA-256, a second
 * sends it chunk by chunk, so the file is never wholly in memory. A file that
 * changes in between fails with CHECKSUM_MISMATCH.
 */
export async function uploadFile(t: AttachmentTransport, path: string, opts: UploadFileOptions = {}): Promise<AttachmentView> {
  const name = opts.name ?? basename(path);
  const type = opts.type ?? guessContentType(name);
  const file = await open(path, 'r');
  try {
    checkUpload(t, name, type, (await file.stat()).size);
    const { size, sha256 } = await hashFile(file);
    checkUpload(t, name, type, size);
    const source: Source = {
      size,
      sha256,
      read: async (offset, length) => {
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await file.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) throw new TertuliaError(ErrorCode.CHECKSUM_MISMATCH, `${path}: the file shrank while uploading`);
          got += bytesRead;
        }
        return buf;
      },
    };
    return await uploadSource(t, source, name, type, opts);
  } finally {
    await file.close();
  }
}

/** Downloads an attachment into memory, verifying its size and SHA-256. */
export async function downloadBytes(
  t: AttachmentTransport,
  id: string,
  opts: DownloadOptions = {},
): Promise<{ attachment: AttachmentView; data: Buffer }> {
  const parts: Uint8Array[] = [];
  const attachment = await downloadChunks(t, id, async (data) => {
    parts.push(data);
  }, opts);
  return { attachment, data: Buffer.concat(parts) };
}

/**
 * Downloads an attachment to `path`: written to `path + '.part'`, verified,
 * then renamed to `path` (replacing a file there). On failure the `.part` file
 * is removed and nothing is left at `path`.
 */
export async function downloadToFile(
  t: AttachmentTransport,
  id: string,
  path: string,
  opts: DownloadOptions = {},
): Promise<AttachmentView> {
  const part = `${path}.part`;
  const file = await open(part, 'w');
  let attachment: AttachmentView;
  try {
    attachment = await downloadChunks(t, id, async (data) => {
      await writeAll(file, data);
    }, opts);
    await file.sync();
  } catch (err) {
    await file.close().catch(() => {});
    await rm(part, { force: true }).catch(() => {});
    throw err;
  }
  await file.close();
  await rename(part, path);
  return attachment;
}

/** The description of an attachment (its first byte is read to learn it). */
export async function attachmentInfo(t: AttachmentTransport, id: string, opts: { timeoutMs?: number } = {}): Promise<AttachmentView> {
  const r = await t.request('download', { attachment: id, offset: 0, length: 1 }, { ...timeout(opts), retry: true });
  return r.attachment;
}

/** Refuses locally what the server would refuse after the whole file was read. */
function checkUpload(t: AttachmentTransport, name: string, type: string, size: number): void {
  for (const [field, rule, value] of [
    ['name', F.fileName, name],
    ['type', F.contentType, type],
  ] as const) {
    if (rule.parse(value) === F.INVALID) throw new TertuliaError(ErrorCode.INVALID_FIELD, `${field}: must be ${rule.expect}`);
  }
  const max = t.limits?.maxAttachmentBytes;
  if (max !== undefined && size > max) {
    throw new TertuliaError(ErrorCode.TOO_LARGE, `size: ${size} bytes is more than the server's limit of ${max}`);
  }
}

/** Runs an upload, restarting it once from the beginning when the server lost it (NO_SUCH_UPLOAD). */
async function uploadSource(
  t: AttachmentTransport,
  source: Source,
  name: string,
  type: string,
  opts: UploadOptions,
): Promise<AttachmentView> {
  try {
    return await uploadOnce(t, source, name, type, opts);
  } catch (err) {
    if (!(err instanceof TertuliaError) || err.code !== ErrorCode.NO_SUCH_UPLOAD) throw err;
    return uploadOnce(t, source, name, type, opts);
  }
}

async function uploadOnce(
  t: AttachmentTransport,
  source: Source,
  name: string,
  type: string,
  opts: UploadOptions,
): Promise<AttachmentView> {
  const { size, sha256 } = source;
  const retrying = { ...timeout(opts), retry: true };
  const started = await t.request('upload', { name, type, size, sha256 }, retrying);
  const step = chunkSize(started.chunkBytes, t.limits);
  opts.onProgress?.(0, size);
  let offset = 0;
  while (offset < size) {
    const data = await source.read(offset, Math.min(step, size - offset));
    const { received } = await t.request('chunk', { upload: started.upload, offset, data }, retrying);
    if (received <= offset || received > size) {
      throw new TertuliaError(ErrorCode.INTERNAL, `chunk: the server reports ${received} bytes received after offset ${offset} of ${size}`);
    }
    offset = received;
    opts.onProgress?.(offset, size);
  }
  const { attachment } = await t.request('finish', { upload: started.upload }, retrying);
  return attachment;
}

/** The largest chunk the server takes: its reply's and its limits' chunkBytes, and what fits in a frame. */
function chunkSize(offered: number, limits: Limits | null): number {
  let n = Math.min(offered, F.MAX_CHUNK_BYTES);
  if (limits) n = Math.min(n, limits.chunkBytes, limits.maxFrameBytes - CHUNK_FRAME_OVERHEAD);
  if (!(n >= 1)) throw new TertuliaError(ErrorCode.INTERNAL, `upload: the server offers chunks of ${offered} bytes`);
  return n;
}

/** Reads an attachment from the start, handing each chunk to `sink` in order; verifies size and SHA-256 at the end. */
async function downloadChunks(
  t: AttachmentTransport,
  id: string,
  sink: (data: Uint8Array) => Promise<void>,
  opts: DownloadOptions,
): Promise<AttachmentView> {
  const length = Math.min(t.limits?.chunkBytes ?? FALLBACK_CHUNK_BYTES, F.MAX_CHUNK_BYTES);
  const retrying = { ...timeout(opts), retry: true };
  const hash = createHash('sha256');
  let attachment: AttachmentView | undefined;
  let offset = 0;
  for (;;) {
    const r = await t.request('download', { attachment: id, offset, length }, retrying);
    attachment ??= r.attachment;
    if (r.offset !== offset || offset + r.data.length > attachment.size || (r.data.length === 0 && !r.eof)) {
      throw new TertuliaError(
        ErrorCode.INTERNAL,
        `download: asked for offset ${offset}, got ${r.data.length} bytes at ${r.offset} of ${attachment.size} (eof: ${r.eof})`,
      );
    }
    hash.update(r.data);
    await sink(r.data);
    offset += r.data.length;
    opts.onProgress?.(offset, attachment.size);
    if (r.eof) break;
  }
  verify(attachment, offset, hash);
  return attachment;
}

function verify(a: AttachmentView, size: number, hash: Hash): void {
  if (size !== a.size) {
    throw new TertuliaError(ErrorCode.CHECKSUM_MISMATCH, `${a.id}: received ${size} bytes, expected ${a.size}`);
  }
  const digest = hash.digest('hex');
  if (digest !== a.sha256) {
    throw new TertuliaError(ErrorCode.CHECKSUM_MISMATCH, `${a.id}: SHA-256 of the received bytes is ${digest}, expected ${a.sha256}`);
  }
}

/** Size and SHA-256 of a whole file, read in pieces. */
async function hashFile(file: FileHandle): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
  let size = 0;
  for (;;) {
    const { bytesRead } = await file.read(buf, 0, buf.length, size);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { size, sha256: hash.digest('hex') };
}

async function writeAll(file: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

function timeout(opts: { timeoutMs?: number }): RequestOptions {
  return opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
}
