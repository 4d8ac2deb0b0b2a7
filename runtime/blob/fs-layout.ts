/**
 * How the filesystem adapter lays objects out on disk.
 *
 * Object storage allows both "a" and "a/b" as keys; a filesystem cannot have
 * "a" be a file and a directory at once. So every key segment but the last
 * becomes a directory named `<segment>.d` and the last becomes a file named
 * `<segment>.blob`: the two suffixes never collide, and neither can produce the
 * store's own `tmp` directory. Keys were checked (checkKey), so no segment is
 * "", "." or "..".
 *
 * Each object file is self-describing and written in one piece, so a rename or
 * link publishes data and metadata together:
 *   4 bytes  "TBL1"
 *   4 bytes  big-endian length N of the header
 *   N bytes  JSON header {generation, contentType, size, crc32c, md5, updated}
 *   rest     the object's bytes
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BlobInfo } from '../ports.js';

const MAGIC = Buffer.from('TBL1');
const FILE_SUFFIX = '.blob';
const DIR_SUFFIX = '.d';
/** A header is a few hundred bytes; reading this much gets it in one call. */
const HEADER_PROBE = 4096;

export type BlobHeader = Omit<BlobInfo, 'key'> & { contentType: string };

/** The object file of `key` under `objectsDir`. */
export function objectPath(objectsDir: string, key: string): string {
  const segments = key.split('/');
  const last = segments.pop()!;
  return path.join(objectsDir, ...segments.map((s) => s + DIR_SUFFIX), last + FILE_SUFFIX);
}

/** The directory that holds every key starting with `prefix`'s complete segments, and those segments. */
export function prefixDir(objectsDir: string, prefix: string): { dir: string; keyPrefix: string } {
  const cut = prefix.lastIndexOf('/');
  if (cut < 0) return { dir: objectsDir, keyPrefix: '' };
  const segments = prefix.slice(0, cut).split('/');
  return { dir: path.join(objectsDir, ...segments.map((s) => s + DIR_SUFFIX)), keyPrefix: prefix.slice(0, cut + 1) };
}

/** Every key stored under `dir` (whose keys start with `keyPrefix`), unsorted. Missing directories hold none. */
export async function walkKeys(dir: string, keyPrefix: string, out: string[] = []): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return out;
    throw err;
  }
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name.endsWith(DIR_SUFFIX)) {
      const segment = entry.name.slice(0, -DIR_SUFFIX.length);
      await walkKeys(path.join(dir, entry.name), `${keyPrefix}${segment}/`, out);
    } else if (entry.isFile() && entry.name.endsWith(FILE_SUFFIX)) {
      out.push(keyPrefix + entry.name.slice(0, -FILE_SUFFIX.length));
    }
  }
  return out;
}

/** The header followed by the data, ready to write. */
export function encodeHeader(header: BlobHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  MAGIC.copy(prefix);
  prefix.writeUInt32BE(json.length, 4);
  return Buffer.concat([prefix, json]);
}

/** Reads an object file's header and where its data starts; null when the file is absent. */
export async function readHeader(file: fs.FileHandle | string): Promise<{ header: BlobHeader; dataOffset: number } | null> {
  let handle: fs.FileHandle;
  if (typeof file === 'string') {
    try {
      handle = await fs.open(file, 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
      throw err;
    }
  } else {
    handle = file;
  }
  try {
    let buf = Buffer.alloc(HEADER_PROBE);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error('not a Tertulia blob file');
    const length = buf.readUInt32BE(4);
    if (length + 8 > bytesRead) {
      buf = Buffer.alloc(length + 8);
      await handle.read(buf, 0, buf.length, 0);
    }
    const header = JSON.parse(buf.subarray(8, 8 + length).toString('utf8')) as BlobHeader;
    return { header, dataOffset: 8 + length };
  } finally {
    if (typeof file === 'string') await handle.close();
  }
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
