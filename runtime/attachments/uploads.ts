/**
 * The uploads in progress on this pod: begin, chunk and finish, with caps per
 * user and per pod, and expiry of uploads left idle. An upload lives on the
 * pod whose connection began it; it outlives a dropped connection until it
 * goes idle, so a client that reconnects to the same pod carries on.
 */
import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { AttachmentView, Requests, Results } from '../../protocol/messages.js';
import { BlobError, StoreError, type AttachmentLog, type BlobStore } from '../ports.js';
import { attachmentKey, newAttachmentId } from './keys.js';
import { Upload } from './upload.js';

/** Files up to this size are held in memory and stored with one put. */
const BUFFER_BYTES = 256 * 1024;

export interface UploadLimits {
  maxBytes: number;
  chunkBytes: number;
  idleMs: number;
  /** Longest an upload may take in all; older ones are dropped (cleanup may delete their rows after this). */
  maxAgeMs: number;
  perUser: number;
  perPod: number;
}

export class Uploads {
  private readonly active = new Map<string, Upload>();
  /** Recently finished uploads, to answer a repeated finish. */
  private readonly finished = new Map<string, { user: number; result: Promise<Results['finish']>; at: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Pick<AttachmentLog, 'beginUpload' | 'completeUpload' | 'dropUpload'>,
    private readonly blobs: BlobStore,
    readonly limits: UploadLimits,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.expire(), Math.max(50, Math.min(5000, Math.floor(limits.idleMs / 2))));
    this.timer.unref();
  }

  /** Uploads in progress on this pod. */
  get size(): number {
    return this.active.size;
  }

  async begin(user: number, r: Requests['upload']): Promise<Results['upload']> {
    const { limits } = this;
    if (r.size > limits.maxBytes) {
      throw new TertuliaError(ErrorCode.TOO_LARGE, `attachments are limited to ${limits.maxBytes} bytes`);
    }
    let mine = 0;
    for (const u of this.active.values()) if (u.meta.uploaderId === user) mine++;
    if (mine >= limits.perUser) throw busy(`at most ${limits.perUser} uploads in progress per user`);
    if (this.active.size >= limits.perPod) throw busy('too many uploads in progress on this server');
    const meta = { id: newAttachmentId(), uploaderId: user, name: r.name, type: r.type, size: r.size, sha256: r.sha256 };
    // The row first: cleanup finds it even if this pod dies with the bytes half stored.
    await this.log.beginUpload(meta);
    const upload = new Upload(meta, this.blobs, attachmentKey(meta.id), { highWaterMark: limits.chunkBytes, bufferBytes: BUFFER_BYTES });
    this.active.set(meta.id, upload);
    return { upload: meta.id, chunkBytes: limits.chunkBytes };
  }

  async chunk(user: number, r: Requests['chunk']): Promise<Results['chunk']> {
    if (r.data.length > this.limits.chunkBytes) {
      throw new TertuliaError(ErrorCode.INVALID_FIELD, `data: must be at most ${this.limits.chunkBytes} bytes (limits.chunkBytes)`);
    }
    const upload = this.get(user, r.upload);
    try {
      return { received: await upload.chunk(r.offset, r.data) };
    } catch (err) {
      if (err instanceof TertuliaError && err.code === ErrorCode.INVALID_FIELD) throw err;
      void this.discard(upload);
      throw storageFault(err);
    }
  }

  /**
   * Stores the upload once its bytes check out. Idempotent: a repeated finish
   * (a reply lost with the connection) gets the first one's outcome, while
   * it runs and for `idleMs` after it succeeded.
   */
  finish(user: number, r: Requests['finish']): Promise<Results['finish']> {
    const done = this.finished.get(r.upload);
    if (done && done.user === user) return done.result;
    const upload = this.get(user, r.upload);
    upload.result ??= this.complete(upload);
    return upload.result;
  }

  private async complete(upload: Upload): Promise<Results['finish']> {
    const { meta } = upload;
    try {
      await upload.finish();
    } catch (err) {
      void this.discard(upload);
      throw storageFault(err);
    }
    this.active.delete(meta.id);
    try {
      await this.log.completeUpload(meta.id);
    } catch (err) {
      // Stored but not recorded: remove the bytes rather than leave an orphan.
      await this.blobs.delete(attachmentKey(meta.id)).catch(() => {});
      if (err instanceof StoreError && err.kind === 'not_found') {
        throw new TertuliaError(ErrorCode.NO_SUCH_UPLOAD, `upload ${meta.id} expired before it finished`);
      }
      throw err;
    }
    const attachment: AttachmentView = { id: meta.id, name: meta.name, type: meta.type, size: meta.size, sha256: meta.sha256 };
    const result = { attachment };
    this.finished.set(meta.id, { user: meta.uploaderId, result: Promise.resolve(result), at: Date.now() });
    return result;
  }

  /** Drops every upload in progress (the pod is stopping). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.finished.clear();
    await Promise.all([...this.active.values()].map((u) => this.discard(u)));
  }

  private get(user: number, id: string): Upload {
    const upload = this.active.get(id);
    if (!upload || upload.meta.uploaderId !== user) {
      throw new TertuliaError(ErrorCode.NO_SUCH_UPLOAD, `no upload ${id} in progress here (unknown, finished, expired or aborted)`);
    }
    return upload;
  }

  /** Forgets the upload at once; its stream and row are cleaned up in the background. */
  private discard(upload: Upload): Promise<void> {
    if (this.active.get(upload.meta.id) !== upload) return Promise.resolve();
    this.active.delete(upload.meta.id);
    return upload
      .abort()
      .then(() => this.log.dropUpload(upload.meta.id))
      .catch((err: unknown) => this.logger.warn({ err, upload: upload.meta.id }, 'dropping an upload failed; cleanup will retry'));
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, f] of this.finished) if (now - f.at > this.limits.idleMs) this.finished.delete(id);
    for (const u of this.active.values()) {
      if (now - u.touched > this.limits.idleMs || now - u.started > this.limits.maxAgeMs) {
        this.logger.info({ upload: u.meta.id, received: u.received, size: u.meta.size }, 'upload expired');
        void this.discard(u);
      }
    }
  }
}

function busy(why: string): TertuliaError {
  return new TertuliaError(ErrorCode.BUSY, why, { retryMs: 1000 + Math.floor(Math.random() * 1000) });
}

/** Protocol errors pass; a blob store failure means the upload is lost and must start again. */
function storageFault(err: unknown): unknown {
  if (err instanceof TertuliaError) return err;
  if (err instanceof BlobError) {
    return new TertuliaError(ErrorCode.INTERNAL, `storing the upload failed (${err.kind}); upload it again`, { cause: err });
  }
  return err;
}
