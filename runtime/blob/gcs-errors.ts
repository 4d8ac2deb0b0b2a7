/**
 * Turns what @google-cloud/storage 7.x throws into BlobError. The client has
 * three error shapes: ApiError from the JSON API (numeric `code`), GaxiosError
 * from the resumable-upload path (`status`, `response.status`, string `code`
 * for socket errors), and RequestError for checksum mismatches (string `code`).
 */
import { BlobError } from '../ports.js';

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH']);
// The client deletes an upload whose server checksum differs from what it sent, then throws one of these.
const CORRUPT_CODES = new Set(['CONTENT_DOWNLOAD_MISMATCH', 'FILE_NO_UPLOAD', 'FILE_NO_UPLOAD_DELETE']);

/** The HTTP status behind a client error, if there is one. */
export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown; statusCode?: unknown } };
  for (const value of [e.code, e.status, e.response?.status, e.response?.statusCode]) {
    if (typeof value === 'number' && value >= 100) return value;
  }
  return undefined;
}

function stringCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** BlobError for what a caller can act on; anything else is returned unchanged (a fault). */
export function gcsError(err: unknown, key: string): unknown {
  if (err instanceof BlobError) return err;
  const status = httpStatus(err);
  if (status === 412) return new BlobError('exists', `blob ${key} already exists`, { cause: err });
  if (status === 404) return new BlobError('not_found', `blob ${key} not found`, { cause: err });
  if (status !== undefined && RETRYABLE_STATUS.has(status)) {
    return new BlobError('unavailable', `cloud storage answered ${status} for ${key}`, { cause: err });
  }
  const code = stringCode(err);
  if (code && CORRUPT_CODES.has(code)) return new BlobError('corrupt', `checksum mismatch on ${key} (${code})`, { cause: err });
  if (code && NETWORK_CODES.has(code)) return new BlobError('unavailable', `cloud storage unreachable for ${key} (${code})`, { cause: err });
  return err;
}
