/**
 * The Google Cloud Storage blob store, over @google-cloud/storage 7.x (8.x
 * needs Node 22). Object names are `prefix + key` in one bucket.
 *
 * - Credentials: Application Default Credentials (workload identity on GKE),
 *   unless `credentials: 'none'`, which needs `apiEndpoint` or
 *   STORAGE_EMULATOR_HOST (an emulator or the test fake) and makes any
 *   credential lookup throw instead of reaching a metadata server.
 * - Create-only writes send `ifGenerationMatch=0`; the 412 becomes
 *   BlobError('exists'). The client retries such a write when the network
 *   fails, so a create whose response was lost can come back as 'exists'.
 * - Objects of `resumableThreshold` bytes or more (and every putStream) go
 *   through a resumable upload in `chunkSize` PUTs; smaller ones in one
 *   multipart request. Whole downloads are checked against the object's crc32c
 *   by the client; ranged ones cannot be.
 */
import { Readable } from 'node:stream';
import { Storage, type Bucket, type File, type StorageOptions } from '@google-cloud/storage';
import type { BlobInfo, BlobListOptions, BlobPage, BlobPutOptions, BlobRange, BlobStore, BlobWritten } from '../ports.js';
import { gcsError, httpStatus } from './gcs-errors.js';
import { checkKey, checkPrefix, pageLimit } from './keys.js';

/** What the client's request interceptors return (the type is not exported by the package root). */
type Decorated = ReturnType<NonNullable<Storage['interceptors'][number]['request']>>;

/** GCS accepts chunks of whole multiples of 256 KiB, except the last. */
export const CHUNK_QUANTUM = 256 * 1024;
const DEFAULT_TYPE = 'application/octet-stream';

export interface GcsBlobStoreOptions {
  bucket: string;
  /** Prepended to every key: '' or ending in '/'. */
  prefix?: string;
  /** e.g. http://127.0.0.1:4443 for an emulator; production leaves it unset. */
  apiEndpoint?: string;
  /** 'adc' (default): Application Default Credentials. 'none': anonymous, only against an emulator. */
  credentials?: 'adc' | 'none';
  projectId?: string;
  /** Objects at least this large upload resumably (default 8 MiB). */
  resumableThreshold?: number;
  /** Bytes per resumable PUT, a multiple of 256 KiB (default 8 MiB); each chunk is buffered in memory. */
  chunkSize?: number;
  /** Client retries of idempotent requests (default: the client's, 3). */
  maxRetries?: number;
}

export class GcsBlobStore implements BlobStore {
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly threshold: number;
  private readonly chunkSize: number;

  constructor(options: GcsBlobStoreOptions) {
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) throw new RangeError('gcs prefix must be empty or end with "/"');
    checkPrefix(this.prefix);
    this.threshold = options.resumableThreshold ?? 8 * 1024 * 1024;
    this.chunkSize = options.chunkSize ?? 8 * 1024 * 1024;
    if (this.chunkSize <= 0 || this.chunkSize % CHUNK_QUANTUM !== 0) throw new RangeError(`gcs chunkSize must be a positive multiple of ${CHUNK_QUANTUM}`);
    const storage = new Storage(storageOptions(options));
    // The client's JSON and download requests share one process-wide keep-alive
    // agent, and a download that fails mid-body (e.g. a crc32c mismatch) calls
    // agent.destroy(), resetting every other request in flight. Without
    // `forever` each request uses Node's global agent (keep-alive since Node 19)
    // and the client has no agent to destroy. The client does the same on
    // Cloud Functions.
    storage.interceptors.push({
      request: (reqOpts) => Object.assign(reqOpts, { forever: false }) as unknown as Decorated,
    });
    this.bucket = storage.bucket(options.bucket);
  }

  async put(key: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<BlobWritten> {
    const file = this.file(key);
    const resumable = bytes.length >= this.threshold;
    try {
      await file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), {
        ...this.writeOptions(options),
        resumable,
        ...(resumable ? { chunkSize: this.chunkSize } : {}),
      });
    } catch (err) {
      throw gcsError(err, key);
    }
    return written(file);
  }

  async putStream(key: string, source: AsyncIterable<Uint8Array>, options: BlobPutOptions = {}): Promise<BlobWritten> {
    const file = this.file(key);
    try {
      await file.save(Readable.from(source, { objectMode: false }), { ...this.writeOptions(options), resumable: true, chunkSize: this.chunkSize });
    } catch (err) {
      throw gcsError(err, key);
    }
    return written(file);
  }

  async get(key: string, options: { range?: BlobRange } = {}): Promise<Buffer> {
    const file = this.file(key);
    const range = options.range;
    try {
      if (!range) return (await file.download({ validation: 'crc32c' }))[0];
      // HTTP ranges cannot be empty: an empty slice still answers not_found for a missing object.
      if (range.end <= range.start) {
        await file.getMetadata();
        return Buffer.alloc(0);
      }
      return (await file.download({ start: range.start, end: range.end - 1, validation: false }))[0];
    } catch (err) {
      // A range starting at or past the end is empty, as a slice would be.
      if (range && httpStatus(err) === 416) return Buffer.alloc(0);
      throw gcsError(err, key);
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const file = this.file(key);
    try {
      const [metadata] = await file.getMetadata();
      return this.info(metadata);
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw gcsError(err, key);
    }
  }

  async list(prefix: string, options: BlobListOptions = {}): Promise<BlobPage> {
    checkPrefix(prefix);
    try {
      const [files, , response] = await this.bucket.getFiles({
        prefix: this.prefix + prefix,
        autoPaginate: false,
        maxResults: pageLimit(options.limit),
        ...(options.delimiter ? { delimiter: options.delimiter } : {}),
        ...(options.pageToken ? { pageToken: options.pageToken } : {}),
      });
      const raw = (response ?? {}) as { prefixes?: string[]; nextPageToken?: string };
      return {
        items: files.map((f) => this.info(f.metadata)),
        prefixes: (raw.prefixes ?? []).map((p) => p.slice(this.prefix.length)),
        ...(raw.nextPageToken ? { nextPageToken: raw.nextPageToken } : {}),
      };
    } catch (err) {
      throw gcsError(err, prefix);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw gcsError(err, key);
    }
  }

  /** The client keeps only pooled keep-alive sockets, which close when idle. */
  async close(): Promise<void> {}

  private file(key: string): File {
    checkKey(key);
    return this.bucket.file(this.prefix + key);
  }

  private writeOptions(options: BlobPutOptions) {
    const contentType = options.contentType ?? DEFAULT_TYPE;
    return {
      // Set both: createWriteStream would otherwise guess a type from the name's extension.
      contentType,
      metadata: { contentType },
      validation: 'crc32c' as const,
      ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
    };
  }

  private info(metadata: File['metadata']): BlobInfo {
    return {
      key: metadata.name!.slice(this.prefix.length),
      contentType: metadata.contentType ?? DEFAULT_TYPE,
      updated: Date.parse(metadata.updated ?? '') || 0,
      ...writtenOf(metadata),
    };
  }
}

function written(file: File): BlobWritten {
  return writtenOf(file.metadata);
}

function writtenOf(metadata: File['metadata']): BlobWritten {
  return {
    generation: String(metadata.generation),
    size: Number(metadata.size),
    ...(metadata.crc32c ? { crc32c: metadata.crc32c } : {}),
    ...(metadata.md5Hash ? { md5: metadata.md5Hash } : {}),
  };
}

/**
 * With an apiEndpoint off googleapis.com the client skips authentication (its
 * `customEndpoint` rule, and the resumable uploader swaps in plain gaxios). For
 * 'none' we also hand it an auth client that refuses every call, so if a
 * future client version did consult credentials it fails here instead of
 * probing the metadata server or reading ADC files.
 */
function storageOptions(options: GcsBlobStoreOptions): StorageOptions {
  const out: StorageOptions = {};
  if (options.apiEndpoint) out.apiEndpoint = options.apiEndpoint;
  if (options.projectId) out.projectId = options.projectId;
  // The client reads `maxRetries: 0` as "unset" and retries 3 times; autoRetry is its off switch.
  if (options.maxRetries !== undefined) out.retryOptions = options.maxRetries > 0 ? { maxRetries: options.maxRetries } : { autoRetry: false };
  if (options.credentials === 'none') {
    if (!options.apiEndpoint && !process.env.STORAGE_EMULATOR_HOST) {
      throw new RangeError("gcs credentials 'none' needs an apiEndpoint or STORAGE_EMULATOR_HOST (an emulator)");
    }
    out.projectId ??= 'anonymous';
    out.useAuthWithCustomEndpoint = false;
    out.authClient = noCredentials as unknown as StorageOptions['authClient'];
  }
  return out;
}

const refuse = (): never => {
  throw new Error("gcs blob store: credentials 'none' but the client asked for credentials");
};
const noCredentials = {
  getAccessToken: refuse,
  getRequestHeaders: refuse,
  request: refuse,
  getProjectId: refuse,
  getClient: refuse,
  authorizeRequest: refuse,
  getCredentials: refuse,
};
