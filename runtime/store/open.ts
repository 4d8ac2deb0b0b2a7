/**
 * Opens the store the configuration asks for: a PostgreSQL URL, or the
 * embedded PGlite database in a directory. Used by the composition root and
 * the CLI; both get the same migrations.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { AttachmentLog, SnapshotLog, Store } from '../ports.js';
import { openEmbedded } from './embedded.js';
import { PostgresStore } from './postgres-store.js';

export type OpenStoreOptions =
  | { url: string; poolSize: number; log?: Logger }
  | { /** PGlite data directory. */ embeddedDir: string; log?: Logger };

export interface OpenedStore {
  store: Store;
  snapshots: SnapshotLog;
  attachments: AttachmentLog;
  kind: 'postgres' | 'embedded';
  /** Closes the store, then the embedded database if there is one. */
  close(): Promise<void>;
}

export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  if ('url' in options) {
    const store = await PostgresStore.open({ url: options.url, poolSize: options.poolSize });
    options.log?.info({ poolSize: options.poolSize }, 'store: postgresql');
    return { store, snapshots: store.snapshots, attachments: store.attachments, kind: 'postgres', close: () => store.close() };
  }
  const db = await openEmbedded({ dataDir: options.embeddedDir });
  let store: PostgresStore;
  try {
    store = await PostgresStore.open({ url: db.url, poolSize: db.poolSize });
  } catch (err) {
    await db.close();
    throw err;
  }
  options.log?.info({ dir: options.embeddedDir, poolSize: db.poolSize }, 'store: embedded pglite');
  return {
    store,
    snapshots: store.snapshots,
    attachments: store.attachments,
    kind: 'embedded',
    async close() {
      try {
        await store.close();
      } finally {
        await db.close();
      }
    },
  };
}

/** The embedded database's directory inside a pod's data directory. */
export function embeddedDirOf(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'pg');
}

/** Runs `fn` with the URL of the embedded database under `dataDir` (e.g. `tertulia migrate`), then closes it. */
export async function withEmbedded<T>(dataDir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const db = await openEmbedded({ dataDir: embeddedDirOf(dataDir) });
  try {
    return await fn(db.url);
  } finally {
    await db.close();
  }
}
