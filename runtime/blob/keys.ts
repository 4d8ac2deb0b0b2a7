/**
 * Blob keys and listing order, shared by every adapter so that a key one
 * adapter accepts the other accepts too, and both list in the same order.
 */
import { BlobError } from '../ports.js';

/** GCS's limit on object names, in UTF-8 bytes; the filesystem adapter keeps it too. */
export const MAX_KEY_BYTES = 1024;
export const MAX_PAGE = 1000;

// CR and LF are refused by GCS; NUL ends a path in every syscall.
const FORBIDDEN = /[\0\r\n]/;

/** Throws BlobError('invalid_key') unless `key` is a relative '/'-separated name that cannot escape its root. */
export function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new BlobError('invalid_key', `invalid blob key ${JSON.stringify(key)}: ${problem}`);
}

function keyProblem(key: string): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (FORBIDDEN.test(key)) return 'contains NUL, CR or LF';
  if (key.startsWith('/')) return 'absolute';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
  }
  return null;
}

/** A listing prefix may be empty or end in '/', but must otherwise obey the key rules. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = body === '' ? 'absolute' : keyProblem(body);
  if (problem) throw new BlobError('invalid_key', `invalid blob prefix ${JSON.stringify(prefix)}: ${problem}`);
}

/**
 * Code point order, which is UTF-8 byte order: the order GCS lists in. Plain
 * `<` compares UTF-16 units and misplaces astral characters after U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (astral code point) outranks every BMP unit above it.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Caps a caller's page size into 1..MAX_PAGE. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`list limit must be a positive integer, got ${limit}`);
  return Math.min(limit, MAX_PAGE);
}
