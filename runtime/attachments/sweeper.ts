/**
 * Deletes attachments nobody can reach: uploads abandoned half way, finished
 * uploads never posted, and files whose every message was deleted, once they
 * are older than the grace period. Every pod runs one; they may race on the
 * same rows harmlessly (AttachmentLog.sweep decides each row once).
 */
import type { Logger } from 'pino';
import type { AttachmentLog, BlobStore } from '../ports.js';
import { attachmentKey } from './keys.js';

export interface SweeperOptions {
  everyMs: number;
  graceMs: number;
  /** Rows looked at per query. */
  batch?: number;
}

export class AttachmentSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly log: Pick<AttachmentLog, 'sweepable' | 'sweep'>,
    private readonly blobs: BlobStore,
    private readonly opts: SweeperOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.opts.everyMs <= 0 || this.timer) return;
    // Jittered, so the pods of a cluster do not all sweep at once.
    const next = () => {
      this.timer = setTimeout(() => {
        void this.sweepOnce().finally(next);
      }, Math.floor(this.opts.everyMs * (0.75 + Math.random() * 0.5)));
      this.timer.unref();
    };
    next();
  }

  /** One pass; resolves with the number of attachments deleted. */
  sweepOnce(now = Date.now()): Promise<number> {
    return (this.running ??= this.pass(now).finally(() => (this.running = null)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private async pass(now: number): Promise<number> {
    const before = now - this.opts.graceMs;
    const batch = this.opts.batch ?? 100;
    let deleted = 0;
    try {
      for (let round = 0; round < 100; round++) {
        const ids = await this.log.sweepable(before, batch);
        let progress = 0;
        for (const id of ids) {
          if (await this.log.sweep(id, before, () => this.blobs.delete(attachmentKey(id)))) progress++;
        }
        deleted += progress;
        if (ids.length < batch || progress === 0) break;
      }
    } catch (err) {
      this.logger.warn({ err, deleted }, 'attachment cleanup stopped early; the next pass carries on');
    }
    if (deleted > 0) this.logger.info({ deleted }, 'attachments cleaned up');
    return deleted;
  }
}
