/** Builds a pod's attachment services from its configuration. */
import type { Logger } from 'pino';
import type { UserFiles } from '../../actors/user-actor.js';
import type { Config } from '../config.js';
import type { AttachmentLog, BlobStore } from '../ports.js';
import { Downloads } from './downloads.js';
import { AttachmentSweeper } from './sweeper.js';
import { Uploads } from './uploads.js';

export interface AttachmentServices {
  /** What user actors call for upload, chunk, finish and download. */
  files: UserFiles;
  uploads: Uploads;
  sweeper: AttachmentSweeper;
  /** Starts periodic cleanup. */
  start(): void;
  /** Drops uploads in progress and stops cleanup. */
  stop(): Promise<void>;
}

export function openAttachments(cfg: Readonly<Config>, log: AttachmentLog, blobs: BlobStore, logger: Logger): AttachmentServices {
  const uploads = new Uploads(
    log,
    blobs,
    {
      maxBytes: cfg.maxAttachmentBytes,
      chunkBytes: cfg.chunkBytes,
      idleMs: cfg.uploadIdleMs,
      maxAgeMs: cfg.attachmentGraceMs,
      perUser: cfg.uploadsPerUser,
      perPod: cfg.uploadsPerPod,
    },
    logger.child({ component: 'uploads' }),
  );
  const downloads = new Downloads(log, blobs, cfg.chunkBytes);
  const sweeper = new AttachmentSweeper(
    log,
    blobs,
    { everyMs: cfg.attachmentSweepMs, graceMs: cfg.attachmentGraceMs },
    logger.child({ component: 'attachments' }),
  );
  return {
    files: {
      upload: (user, r) => uploads.begin(user, r),
      chunk: (user, r) => uploads.chunk(user, r),
      finish: (user, r) => uploads.finish(user, r),
      download: (user, r) => downloads.read(user, r),
    },
    uploads,
    sweeper,
    start: () => sweeper.start(),
    async stop() {
      await sweeper.stop();
      await uploads.stop();
    },
  };
}
