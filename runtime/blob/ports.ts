/**
 * Object storage: history segments and attachments. Keys are '/'-separated
 * relative names ("segments/42/000001.msgpack.gz"); a key that is empty,
 * absolute, has an empty, "." or ".." segment, or contains NUL, CR or LF is
 * refused with BlobError('invalid_key') by every adapter, so no key escapes a
 * directory or a bucket prefix.
 */
export type BlobErrorKind =
  /** A create-only put found the key present (GCS: 412 on ifGenerationMatch=0). */
  | 'exists'
  | 'not_found'
  | 'invalid_key'
  /** The bytes read or written do not match their checksum; retrying may help. */
  | 'corrupt'
  /** The backend could not be reached or refused for now; retrying later may help. */
  | 'unavailable';

/** A blob store failure the caller can act on; other errors are faults. */
export class BlobError extends Error {
  readonly kind: BlobErrorKind;
  constructor(kind: BlobErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlobError';
    this.kind = kind;
  }
}

export interface BlobPutOptions {
  /** Defaults to application/octet-stream. */
  contentType?: string;
  /** Create-only: refuse with BlobError('exists') when the key is present; of racing writers exactly one wins. */
  ifAbsent?: boolean;
}

/** What a completed write stored. */
export interface BlobWritten {
  /** Opaque; changes on every write of the key (GCS generation, decimal). */
  generation: string;
  size: number;
  /** Base64 of the big-endian CRC32C (Castagnoli), as GCS reports it. */
  crc32c?: string;
  /** Base64 MD5. */
  md5?: string;
}

export interface BlobInfo extends BlobWritten {
  key: string;
  contentType: string;
  /** Last write, ms since the epoch. */
  updated: number;
}

/** Bytes [start, end) of an object: `end` is exclusive, like Buffer#subarray; clamped to the object's size. */
export interface BlobRange {
  start: number;
  end: number;
}

export interface BlobListOptions {
  /** Keys containing it after the prefix are rolled up into `prefixes` (usually "/"). */
  delimiter?: string;
  /** From a previous page's nextPageToken. */
  pageToken?: string;
  /** At most this many items plus prefixes per page (capped at 1000). */
  limit?: number;
}

export interface BlobPage {
  /** In lexicographic (UTF-8 byte) order of key. */
  items: BlobInfo[];
  /** Distinct key prefixes up to and including the delimiter, in order. */
  prefixes: string[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface BlobStore {
  /** Stores `bytes` under `key` atomically: readers see the old object or the new one, never a part. */
  put(key: string, bytes: Uint8Array, options?: BlobPutOptions): Promise<BlobWritten>;
  /** Like put, for objects too large to hold in memory; GCS uploads them resumably, in chunks. */
  putStream(key: string, source: AsyncIterable<Uint8Array>, options?: BlobPutOptions): Promise<BlobWritten>;
  /** The object's bytes, or a range of them. Throws BlobError('not_found'). */
  get(key: string, options?: { range?: BlobRange }): Promise<Buffer>;
  /** Metadata, or null when absent. */
  stat(key: string): Promise<BlobInfo | null>;
  /** Objects whose key starts with `prefix` ('' for all), one page at a time. */
  list(prefix: string, options?: BlobListOptions): Promise<BlobPage>;
  /** Removes the object; absent is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
