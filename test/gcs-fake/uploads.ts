/**
 * Uploads as the real client sends them: one multipart/related POST, or a
 * resumable session (POST for a session URI, then PUTs with Content-Range,
 * answered 308 with the persisted Range until the last byte arrives).
 */
import { randomUUID } from 'node:crypto';
import { crc32cBase64 } from '../../runtime/blob/crc32c.js';
import { badRequest, type FakeBucket, type Preconditions, type StoredObject } from './objects.js';

/** GCS persists non-final chunks in whole multiples of 256 KiB and says so in the 308's Range. */
export const CHUNK_QUANTUM = 256 * 1024;

/** One finished upload, for tests that check which path an object took. */
export interface UploadRecord {
  name: string;
  kind: 'multipart' | 'resumable';
  /** Requests that carried data (PUTs for resumable). */
  requests: number;
  size: number;
}

/** Splits a multipart/related body into its JSON metadata part and its media part. */
export function parseMultipart(body: Buffer, contentType: string | undefined): { metadata: Record<string, unknown>; media: Buffer; mediaType?: string } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType ?? '')?.[1];
  if (!boundary || !contentType?.startsWith('multipart/related')) throw badRequest('expected multipart/related with a boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) throw badRequest('multipart body without a closing delimiter');
    const part = body.subarray(start + 2, next); // skip the CRLF after the delimiter
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) throw badRequest('multipart part without headers');
    parts.push({ headers: part.subarray(0, split).toString(), body: part.subarray(split + 4) });
    at = next + 2;
  }
  if (parts.length !== 2) throw badRequest(`expected 2 multipart parts, got ${parts.length}`);
  const metadata = JSON.parse(parts[0]!.body.toString('utf8')) as Record<string, unknown>;
  const mediaType = /content-type:\s*([^\r\n]+)/i.exec(parts[1]!.headers)?.[1]?.trim();
  return { metadata, media: Buffer.from(parts[1]!.body), ...(mediaType ? { mediaType } : {}) };
}

/** Checks an `X-Goog-Hash` the client sent against the bytes received. */
export function checkSentHash(header: string | undefined, data: Buffer): void {
  const sent = /crc32c=([^,]+)/.exec(header ?? '')?.[1];
  if (sent && sent !== crc32cBase64(data)) throw badRequest('Provided CRC32C "' + sent + '" doesn\'t match calculated CRC32C');
}

interface Session {
  bucket: FakeBucket;
  name: string;
  contentType: string;
  conditions: Preconditions;
  chunks: Buffer[];
  received: number;
  requests: number;
  done?: StoredObject;
}

/** `record` only on the request that committed the object, not on a client's retry after it. */
type ChunkOutcome = { status: 308; persisted: number } | { status: 200; object: StoredObject; record?: UploadRecord };

export class ResumableSessions {
  private readonly sessions = new Map<string, Session>();

  /** Starts a session; preconditions are checked now and again when the object is committed. */
  create(bucket: FakeBucket, name: string, contentType: string, conditions: Preconditions): string {
    bucket.check(name, conditions);
    const id = randomUUID();
    this.sessions.set(id, { bucket, name, contentType, conditions, chunks: [], received: 0, requests: 0 });
    return id;
  }

  cancel(id: string): boolean {
    return this.sessions.delete(id);
  }

  /** One PUT to the session URI. */
  put(id: string, contentRange: string | undefined, body: Buffer, hashHeader: string | undefined): ChunkOutcome {
    const s = this.sessions.get(id);
    if (!s) throw new NotFoundSession();
    if (s.done) return { status: 200, object: s.done };
    const range = parseContentRange(contentRange);
    if (body.length > 0) s.requests++;
    if (range.first !== undefined) {
      if (range.first > s.received) throw badRequest(`chunk starts at ${range.first} but only ${s.received} bytes were persisted`);
      // A resend of bytes already persisted: keep only what is new.
      const fresh = body.subarray(s.received - range.first);
      if (fresh.length) s.chunks.push(Buffer.from(fresh));
      s.received += fresh.length;
    }
    // "bytes A-*/*" is the client's single-request form: the body is all there is.
    const total = range.total ?? (range.openEnded ? s.received : undefined);
    if (total !== undefined && s.received > total) throw badRequest(`received ${s.received} bytes of a ${total}-byte object`);
    if (total === undefined || s.received < total) {
      this.persistWholeQuanta(s);
      return { status: 308, persisted: s.received };
    }
    const data = Buffer.concat(s.chunks);
    checkSentHash(hashHeader, data);
    try {
      s.done = s.bucket.insert(s.name, data, s.contentType, s.conditions);
    } finally {
      if (!s.done) this.sessions.delete(id);
    }
    s.chunks = [];
    return { status: 200, object: s.done, record: { name: s.name, kind: 'resumable', requests: s.requests, size: s.received } };
  }

  private persistWholeQuanta(s: Session): void {
    const keep = Math.floor(s.received / CHUNK_QUANTUM) * CHUNK_QUANTUM;
    if (keep === s.received) return;
    s.chunks = [Buffer.concat(s.chunks).subarray(0, keep)];
    s.received = keep;
  }
}

export class NotFoundSession extends Error {}

/** "bytes A-B/T", "bytes A-* /T" or "bytes * /T", where T may be "*". */
function parseContentRange(header: string | undefined): { first?: number; openEnded: boolean; total?: number } {
  const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) throw badRequest(`unsupported Content-Range ${JSON.stringify(header)}`);
  return {
    ...(m[1] !== undefined ? { first: Number(m[1]) } : {}),
    openEnded: m[2] === '*',
    ...(m[3] !== '*' ? { total: Number(m[3]) } : {}),
  };
}
