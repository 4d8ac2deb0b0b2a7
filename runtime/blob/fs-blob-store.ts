/**
 * The filesystem blob store: the embedded default, and `restore --from DIR`.
 *
 * Writes go to a temp file in `<root>/tmp` (same filesystem), are fsynced, and
 * are published by rename (overwrite) or by link (create-only: link fails with
 * EEXIST when the key exists, so of racing writers exactly one wins), then the
 * directory is fsynced. Readers open the file once and so see one whole object.
 *
 * Generations are decimal microseconds since the epoch, like GCS's, raised
 * above the key's previous generation and above the last one this instance
 * issued: every write of a key gets a new, larger generation. They are stored
 * in the object file's header (see fs-layout.ts) with size, checksums and type.
 *
 * Listing walks the directories under the prefix and sorts, so a page costs
 * O(keys under the prefix): right for a laptop, not for millions of objects.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BlobError, type BlobInfo, type BlobListOptions, type BlobPage, type BlobPutOptions, type BlobRange, type BlobStore, type BlobWritten } from '../ports.js';
import { Crc32c } from './crc32c.js';
import { encodeHeader, isCode, objectPath, prefixDir, readHeader, walkKeys, type BlobHeader } from './fs-layout.js';
import { checkKey, checkPrefix, compareKeys, pageLimit } from './keys.js';
import { listPage } from './listing.js';

/** Room reserved for the header, so data can stream in before its size and checksums are known. */
const HEADER_ROOM = 1024;
const MAX_CONTENT_TYPE = 256;
const DEFAULT_TYPE = 'application/octet-stream';
/** Temp files older than this at open are leftovers of a crash, not another writer's work in progress. */
const STALE_TMP_MS = 60 * 60 * 1000;

export interface FsBlobStoreOptions {
  /** Root directory; created if missing. */
  dir: string;
  /** fsync files and directories on write (default true); tests may turn it off for speed. */
  durable?: boolean;
}

export class FsBlobStore implements BlobStore {
  private readonly objects: string;
  private readonly tmp: string;
  private readonly durable: boolean;
  private lastGeneration = 0n;

  private constructor(options: FsBlobStoreOptions) {
    this.objects = path.join(options.dir, 'objects');
    this.tmp = path.join(options.dir, 'tmp');
    this.durable = options.durable ?? true;
  }

  static async open(options: FsBlobStoreOptions): Promise<FsBlobStore> {
    const store = new FsBlobStore(options);
    await fs.mkdir(store.objects, { recursive: true });
    await fs.mkdir(store.tmp, { recursive: true });
    await store.removeStaleTemps();
    return store;
  }

  async put(key: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<BlobWritten> {
    return this.putStream(key, [bytes], options);
  }

  async putStream(key: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: BlobPutOptions = {}): Promise<BlobWritten> {
    checkKey(key);
    const contentType = options.contentType ?? DEFAULT_TYPE;
    if (contentType.length > MAX_CONTENT_TYPE) throw new RangeError(`content type longer than ${MAX_CONTENT_TYPE} characters`);
    const final = objectPath(this.objects, key);
    const temp = path.join(this.tmp, randomUUID());
    try {
      const header = await this.writeTemp(temp, source, contentType, final);
      await this.publish(temp, final, options.ifAbsent === true, key);
      const { generation, size, crc32c, md5 } = header;
      return { generation, size, crc32c, md5 };
    } catch (err) {
      throw fsError(err, key);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  async get(key: string, options: { range?: BlobRange } = {}): Promise<Buffer> {
    checkKey(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(objectPath(this.objects, key), 'r');
    } catch (err) {
      throw fsError(err, key);
    }
    try {
      const { header, dataOffset } = (await readHeader(handle))!;
      const start = Math.min(options.range?.start ?? 0, header.size);
      const end = Math.max(start, Math.min(options.range?.end ?? header.size, header.size));
      const out = Buffer.alloc(end - start);
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await handle.read(out, done, out.length - done, dataOffset + start + done);
        if (bytesRead === 0) throw new BlobError('corrupt', `blob ${key} is shorter than its header says`);
        done += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    checkKey(key);
    const found = await readHeader(objectPath(this.objects, key)).catch((err) => {
      throw fsError(err, key);
    });
    return found ? { key, ...found.header } : null;
  }

  async list(prefix: string, options: BlobListOptions = {}): Promise<BlobPage> {
    checkPrefix(prefix);
    const limit = pageLimit(options.limit);
    const { dir, keyPrefix } = prefixDir(this.objects, prefix);
    const keys = (await walkKeys(dir, keyPrefix)).sort(compareKeys);
    const page = listPage(keys, { prefix, delimiter: options.delimiter, pageToken: options.pageToken, limit });
    const items: BlobInfo[] = [];
    for (const key of page.keys) {
      // Deleted since the walk: leave it out, as a listing a moment later would.
      const found = await readHeader(objectPath(this.objects, key));
      if (found) items.push({ key, ...found.header });
    }
    return { items, prefixes: page.prefixes, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const file = objectPath(this.objects, key);
    await fs.rm(file, { force: true }).catch((err) => {
      if (!isCode(err, 'ENOTDIR')) throw fsError(err, key);
    });
    await this.pruneEmptyDirs(path.dirname(file));
  }

  async close(): Promise<void> {}

  /** Streams the data in after the reserved header room, then fills the header in. */
  private async writeTemp(temp: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, contentType: string, final: string): Promise<BlobHeader> {
    const handle = await fs.open(temp, 'wx');
    try {
      const crc = new Crc32c();
      const md5 = createHash('md5');
      let size = 0;
      for await (const chunk of source) {
        crc.update(chunk);
        md5.update(chunk);
        await handle.write(chunk, 0, chunk.length, 8 + HEADER_ROOM + size);
        size += chunk.length;
      }
      const header: BlobHeader = {
        generation: await this.nextGeneration(final),
        contentType,
        size,
        crc32c: crc.base64(),
        md5: md5.digest('base64'),
        updated: Date.now(),
      };
      const encoded = encodeHeader(header);
      // Pad the JSON with spaces up to the reserved room: still valid JSON, fixed data offset.
      const room = Buffer.alloc(8 + HEADER_ROOM, 0x20);
      encoded.copy(room);
      room.writeUInt32BE(HEADER_ROOM, 4);
      await handle.write(room, 0, room.length, 0);
      if (this.durable) await handle.sync();
      return header;
    } finally {
      await handle.close();
    }
  }

  private async publish(temp: string, final: string, ifAbsent: boolean, key: string): Promise<void> {
    // A concurrent delete may prune the parent between mkdir and publish: make it again.
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(path.dirname(final), { recursive: true });
      try {
        if (ifAbsent) await fs.link(temp, final);
        else await fs.rename(temp, final);
        break;
      } catch (err) {
        if (isCode(err, 'EEXIST')) throw new BlobError('exists', `blob ${key} already exists`);
        if (!isCode(err, 'ENOENT') || attempt === 3) throw err;
      }
    }
    if (this.durable) await syncDir(path.dirname(final));
  }

  private async nextGeneration(final: string): Promise<string> {
    const previous = await readHeader(final).catch(() => null);
    let next = BigInt(Date.now()) * 1000n;
    if (next <= this.lastGeneration) next = this.lastGeneration + 1n;
    if (previous && BigInt(previous.header.generation) >= next) next = BigInt(previous.header.generation) + 1n;
    this.lastGeneration = next;
    return next.toString();
  }

  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.objects + path.sep)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return; // not empty, already gone, or raced by a writer: all fine
      }
      dir = path.dirname(dir);
    }
  }

  private async removeStaleTemps(): Promise<void> {
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await fs.readdir(this.tmp)) {
      const file = path.join(this.tmp, name);
      const info = await fs.stat(file).catch(() => null);
      if (info && info.mtimeMs < cutoff) await fs.rm(file, { force: true });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Maps what the caller can act on to BlobError; everything else stays a fault. */
function fsError(err: unknown, key: string): unknown {
  if (err instanceof BlobError) return err;
  if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return new BlobError('not_found', `blob ${key} not found`, { cause: err });
  if (isCode(err, 'ENAMETOOLONG')) return new BlobError('invalid_key', `blob key ${key} is too long for this filesystem`, { cause: err });
  for (const code of ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE']) {
    if (isCode(err, code)) return new BlobError('unavailable', `blob store: ${code} on ${key}`, { cause: err });
  }
  return err;
}
