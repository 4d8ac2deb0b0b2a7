/**
 * Picks the blob store the configuration asks for: Google Cloud Storage when
 * a bucket is set, else the filesystem under the data directory.
 */
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { BlobStore } from '../ports.js';
import { FsBlobStore } from './fs-blob-store.js';
import { GcsBlobStore } from './gcs-blob-store.js';

export async function openBlobStore(cfg: Readonly<Config>): Promise<{ blobs: BlobStore; kind: 'gcs' | 'fs'; where: string }> {
  if (cfg.gcsBucket) {
    const blobs = new GcsBlobStore({
      bucket: cfg.gcsBucket,
      prefix: cfg.gcsPrefix && !cfg.gcsPrefix.endsWith('/') ? `${cfg.gcsPrefix}/` : cfg.gcsPrefix,
      ...(cfg.gcsApiEndpoint ? { apiEndpoint: cfg.gcsApiEndpoint, credentials: 'none' as const } : {}),
    });
    return { blobs, kind: 'gcs', where: `gs://${cfg.gcsBucket}/${cfg.gcsPrefix}` };
  }
  const dir = resolve(cfg.blobDir ?? join(cfg.dataDir, 'blobs'));
  return { blobs: await FsBlobStore.open({ dir }), kind: 'fs', where: dir };
}
