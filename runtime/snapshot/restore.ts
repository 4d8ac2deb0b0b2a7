/**
 * Restore after disaster: rebuilds users, channels, memberships and messages
 * of an empty (migrated) database from the history segments in a blob store.
 *
 * Channels are restored in parallel, each channel's segments in key order
 * (fetched and decoded a few ahead of the one being applied). Every segment is
 * applied and recorded in `snapshots` in one transaction, and segments already
 * recorded there are skipped, so a run that was interrupted simply starts
 * again, and a run after a complete one changes nothing.
 */
import type { BlobStore } from '../ports.js';
import { openMigratedOrm, type Orm } from '../store/orm.js';
import { RestoreSql } from '../store/restore-sql.js';
import { eachLimit, readAhead } from './bounded.js';
import { decodeSegment, type Segment } from './segment.js';
import { listSegments, type ChannelSegments, type SegmentObject } from './segment-listing.js';

export interface RestoreOptions {
  /** An open ORM on the target database (left open), or its URL (opened, migrated and closed here). */
  orm?: Orm;
  url?: string;
  blobs: BlobStore;
  /** Carry on in a database that already has messages (an interrupted restore). Default false. */
  resume?: boolean;
  /** Channels restored at once, each on its own connection (default 4; 1 for the embedded database). */
  concurrency?: number;
  /** Segments of a channel fetched and decoded ahead of the one being applied (default 4). */
  readAhead?: number;
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  /** 'listing' until every segment key is known, then 'restoring'. */
  phase: 'listing' | 'restoring';
  channels: number;
  channelsDone: number;
  /** Segments found, including those skipped. */
  segments: number;
  /** Segments applied or skipped so far. */
  segmentsDone: number;
  /** Messages inserted so far. */
  messages: number;
  /** Since the start of the run. */
  ms: number;
}

export interface RestoreSummary {
  /** Channels found in the store. */
  channels: number;
  /** Segments applied by this run. */
  segments: number;
  /** Messages inserted by this run (a message in two overlapping segments counts once). */
  messages: number;
  /** Amendments (edits, deletes) read from the segments applied. */
  amendments: number;
  /** Placeholder users created. */
  users: number;
  /** Segments skipped because an earlier run had recorded them. */
  skipped: number;
  ms: number;
}

/** The database already holds messages and `resume` was not given. */
export class RestoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefused';
  }
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_READ_AHEAD = 4;

export async function restore(options: RestoreOptions): Promise<RestoreSummary> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (options.orm) return restoreInto(options.orm, options);
  if (!options.url) throw new TypeError('restore needs an orm or a url');
  const orm = await openMigratedOrm({ url: options.url, poolSize: concurrency });
  try {
    return await restoreInto(orm, options);
  } finally {
    await orm.close(true);
  }
}

async function restoreInto(orm: Orm, options: RestoreOptions): Promise<RestoreSummary> {
  const started = performance.now();
  const sql = new RestoreSql(orm);
  if (!options.resume && (await sql.hasMessages())) {
    throw new RestoreRefused('the database already holds messages: restore only into an empty database, or pass resume to finish an interrupted restore');
  }
  const summary: RestoreSummary = { channels: 0, segments: 0, messages: 0, amendments: 0, users: 0, skipped: 0, ms: 0 };
  const progress: RestoreProgress = { phase: 'listing', channels: 0, channelsDone: 0, segments: 0, segmentsDone: 0, messages: 0, ms: 0 };
  const report = (): void => {
    progress.ms = performance.now() - started;
    options.onProgress?.({ ...progress });
  };
  report();

  const [found, applied] = await Promise.all([listSegments(options.blobs), sql.applied()]);
  summary.channels = progress.channels = found.length;
  progress.segments = found.reduce((n, c) => n + c.segments.length, 0);
  progress.phase = 'restoring';
  report();

  // Set on the first failure, so that channels in progress stop at their next segment too.
  let stopping = false;
  const restoreOne = async ({ channel, segments }: ChannelSegments): Promise<void> => {
    const todo = segments.filter((s) => !applied({ channel, ...s }));
    summary.skipped += segments.length - todo.length;
    progress.segmentsDone += segments.length - todo.length;
    const fetch = async (o: SegmentObject): Promise<{ key: string; segment: Segment; bytes: number }> => {
      const bytes = await options.blobs.get(o.key);
      const segment = await decodeSegment(bytes).catch((err: unknown) => {
        throw new Error(`segment ${o.key}: ${(err as Error).message}`, { cause: err });
      });
      if (segment.channel.id !== channel) throw new Error(`segment ${o.key} holds channel ${segment.channel.id}, not ${channel}`);
      return { key: o.key, segment, bytes: bytes.length };
    };
    for await (const { key, segment, bytes } of readAhead(todo, options.readAhead ?? DEFAULT_READ_AHEAD, fetch)) {
      if (stopping) return;
      const done = await sql.apply(key, segment, bytes);
      summary.segments++;
      summary.messages += done.inserted;
      summary.amendments += segment.amendments.length;
      summary.users += done.users;
      progress.segmentsDone++;
      progress.messages += done.inserted;
      report();
    }
    progress.channelsDone++;
    report();
  };
  const restoreChannel = (c: ChannelSegments): Promise<void> =>
    restoreOne(c).catch((err: unknown) => {
      stopping = true;
      throw err;
    });
  let failure: { error: unknown } | null = null;
  try {
    await eachLimit(found, options.concurrency ?? DEFAULT_CONCURRENCY, restoreChannel);
  } catch (error) {
    failure = { error };
  }
  // Also after a failure: the ids restored so far must not be handed out again.
  await sql.advanceIdentities().catch((error: unknown) => {
    failure ??= { error };
  });
  if (failure) throw failure.error;
  summary.ms = performance.now() - started;
  return summary;
}
