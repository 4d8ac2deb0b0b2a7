/**
 * The payload codec: plain MessagePack, nothing msgpackr-specific on the wire.
 *
 * msgpackr is fast but speaks a superset: its unpacker honours record
 * definitions (0xd4/0xd5 type 0x72, which also turn later fixints 0x40-0x7f into
 * objects), bundled strings, structured-clone references, Error/RegExp/Set/Date
 * and typed-array extensions, the 0xc1 byte, and any extension another module
 * registered process-wide; it coerces non-string map keys to strings and
 * renames `__proto__` to `__proto_`. None of that can be switched off per
 * instance, so every payload is first walked by `walk` below, which admits only
 * the plain subset; msgpackr then builds the value. The same walk runs over what
 * we encode, so what we send and what we accept are one definition.
 *
 * msgpackr writes integers beyond 32 bits as float64; stock encoders write
 * uint64/int64, and typed clients (Go, Rust) refuse a float where they expect an
 * integer. Both forms take 9 bytes, so the walk rewrites them in place.
 */
import { isUtf8 } from 'node:buffer';
import { Packr, Unpackr, RESERVE_START_SPACE, type Options } from 'msgpackr';
import { FRAME_HEADER_BYTES } from './frame.js';

/** Deepest nesting of maps and arrays accepted or produced (requests need 1, replies 4). */
export const MAX_DEPTH = 32;

/** Why a payload is not one plain MessagePack value; the connection answers BAD_FRAME. */
export class DecodeError extends Error {
  /** Byte offset in the payload where the fault was found. */
  readonly offset: number;

  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DecodeError';
    this.offset = offset;
  }
}

// `skipValues` (omit undefined-valued keys) and `variableMapSize` (fixmap for
// small maps; without it msgpackr writes every map as map16) are read by
// msgpackr 2.1.4 but missing from its typings.
const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
} as Options);

// copyBuffers: a decoded `bin` must not pin the whole socket chunk it came in.
// int64AsType 'auto': uint64/int64 within ±2^53 become numbers, larger ones
// BigInt (which every field rule then refuses), never silently rounded.
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'auto' as 'bigint',
});

/** Encodes one value as a plain MessagePack payload; throws TypeError for values outside the wire subset (Date, Map with non-string keys, ...). */
export function encode(value: unknown): Buffer {
  const out = packr.pack(value);
  checkEncoded(out, 0);
  return out;
}

/** Encodes one value as a complete frame: 4-byte big-endian length, then the payload, in one buffer. */
export function encodeFrame(value: unknown): Buffer {
  // msgpackr leaves the reserved header bytes in front of the payload, so no copy.
  const out = packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  checkEncoded(out, FRAME_HEADER_BYTES);
  out.writeUInt32BE(out.length - FRAME_HEADER_BYTES, 0);
  return out;
}

/** Decodes one payload holding exactly one plain MessagePack value; throws DecodeError for anything else. */
export function decode(payload: Uint8Array): unknown {
  const end = walk(payload, 0, payload.length, 0, false);
  if (end !== payload.length) {
    throw new DecodeError(`${payload.length - end} trailing bytes after the value`, end);
  }
  try {
    return unpackr.unpack(payload);
  } catch (err) {
    // The walk admits only what msgpackr decodes plainly; this is a backstop.
    throw new DecodeError('undecodable MessagePack', 0, { cause: err });
  }
}

function checkEncoded(out: Uint8Array, start: number): void {
  try {
    walk(out, start, out.length, 0, true);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TypeError(`value is not plain MessagePack: ${why}`, { cause: err });
  }
}

/**
 * Checks the value starting at `p` and returns the offset just past it. With
 * `fix`, integral float64s are rewritten to uint64/int64 in place.
 */
function walk(b: Uint8Array, p: number, end: number, depth: number, fix: boolean): number {
  if (p >= end) throw new DecodeError('truncated value', p);
  const t = b[p++];
  if (t < 0x80 || t >= 0xe0) return p;
  if (t < 0x90) return walkMap(b, p, end, t & 0x0f, depth, fix);
  if (t < 0xa0) return walkArray(b, p, end, t & 0x0f, depth, fix);
  if (t < 0xc0) return walkStr(b, p, end, t & 0x1f);
  switch (t) {
    case 0xc0: case 0xc2: case 0xc3:
      return p;
    case 0xc4: return fixed(p + 1, uint(b, p, 1, end), end);
    case 0xc5: return fixed(p + 2, uint(b, p, 2, end), end);
    case 0xc6: return fixed(p + 4, uint(b, p, 4, end), end);
    case 0xca: return fixed(p, 4, end);
    case 0xcb:
      if (fix) integerize(b, p);
      return fixed(p, 8, end);
    case 0xcc: case 0xd0: return fixed(p, 1, end);
    case 0xcd: case 0xd1: return fixed(p, 2, end);
    case 0xce: case 0xd2: return fixed(p, 4, end);
    case 0xcf: case 0xd3: return fixed(p, 8, end);
    case 0xd9: return walkStr(b, p + 1, end, uint(b, p, 1, end));
    case 0xda: return walkStr(b, p + 2, end, uint(b, p, 2, end));
    case 0xdb: return walkStr(b, p + 4, end, uint(b, p, 4, end));
    case 0xdc: return walkArray(b, p + 2, end, uint(b, p, 2, end), depth, fix);
    case 0xdd: return walkArray(b, p + 4, end, uint(b, p, 4, end), depth, fix);
    case 0xde: return walkMap(b, p + 2, end, uint(b, p, 2, end), depth, fix);
    case 0xdf: return walkMap(b, p + 4, end, uint(b, p, 4, end), depth, fix);
    case 0xc1:
      throw new DecodeError('reserved byte 0xc1', p - 1);
    default: // 0xc7-0xc9, 0xd4-0xd8
      throw new DecodeError(`extension type 0x${t.toString(16)} is not allowed`, p - 1);
  }
}

function walkArray(b: Uint8Array, p: number, end: number, n: number, depth: number, fix: boolean): number {
  if (depth >= MAX_DEPTH) throw new DecodeError(`nested deeper than ${MAX_DEPTH}`, p);
  // Every element takes at least one byte: refuse impossible counts up front.
  if (n > end - p) throw new DecodeError(`array of ${n} cannot fit in ${end - p} bytes`, p);
  for (let i = 0; i < n; i++) p = walk(b, p, end, depth + 1, fix);
  return p;
}

function walkMap(b: Uint8Array, p: number, end: number, n: number, depth: number, fix: boolean): number {
  if (depth >= MAX_DEPTH) throw new DecodeError(`nested deeper than ${MAX_DEPTH}`, p);
  if (n * 2 > end - p) throw new DecodeError(`map of ${n} cannot fit in ${end - p} bytes`, p);
  for (let i = 0; i < n; i++) {
    p = walkKey(b, p, end);
    p = walk(b, p, end, depth + 1, fix);
  }
  return p;
}

function walkKey(b: Uint8Array, p: number, end: number): number {
  if (p >= end) throw new DecodeError('truncated map', p);
  const t = b[p];
  const head = t >= 0xa0 && t < 0xc0 ? 0 : t === 0xd9 ? 1 : t === 0xda ? 2 : t === 0xdb ? 4 : -1;
  if (head < 0) throw new DecodeError('map key is not a string', p);
  const n = head === 0 ? t & 0x1f : uint(b, p + 1, head, end);
  const start = p + 1 + head;
  const next = walkStr(b, start, end, n);
  if (n === 9 || n === 11) {
    const key = String.fromCharCode(...b.subarray(start, next));
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw new DecodeError(`map key "${key}" is not allowed`, p);
    }
  }
  return next;
}

function walkStr(b: Uint8Array, p: number, end: number, n: number): number {
  const q = fixed(p, n, end);
  if (!utf8(b, p, q)) throw new DecodeError('string is not valid UTF-8', p);
  return q;
}

function utf8(b: Uint8Array, p: number, q: number): boolean {
  // Measured: below ~256 bytes a JS scan for ASCII beats the native call (and
  // its subarray); from the first high byte on, the native check takes over.
  if (q - p > 256) return isUtf8(b.subarray(p, q));
  for (let i = p; i < q; i++) if (b[i] >= 0x80) return isUtf8(b.subarray(i, q));
  return true;
}

/** Reads an n-byte big-endian length at p. */
function uint(b: Uint8Array, p: number, n: number, end: number): number {
  fixed(p, n, end);
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + b[p + i];
  return v;
}

function fixed(p: number, n: number, end: number): number {
  if (n > end - p) throw new DecodeError(`declared ${n} bytes but ${end - p} remain`, p);
  return p + n;
}

/** Turns the float64 whose 8 bytes start at p into uint64/int64 when it holds a safe integer. */
function integerize(b: Uint8Array, p: number): void {
  if (b.length - p < 8) return;
  const view = new DataView(b.buffer, b.byteOffset + p, 8);
  const v = view.getFloat64(0);
  if (!Number.isSafeInteger(v)) return;
  b[p - 1] = v >= 0 ? 0xcf : 0xd3;
  view.setInt32(0, Math.floor(v / 2 ** 32));
  view.setUint32(4, v >>> 0);
}
