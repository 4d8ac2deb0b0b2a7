/**
 * Finds every history segment in a blob store, by the key layout of
 * segment.ts: `channels/<id>/` prefixes first (one delimiter listing), then
 * each channel's `segments/` objects, page by page, in key order, which is
 * seq order.
 */
import { parseSegmentKey } from './segment.js';
import type { BlobPage, BlobStore } from '../ports.js';
import { eachLimit } from './bounded.js';

export interface SegmentObject {
  key: string;
  size: number;
  /** From the key: seq range and time of writing (ms). */
  from: number;
  to: number;
  written: number;
}

export interface ChannelSegments {
  channel: number;
  /** In key order. */
  segments: SegmentObject[];
}

const CHANNEL_PREFIX = /^channels\/(\d+)\/$/;
/** Channels listed at once: a remote store answers each listing in a round trip. */
const LIST_CONCURRENCY = 8;

/** Every channel with at least one segment, by channel id. */
export async function listSegments(blobs: BlobStore): Promise<ChannelSegments[]> {
  const prefixes = await listAll(blobs, 'channels/', true, (page) => page.prefixes);
  const channels = prefixes.flatMap((p) => {
    const m = CHANNEL_PREFIX.exec(p);
    return m ? [{ prefix: p, channel: Number(m[1]) }] : [];
  });
  const out: ChannelSegments[] = [];
  await eachLimit(channels, LIST_CONCURRENCY, async ({ prefix, channel }) => {
    const items = await listAll(blobs, `${prefix}segments/`, false, (page) => page.items);
    // Other objects under a channel are not segments.
    const segments = items.flatMap((i) => {
      const k = parseSegmentKey(i.key);
      return k && k.channel === channel ? [{ key: i.key, size: i.size, from: k.from, to: k.to, written: k.written }] : [];
    });
    if (segments.length > 0) out.push({ channel, segments });
  });
  return out.sort((a, b) => a.channel - b.channel);
}

async function listAll<T>(blobs: BlobStore, prefix: string, rollUp: boolean, pick: (page: BlobPage) => T[]): Promise<T[]> {
  const all: T[] = [];
  let pageToken: string | undefined;
  do {
    const page = await blobs.list(prefix, { ...(rollUp ? { delimiter: '/' } : {}), limit: 1000, ...(pageToken ? { pageToken } : {}) });
    all.push(...pick(page));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}
