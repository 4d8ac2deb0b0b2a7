/**
 * One upload in progress: its bytes stream into the blob store as chunks
 * arrive (so memory holds at most a chunk plus the adapter's buffer), hashed
 * on the way. The object is committed only when `finish` has checked size and
 * SHA-256; an abort makes the stream fail, so nothing is ever stored.
 *
 * Files of at most `bufferBytes` are held in memory and stored with one put
 * at finish instead: one request rather than a resumable session, and no
 * zero-length resumable upload, which GCS clients handle badly.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { Results } from '../../protocol/messages.js';
import type { BlobPutOptions, BlobStore, BlobWritten, NewUpload } from '../ports.js';

export class Upload {
  /** Bytes received so far. */
  received = 0;
  /** When the last request touched it, ms since the epoch. */
  touched = Date.now();
  readonly started = Date.now();
  /** The outcome of the first finish, shared by repeats. */
  result: Promise<Results['finish']> | undefined;
  private readonly hash: Hash = createHash('sha256');
  private readonly sink: Sink;
  /** Chunks and finish run one at a time, in arrival order. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    readonly meta: NewUpload,
    blobs: BlobStore,
    key: string,
    opts: { highWaterMark: number; bufferBytes: number },
  ) {
    const put = { contentType: meta.type, ifAbsent: true };
    this.sink = meta.size <= opts.bufferBytes ? new BufferSink(blobs, key, put) : new StreamSink(blobs, key, put, opts.highWaterMark);
  }

  /**
   * Takes the bytes at `offset`; bytes before `received` are skipped, so a
   * chunk resent after a lost reply is harmless. Resolves with `received`.
   */
  chunk(offset: number, data: Uint8Array): Promise<number> {
    return this.serial(async () => {
      this.touched = Date.now();
      if (offset > this.received) {
        throw new TertuliaError(ErrorCode.INVALID_FIELD, `offset: must be at most ${this.received} (bytes received so far)`);
      }
      const skip = this.received - offset;
      if (skip >= data.length) return this.received;
      const part = data.subarray(skip);
      if (this.received + part.length > this.meta.size) {
        throw new TertuliaError(ErrorCode.TOO_LARGE, `the upload runs past its declared size of ${this.meta.size} bytes`);
      }
      this.hash.update(part);
      this.received += part.length;
      await this.sink.write(part);
      return this.received;
    });
  }

  /** Checks size and SHA-256, then lets the blob store commit the object. */
  finish(): Promise<BlobWritten> {
    return this.serial(async () => {
      this.touched = Date.now();
      if (this.received !== this.meta.size) {
        throw new TertuliaError(ErrorCode.CHECKSUM_MISMATCH, `received ${this.received} bytes, the upload declared ${this.meta.size}`);
      }
      const digest = this.hash.digest('hex');
      if (digest !== this.meta.sha256) {
        throw new TertuliaError(ErrorCode.CHECKSUM_MISMATCH, `the bytes received have SHA-256 ${digest}, the upload declared ${this.meta.sha256}`);
      }
      return this.sink.end();
    });
  }

  /** Fails the stream so the blob store discards what it received; waits for it to let go. */
  abort(): Promise<void> {
    return this.sink.abort();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.turn.then(fn);
    this.turn = next.catch(() => {});
    return next;
  }
}

/** Where an upload's verified bytes go. */
interface Sink {
  write(part: Uint8Array): Promise<void>;
  /** Commits the object. */
  end(): Promise<BlobWritten>;
  /** Discards everything; resolves once the blob store has let go. */
  abort(): Promise<void>;
}

/** Streams into one putStream (a resumable upload on GCS) as the parts arrive. */
class StreamSink implements Sink {
  private readonly pipe: PassThrough;
  private readonly stored: Promise<BlobWritten>;
  /** Rejects when the blob store's write fails; never resolves. */
  private readonly failed: Promise<never>;

  constructor(blobs: BlobStore, key: string, put: BlobPutOptions, highWaterMark: number) {
    this.pipe = new PassThrough({ highWaterMark });
    this.stored = blobs.putStream(key, this.pipe, put);
    this.failed = this.stored.then(
      () => new Promise<never>(() => {}),
      (err: unknown) => Promise.reject(err),
    );
    this.failed.catch(() => {});
  }

  async write(part: Uint8Array): Promise<void> {
    if (!this.pipe.write(part)) await Promise.race([once(this.pipe, 'drain'), this.failed]);
  }

  end(): Promise<BlobWritten> {
    this.pipe.end();
    return this.stored;
  }

  async abort(): Promise<void> {
    this.pipe.destroy(new Error('upload aborted'));
    await this.stored.catch(() => {});
  }
}

/** Holds a small file's parts and stores them with one put. */
class BufferSink implements Sink {
  private parts: Uint8Array[] = [];

  constructor(
    private readonly blobs: BlobStore,
    private readonly key: string,
    private readonly put: BlobPutOptions,
  ) {}

  async write(part: Uint8Array): Promise<void> {
    this.parts.push(part);
  }

  end(): Promise<BlobWritten> {
    const bytes = Buffer.concat(this.parts);
    this.parts = [];
    return this.blobs.put(this.key, bytes, this.put);
  }

  async abort(): Promise<void> {
    this.parts = [];
  }
}
