/**
 * `tertulia restore --from <dir | gs://bucket/prefix>`: rebuilds users,
 * channels, memberships and messages from history segments into the
 * configured database (DATABASE_URL, or the embedded one in --data-dir), after
 * applying migrations. Refuses a database that already holds messages unless
 * --resume says this is the same restore started again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFlags } from '../config.js';
import { FsBlobStore } from '../blob/fs-blob-store.js';
import { GcsBlobStore } from '../blob/gcs-blob-store.js';
import type { BlobStore } from '../ports.js';
import { restore, RestoreRefused, type RestoreProgress, type RestoreSummary } from '../snapshot/restore.js';
import { EMBEDDED_POOL_SIZE } from '../store/embedded.js';
import { withEmbedded } from '../store/open.js';
import { configFrom } from './config-from.js';
import { ProgressDisplay } from './progress.js';

/** Flags of this command; every other flag is a setting, as for `server`. */
const OWN_FLAGS = ['from', 'api-endpoint', 'resume', 'concurrency'];

export async function runRestore(args: string[]): Promise<number> {
  const { flags } = parseFlags(args);
  const from = flags.get('from');
  if (!from || from === 'true') return fail('usage: tertulia restore --from <dir | gs://bucket/prefix> [--resume] [--api-endpoint URL] [--concurrency N]');
  const concurrency = Number(flags.get('concurrency') ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) return fail('--concurrency must be 1..64');
  const cfg = configFrom([...flags].filter(([k]) => !OWN_FLAGS.includes(k)).map(([k, v]) => `--${k}=${v}`));

  const source = await openSource(from, flags.get('api-endpoint') ?? cfg.gcsApiEndpoint);
  if (typeof source === 'string') return fail(source);
  const display = new ProgressDisplay();
  let last: RestoreProgress | null = null;
  const run = (url: string, channels: number): Promise<RestoreSummary> =>
    restore({
      url,
      blobs: source.blobs,
      resume: flags.get('resume') === 'true',
      concurrency: channels,
      onProgress: (p) => display.update((last = p)),
    });
  let summary: RestoreSummary;
  try {
    summary = cfg.databaseUrl
      ? await run(cfg.databaseUrl, concurrency)
      : await withEmbedded(cfg.dataDir, (url) => run(url, EMBEDDED_POOL_SIZE));
  } catch (err) {
    display.finish(null);
    if (err instanceof RestoreRefused) {
      return fail(
        'the database already holds messages: restore only into an empty database.\n' +
          'If this is a restore that was interrupted, run the same command again with --resume.',
      );
    }
    throw err;
  } finally {
    await source.blobs.close();
  }
  display.finish(last);
  if (summary.channels === 0) return fail(`no history segments found in ${source.where}`);
  process.stdout.write(report(summary));
  return 0;
}

/** The store behind --from, or why it cannot be used. */
async function openSource(from: string, apiEndpoint: string | null | undefined): Promise<{ blobs: BlobStore; where: string } | string> {
  const gs = /^gs:\/\/([^/]+)\/?(.*)$/.exec(from);
  if (gs) {
    const prefix = gs[2] && !gs[2].endsWith('/') ? `${gs[2]}/` : gs[2]!;
    const blobs = new GcsBlobStore({ bucket: gs[1]!, prefix, ...(apiEndpoint ? { apiEndpoint, credentials: 'none' as const } : {}) });
    return { blobs, where: from };
  }
  const dir = path.resolve(from);
  // FsBlobStore.open creates a missing root: a mistyped path would restore nothing, quietly.
  const stat = await fs.stat(path.join(dir, 'objects')).catch(() => null);
  if (!stat?.isDirectory()) return `${dir} is not a blob store directory (it has no objects/ inside)`;
  return { blobs: await FsBlobStore.open({ dir }), where: dir };
}

function report(s: RestoreSummary): string {
  const secs = s.ms / 1000;
  const n = (x: number): string => x.toLocaleString('en-US');
  return (
    `restored ${n(s.channels)} channels from ${n(s.segments)} segments (${n(s.skipped)} already restored, skipped): ` +
    `${n(s.messages)} messages, ${n(s.amendments)} edits and deletes, ${n(s.users)} users ` +
    `in ${secs.toFixed(1)} s (${n(Math.round(s.messages / Math.max(secs, 0.001)))} messages/s)\n` +
    (s.users > 0
      ? 'note: passwords and sessions are not in history segments; restored users cannot log in until a new password is set for them.\n'
      : '')
  );
}

function fail(message: string): number {
  process.stderr.write(`tertulia restore: ${message}\n`);
  return 1;
}
