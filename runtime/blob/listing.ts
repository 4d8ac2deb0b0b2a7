/**
 * One page of a listing over a sorted set of keys, with GCS's semantics:
 * keys that contain the delimiter after the prefix roll up into one prefix
 * entry, and a page holds at most `limit` entries, items and prefixes together.
 * The filesystem adapter uses it directly; the GCS fake uses it to answer as
 * GCS does, so both sides of the contract share one definition.
 */
import { compareKeys } from './keys.js';

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  pageToken?: string;
  limit: number;
}

export interface KeyPage {
  keys: string[];
  prefixes: string[];
  nextPageToken?: string;
}

/** The token is the last entry handed out; the next page resumes strictly after it. */
export const encodePageToken = (lastEntry: string): string => Buffer.from(lastEntry, 'utf8').toString('base64url');
export const decodePageToken = (token: string): string => Buffer.from(token, 'base64url').toString('utf8');

/** `sortedKeys` must be in compareKeys order. */
export function listPage(sortedKeys: readonly string[], query: ListQuery): KeyPage {
  const { prefix, delimiter } = query;
  const after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken);
  const keys: string[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  for (const key of sortedKeys) {
    if (!key.startsWith(prefix)) {
      if (compareKeys(key, prefix) > 0) break;
      continue;
    }
    // A key's entry is the key itself or its rolled-up prefix; entries come out
    // in the same order as the keys, so "after the token" is one comparison.
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry = cut < 0 ? key : key.slice(0, cut + delimiter!.length);
    if (after !== undefined && compareKeys(entry, after) <= 0) continue;
    if (entry === last) continue;
    if (keys.length + prefixes.length === query.limit) {
      return { keys, prefixes, nextPageToken: encodePageToken(last!) };
    }
    if (cut < 0) keys.push(entry);
    else prefixes.push(entry);
    last = entry;
  }
  return { keys, prefixes };
}
