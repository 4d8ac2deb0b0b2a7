/**
 * Field rules: each checks one request field and returns its normalised value,
 * or `INVALID`. `expect` is the human text after "<field>: must be " in the
 * INVALID_FIELD message, so a client author sees the exact rule.
 */

/** Returned by a rule for a value it refuses. */
export const INVALID: unique symbol = Symbol('invalid');

/** One field's rule: `parse` yields the normalised value or `INVALID`. */
export interface Rule<T> {
  readonly expect: string;
  parse(value: unknown): T | typeof INVALID;
}

/** Largest integer every MessagePack client can carry exactly (2^53-1). */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Most characters (Unicode code points) in a message body. */
export const MAX_BODY_CHARS = 4000;
/** Largest `limit` of `history` (the server's default `limits.historyPage`). */
export const MAX_HISTORY_PAGE = 200;
/** `limit` of `history` when absent. */
export const DEFAULT_HISTORY_LIMIT = 50;
/** Largest `limit` of `find`. */
export const MAX_FIND_LIMIT = 100;
/** `limit` of `find` when absent. */
export const DEFAULT_FIND_LIMIT = 20;

/** An integer in [min, max]; floats, BigInt and numeric strings are refused. */
export function integer(min: number, max: number): Rule<number> {
  return {
    expect: `an integer from ${min} to ${max}`,
    parse: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : INVALID),
  };
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(...values: T[]): Rule<T> {
  return {
    expect: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
    parse: (v) => (typeof v === 'string' && (values as string[]).includes(v) ? (v as T) : INVALID),
  };
}

/** A string matching `re` (ASCII patterns: length in chars equals code points), lowercased when `lower`. */
function pattern(re: RegExp, expect: string, lower: boolean): Rule<string> {
  return {
    expect,
    parse: (v) => (typeof v === 'string' && re.test(v) ? (lower ? v.toLowerCase() : v) : INVALID),
  };
}

/** Code points in `s`, or more than `max` once that is certain; strings arrive as valid UTF-8, so surrogates are paired. */
export function codePoints(s: string, max: number): number {
  if (s.length <= max) return s.length - highSurrogates(s);
  if (s.length > 2 * max) return s.length;
  return s.length - highSurrogates(s);
}

function highSurrogates(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n++;
  }
  return n;
}

// C0, DEL and C1 controls (Unicode general category Cc).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Text of min..max code points; `forbid` rejects any match. */
function text(min: number, max: number, forbid: RegExp, expect: string): Rule<string> {
  return {
    expect,
    parse: (v) => {
      if (typeof v !== 'string' || forbid.test(v)) return INVALID;
      const n = codePoints(v, max);
      return n >= min && n <= max ? v : INVALID;
    },
  };
}

/** Request id: chosen by the client, echoed in the reply. */
export const requestId = integer(0, 0xffffffff);

/** User name: 1-32 of A-Z a-z 0-9 _ . -, first a letter or digit; lowercased. */
export const userName = pattern(
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/,
  `1-32 characters of A-Z a-z 0-9 "_" "." "-", starting with a letter or digit`,
  true,
);

/** Channel name: 1-64 of A-Z a-z 0-9 _ -, first a letter or digit; lowercased. */
export const channelName = pattern(
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  `1-64 characters of A-Z a-z 0-9 "_" "-", starting with a letter or digit`,
  true,
);

/** Name prefix for `find`: 0-64 channel-name characters; lowercased. */
export const prefix = pattern(/^[A-Za-z0-9_-]{0,64}$/, `0-64 characters of A-Z a-z 0-9 "_" "-"`, true);

/** Password: 8-256 bytes once UTF-8 encoded. */
export const password: Rule<string> = {
  expect: 'a string of 8-256 bytes in UTF-8',
  parse: (v) => {
    if (typeof v !== 'string' || v.length > 256) return INVALID;
    const n = Buffer.byteLength(v, 'utf8');
    return n >= 8 && n <= 256 ? v : INVALID;
  },
};

/** Session token: 1-128 base64url characters. */
export const token = pattern(/^[A-Za-z0-9_-]{1,128}$/, '1-128 base64url characters (A-Z a-z 0-9 "_" "-")', false);

/** Client message id: 1-64 of A-Z a-z 0-9 _ . : -, case-sensitive. */
export const cmid = pattern(/^[A-Za-z0-9_.:-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 "_" "." ":" "-"', false);

/** Channel id. */
export const channelId = integer(1, MAX_SAFE);

/** A position in a channel's sequence (0 = before the first message). */
export const seq = integer(0, MAX_SAFE);

/** The seq of an existing message. */
export const messageSeq = integer(1, MAX_SAFE);

/** Protocol version offered by the client. */
export const version = integer(0, MAX_SAFE);

/** Message body: 1-4000 code points, no NUL. */
export const body = text(1, MAX_BODY_CHARS, /\u0000/, `1-${MAX_BODY_CHARS} characters without NUL`);

/** Channel topic: 0-200 code points, no control characters. */
export const topic = text(0, 200, CONTROL, '0-200 characters without control characters');

/** Client software description: 0-64 code points, no control characters. */
export const client = text(0, 64, CONTROL, '0-64 characters without control characters');

/** Most attachments on one message. */
export const MAX_ATTACHMENTS = 10;
/** Largest `data` of a `chunk` any server accepts; a server's own limit (`limits.chunkBytes`) may be lower. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/** Message body that may be empty (for a message that carries attachments): 0-4000 code points, no NUL. */
export const bodyOrEmpty = text(0, MAX_BODY_CHARS, /\u0000/, `0-${MAX_BODY_CHARS} characters without NUL`);

/** Attachment or upload id: exactly 22 base64url characters (128 random bits). */
export const attachmentId = pattern(/^[A-Za-z0-9_-]{22}$/, '22 base64url characters (A-Z a-z 0-9 "_" "-")', false);

/** File name: 1-255 code points, not "." or "..", without "/", "\" or control characters. */
export const fileName: Rule<string> = {
  expect: '1-255 characters without "/", "\\" or control characters, not "." or ".."',
  parse: (v) => {
    const r = text(1, 255, /[/\\\u0000-\u001f\u007f-\u009f]/, '').parse(v);
    return r === '.' || r === '..' ? INVALID : r;
  },
};

/** Content type "type/subtype" (RFC 6838 names, no parameters), at most 255 characters; lowercased. */
export const contentType = pattern(
  /^(?=.{3,255}$)[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/,
  'a content type "type/subtype" of A-Z a-z 0-9 and "!#$&^_.+-", at most 255 characters',
  true,
);

/** SHA-256 as 64 hex digits; lowercased. */
export const sha256 = pattern(/^[0-9A-Fa-f]{64}$/, '64 hex digits (a SHA-256)', true);

/** A size or offset in bytes. */
export const byteCount = integer(0, MAX_SAFE);

/** Chunk data: binary of 1 to MAX_CHUNK_BYTES bytes. */
export const chunkData: Rule<Uint8Array> = {
  expect: `binary of 1-${MAX_CHUNK_BYTES} bytes`,
  parse: (v) => (v instanceof Uint8Array && v.length >= 1 && v.length <= MAX_CHUNK_BYTES ? v : INVALID),
};

/** Attachments of a message: 1-10 distinct attachment ids. */
export const attachmentIds: Rule<string[]> = {
  expect: `an array of 1-${MAX_ATTACHMENTS} distinct attachment ids (22 base64url characters each)`,
  parse: (v) => {
    if (!Array.isArray(v) || v.length < 1 || v.length > MAX_ATTACHMENTS) return INVALID;
    const out: string[] = [];
    for (const item of v) {
      const id = attachmentId.parse(item);
      if (id === INVALID || out.includes(id)) return INVALID;
      out.push(id);
    }
    return out;
  },
};
