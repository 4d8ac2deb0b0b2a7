/**
 * An in-process fake of the GCS JSON API: the subset @google-cloud/storage 7.x
 * uses for objects, in both URL forms the client builds:
 *   apiEndpoint = http://127.0.0.1:P   JSON at /storage/v1/b/..., uploads at /upload/storage/v1/b/...
 *   STORAGE_EMULATOR_HOST = http://127.0.0.1:P   JSON at /b/... (no /storage/v1), uploads as above
 * Listens on 127.0.0.1, port 0. Tests reach it only through the real client.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareKeys } from '../../runtime/blob/keys.js';
import { listPage } from '../../runtime/blob/listing.js';
import { FakeBucket, HttpFailure, badRequest, notFound, objectResource, preconditionsOf, type StoredObject } from './objects.js';
import { NotFoundSession, ResumableSessions, checkSentHash, parseMultipart, type UploadRecord } from './uploads.js';

/** Bodies beyond this are refused: the fake holds everything in memory. */
const MAX_BODY = 64 * 1024 * 1024;

type Route = { kind: 'upload'; bucket: string } | { kind: 'list'; bucket: string } | { kind: 'object'; bucket: string; name: string };

export class GcsFake {
  /** Every upload that committed an object, in order. */
  readonly uploads: UploadRecord[] = [];
  /** "METHOD /path" of every request, for tests that check which URL form the client used. */
  readonly requests: string[] = [];
  private readonly buckets = new Map<string, FakeBucket>();
  private readonly sessions = new ResumableSessions();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private corruptDownloads = 0;
  private failures: number[] = [];

  private constructor(bucketNames: string[]) {
    for (const name of bucketNames) this.buckets.set(name, new FakeBucket(name));
  }

  /** Starts a fake serving the given buckets; others answer 404. */
  static async start(...bucketNames: string[]): Promise<GcsFake> {
    const fake = new GcsFake(bucketNames);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', resolve);
    });
    return fake;
  }

  /** For the client's `apiEndpoint` option. */
  get apiEndpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** For STORAGE_EMULATOR_HOST: the same origin; the client then drops /storage/v1 from JSON paths. */
  get emulatorHost(): string {
    return this.apiEndpoint;
  }

  /** The next `count` full downloads get one byte flipped after the hashes were computed. */
  corruptNextDownloads(count = 1): void {
    this.corruptDownloads += count;
  }

  /** The next requests are answered with these statuses (e.g. 503) before any work is done. */
  failNext(...statuses: number[]): void {
    this.failures.push(...statuses);
  }

  /** The stored bytes of an object, bypassing the API (for assertions). */
  stored(bucket: string, name: string): Buffer | undefined {
    return this.buckets.get(bucket)?.get(name)?.data;
  }

  async close(): Promise<void> {
    // The client pools keep-alive sockets; close() alone would wait for them to idle out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBody(req);
      const injected = this.failures.shift();
      if (injected !== undefined) throw new HttpFailure(injected, 'injected failure', 'backendError');
      const url = new URL(req.url ?? '/', 'http://fake');
      this.requests.push(`${req.method} ${url.pathname}`);
      const route = parseRoute(url.pathname);
      if (!route) throw new HttpFailure(501, `fake GCS does not implement ${req.method} ${url.pathname}`, 'notImplemented');
      const bucket = this.buckets.get(route.bucket);
      if (!bucket) throw new HttpFailure(404, 'The specified bucket does not exist.', 'notFound');
      const base = `http://${req.headers.host}`;
      if (route.kind === 'upload') return this.upload(req, res, url, bucket, body, base);
      if (route.kind === 'list' && req.method === 'GET') return sendJson(res, 200, this.list(bucket, url.searchParams, base));
      if (route.kind === 'object') return this.object(req, res, url, bucket, route.name, base);
      throw new HttpFailure(501, `fake GCS does not implement ${req.method} ${url.pathname}`, 'notImplemented');
    } catch (err) {
      if (err instanceof HttpFailure) return sendText(res, err.status, err.body());
      if (err instanceof NotFoundSession) return sendText(res, 404, new HttpFailure(404, 'No such upload session', 'notFound').body());
      sendText(res, 500, new HttpFailure(500, String(err), 'internalError').body());
    }
  }

  private upload(req: http.IncomingMessage, res: http.ServerResponse, url: URL, bucket: FakeBucket, body: Buffer, base: string): void {
    const q = url.searchParams;
    const sessionId = q.get('upload_id');
    if (sessionId !== null) {
      if (req.method === 'DELETE') return void sendText(res, this.sessions.cancel(sessionId) ? 499 : 404, '');
      const outcome = this.sessions.put(sessionId, header(req, 'content-range'), body, header(req, 'x-goog-hash'));
      if (outcome.status === 308) {
        if (outcome.persisted > 0) res.setHeader('Range', `bytes=0-${outcome.persisted - 1}`);
        return void sendText(res, 308, '');
      }
      if (outcome.record) this.uploads.push(outcome.record);
      return void sendJson(res, 200, objectResource(bucket.name, outcome.object, base));
    }
    if (req.method !== 'POST') throw badRequest(`${req.method} on the upload endpoint needs an upload_id`);
    const type = q.get('uploadType');
    if (type === 'multipart') {
      const { metadata, media, mediaType } = parseMultipart(body, header(req, 'content-type'));
      const name = q.get('name') ?? (metadata['name'] as string | undefined);
      if (!name) throw badRequest('object name missing');
      checkSentHash(header(req, 'x-goog-hash'), media);
      const contentType = (metadata['contentType'] as string | undefined) ?? mediaType ?? 'application/octet-stream';
      const object = bucket.insert(name, media, contentType, preconditionsOf(q));
      this.uploads.push({ name, kind: 'multipart', requests: 1, size: media.length });
      return void sendJson(res, 200, objectResource(bucket.name, object, base));
    }
    if (type === 'resumable') {
      const metadata = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      const name = q.get('name') ?? (metadata['name'] as string | undefined);
      if (!name) throw badRequest('object name missing');
      const contentType = header(req, 'x-upload-content-type') ?? (metadata['contentType'] as string | undefined) ?? 'application/octet-stream';
      const id = this.sessions.create(bucket, name, contentType, preconditionsOf(q));
      const location = new URL(`${base}/upload/storage/v1/b/${bucket.name}/o`);
      location.search = new URLSearchParams({ uploadType: 'resumable', name, upload_id: id }).toString();
      res.setHeader('Location', location.toString());
      return void sendText(res, 200, '');
    }
    throw badRequest(`uploadType ${JSON.stringify(type)} not supported by the fake`);
  }

  private list(bucket: FakeBucket, q: URLSearchParams, base: string): Record<string, unknown> {
    const limit = Math.min(Number(q.get('maxResults') ?? 1000) || 1000, 1000);
    const names = bucket.names().sort(compareKeys);
    const page = listPage(names, {
      prefix: q.get('prefix') ?? '',
      limit,
      ...(q.get('delimiter') ? { delimiter: q.get('delimiter')! } : {}),
      ...(q.get('pageToken') ? { pageToken: q.get('pageToken')! } : {}),
    });
    return {
      kind: 'storage#objects',
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      ...(page.prefixes.length ? { prefixes: page.prefixes } : {}),
      ...(page.keys.length ? { items: page.keys.map((k) => objectResource(bucket.name, bucket.get(k)!, base)) } : {}),
    };
  }

  private object(req: http.IncomingMessage, res: http.ServerResponse, url: URL, bucket: FakeBucket, name: string, base: string): void {
    const q = url.searchParams;
    if (req.method === 'DELETE') {
      bucket.delete(name, preconditionsOf(q));
      return void sendText(res, 204, '');
    }
    if (req.method !== 'GET') throw new HttpFailure(501, `fake GCS does not implement ${req.method} on objects`, 'notImplemented');
    const object = bucket.get(name);
    const wanted = q.get('generation');
    if (!object || (wanted !== null && wanted !== object.generation.toString())) throw notFound(`${bucket.name}/${name}`);
    bucket.check(name, preconditionsOf(q));
    if (q.get('alt') === 'media') return this.download(req, res, object);
    sendJson(res, 200, objectResource(bucket.name, object, base));
  }

  private download(req: http.IncomingMessage, res: http.ServerResponse, o: StoredObject): void {
    const size = o.data.length;
    res.setHeader('Content-Type', o.contentType);
    res.setHeader('x-goog-generation', o.generation.toString());
    res.setHeader('x-goog-metageneration', String(o.metageneration));
    // The client validates a whole download against these, and only when the stored encoding is known.
    res.setHeader('x-goog-hash', `crc32c=${o.crc32c},md5=${o.md5Hash}`);
    res.setHeader('x-goog-stored-content-encoding', 'identity');
    res.setHeader('x-goog-stored-content-length', String(size));
    const range = parseRange(header(req, 'range'), size);
    if (range) {
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      return void sendBytes(res, 206, o.data.subarray(range.start, range.end + 1));
    }
    let data = o.data;
    if (this.corruptDownloads > 0 && size > 0) {
      this.corruptDownloads--;
      data = Buffer.from(data);
      data[0] = data[0]! ^ 0xff;
    }
    sendBytes(res, 200, data);
  }
}

/** Both URL forms; object names arrive percent-encoded (the client encodes '/' as %2F). */
function parseRoute(pathname: string): Route | null {
  const path = pathname.replace(/^\/storage\/v1(?=\/)/, '');
  let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(path);
  if (m) return { kind: 'upload', bucket: decodeURIComponent(m[1]!) };
  m = /^(?:\/download\/storage\/v1)?\/b\/([^/]+)\/o\/?$/.exec(path);
  if (m) return { kind: 'list', bucket: decodeURIComponent(m[1]!) };
  m = /^(?:\/download\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(path);
  if (m) return { kind: 'object', bucket: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!) };
  return null;
}

/** Inclusive byte range of a "bytes=a-b", "bytes=a-" or "bytes=-n" header; 416 when it starts past the end. */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | null {
  if (!value) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw badRequest(`unsupported Range ${value}`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) throw new HttpFailure(416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable');
  return { start, end };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpFailure(413, 'request body too large for the fake', 'uploadTooLarge');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  res.setHeader('Content-Type', 'application/json; charset=UTF-8');
  sendText(res, status, JSON.stringify(value));
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  if (text && !res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'application/json; charset=UTF-8');
  sendBytes(res, status, Buffer.from(text));
}

function sendBytes(res: http.ServerResponse, status: number, body: Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
