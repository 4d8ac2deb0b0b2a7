/**
 * The BlobStore contract: one suite, run against every adapter (filesystem,
 * Google Cloud Storage through the real client against the fake). Tests share
 * one store per file and stay independent by writing under their own prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ExecutionContext, TestFn } from 'ava';
import { crc32cBase64 } from '../../runtime/blob/crc32c.js';
import { compareKeys } from '../../runtime/blob/keys.js';
import { BlobError, type BlobErrorKind, type BlobStore } from '../../runtime/ports.js';

export interface BlobFixture {
  store: BlobStore;
  /** Closes the store and whatever server it talks to. */
  close(): Promise<void>;
}

let prefixes = 0;
/** A key prefix no other test uses. */
const unique = (name: string): string => `t${++prefixes}-${name}/`;

async function expectKind(t: ExecutionContext, promise: Promise<unknown>, kind: BlobErrorKind): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: BlobError });
  t.is(err?.kind, kind, err?.message);
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('base64');

/** Yields `total` bytes of `data` in uneven pieces, as a network or file source would. */
async function* pieces(data: Buffer): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = [1, 4096, 65_537, 333_333][i % 4]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

export function blobContract(test: TestFn, open: () => Promise<BlobFixture>): void {
  let fixture: BlobFixture | undefined;
  test.before(async () => {
    fixture = await open();
  });
  test.after.always(async () => {
    await fixture?.close();
  });
  const s = (): BlobStore => fixture!.store;

  test('put and get round-trip binary, text and empty objects, with their metadata', async (t) => {
    const p = unique('roundtrip');
    const binary = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    const cases: [string, Buffer, string | undefined][] = [
      [`${p}binary.bin`, binary, undefined],
      [`${p}text.json`, Buffer.from('{"hola": "tertulia ✓"}'), 'application/json'],
      [`${p}empty`, Buffer.alloc(0), 'text/plain'],
    ];
    for (const [key, bytes, contentType] of cases) {
      const written = await s().put(key, bytes, contentType ? { contentType } : {});
      t.like(written, { size: bytes.length, crc32c: crc32cBase64(bytes), md5: md5(bytes) });
      t.regex(written.generation, /^\d+$/);
      t.deepEqual(await s().get(key), bytes);
      const info = await s().stat(key);
      t.like(info, { key, size: bytes.length, generation: written.generation, contentType: contentType ?? 'application/octet-stream' });
      t.true(Math.abs(info!.updated - Date.now()) < 60_000);
    }
  });

  test('a Uint8Array view is stored as exactly its bytes', async (t) => {
    const key = `${unique('view')}k`;
    const backing = Buffer.from('xxhello worldyy');
    await s().put(key, new Uint8Array(backing.buffer, backing.byteOffset + 2, 11));
    t.is((await s().get(key)).toString(), 'hello world');
  });

  test('overwrite replaces the bytes and changes the generation', async (t) => {
    const key = `${unique('overwrite')}k`;
    const first = await s().put(key, Buffer.from('one'));
    const second = await s().put(key, Buffer.from('two!'));
    t.not(second.generation, first.generation);
    t.true(BigInt(second.generation) > BigInt(first.generation));
    t.is((await s().get(key)).toString(), 'two!');
    t.like(await s().stat(key), { size: 4, generation: second.generation });
  });

  test('create-only: succeeds when absent, refused with "exists" when present, bytes untouched', async (t) => {
    const key = `${unique('create')}segment`;
    const created = await s().put(key, Buffer.from('original'), { ifAbsent: true });
    await expectKind(t, s().put(key, Buffer.from('stale owner'), { ifAbsent: true }), 'exists');
    await expectKind(t, s().putStream(key, pieces(Buffer.from('stale stream')), { ifAbsent: true }), 'exists');
    t.is((await s().get(key)).toString(), 'original');
    t.is((await s().stat(key))?.generation, created.generation);
  });

  test('create-only: of 8 concurrent writers of one key exactly one wins', async (t) => {
    const key = `${unique('race')}segment`;
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`writer ${i} `.repeat(100 + i)));
    const results = await Promise.allSettled(bodies.map((b) => s().put(key, b, { ifAbsent: true })));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    t.is(winners.length, 1);
    for (const r of results) {
      if (r.status === 'rejected') t.is((r.reason as BlobError).kind, 'exists');
    }
    t.deepEqual(await s().get(key), bodies[winners[0]!]);
  });

  test('range reads: [start, end), clamped to the object, empty past the end', async (t) => {
    const key = `${unique('range')}k`;
    const bytes = randomBytes(10_000);
    await s().put(key, bytes);
    t.deepEqual(await s().get(key, { range: { start: 0, end: 1 } }), bytes.subarray(0, 1));
    t.deepEqual(await s().get(key, { range: { start: 1234, end: 5678 } }), bytes.subarray(1234, 5678));
    t.deepEqual(await s().get(key, { range: { start: 9_990, end: 20_000 } }), bytes.subarray(9_990));
    t.deepEqual(await s().get(key, { range: { start: 10_000, end: 10_010 } }), Buffer.alloc(0));
    t.deepEqual(await s().get(key, { range: { start: 50, end: 50 } }), Buffer.alloc(0));
    await expectKind(t, s().get(`${key}-missing`, { range: { start: 0, end: 10 } }), 'not_found');
  });

  test('missing objects: get refuses with not_found, stat answers null', async (t) => {
    const key = `${unique('missing')}nothing`;
    await expectKind(t, s().get(key), 'not_found');
    t.is(await s().stat(key), null);
  });

  test('a key and a key below it coexist ("a" and "a/b")', async (t) => {
    const p = unique('nested');
    await s().put(`${p}a`, Buffer.from('file'));
    await s().put(`${p}a/b`, Buffer.from('below'));
    t.is((await s().get(`${p}a`)).toString(), 'file');
    t.is((await s().get(`${p}a/b`)).toString(), 'below');
    const page = await s().list(p, { delimiter: '/' });
    t.deepEqual(page.items.map((i) => i.key), [`${p}a`]);
    t.deepEqual(page.prefixes, [`${p}a/`]);
  });

  test('list: prefix, lexicographic order (UTF-8 bytes), paging over several pages', async (t) => {
    const p = unique('list');
    const names = ['b', 'a', 'a0', 'a-1', 'é', '😀', '\ue000', 'Z', '~', 'm/n', 'm/o/p'];
    const keys = [...names.map((n) => p + n), ...Array.from({ length: 14 }, (_, i) => `${p}seq/${String(i).padStart(3, '0')}`)];
    await Promise.all(keys.map((k) => s().put(k, Buffer.from(k))));
    await s().put(`${p.slice(0, -1)}-outside`, Buffer.from('x'));
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await s().list(p, { limit: 4, ...(pageToken ? { pageToken } : {}) });
      t.true(page.items.length <= 4);
      t.deepEqual(page.prefixes, []);
      seen.push(...page.items.map((i) => i.key));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    t.true(pages >= 7);
    t.deepEqual(seen, [...keys].sort(compareKeys));
    const sizes = (await s().list(`${p}seq/00`)).items.map((i) => [i.key, i.size]);
    t.deepEqual(sizes, Array.from({ length: 10 }, (_, i) => [`${p}seq/00${i}`, Buffer.byteLength(`${p}seq/00${i}`)]));
  });

  test('list: a delimiter rolls keys up into prefixes, and pages across them', async (t) => {
    const p = unique('delim');
    const keys = ['top1', 'top2', 'dir1/x', 'dir1/y/z', 'dir2/x', 'dir3/x', 'dir3/y', 'z'].map((k) => p + k);
    await Promise.all(keys.map((k) => s().put(k, Buffer.from('.'))));
    const all = await s().list(p, { delimiter: '/' });
    t.deepEqual(all.items.map((i) => i.key), [`${p}top1`, `${p}top2`, `${p}z`]);
    t.deepEqual(all.prefixes, [`${p}dir1/`, `${p}dir2/`, `${p}dir3/`]);
    t.is(all.nextPageToken, undefined);
    const items: string[] = [];
    const prefixesSeen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await s().list(p, { delimiter: '/', limit: 2, ...(pageToken ? { pageToken } : {}) });
      t.true(page.items.length + page.prefixes.length <= 2);
      items.push(...page.items.map((i) => i.key));
      prefixesSeen.push(...page.prefixes);
      pageToken = page.nextPageToken;
    } while (pageToken);
    t.deepEqual(items, all.items.map((i) => i.key));
    t.deepEqual(prefixesSeen, all.prefixes);
    const inside = await s().list(`${p}dir1/`, { delimiter: '/' });
    t.deepEqual(inside.items.map((i) => i.key), [`${p}dir1/x`]);
    t.deepEqual(inside.prefixes, [`${p}dir1/y/`]);
    t.deepEqual((await s().list(`${p}dir`, { delimiter: '/' })).prefixes, [`${p}dir1/`, `${p}dir2/`, `${p}dir3/`]);
    t.deepEqual(await s().list(`${p}nothing-here/`), { items: [], prefixes: [] });
  });

  test('delete is idempotent and the object is gone from get, stat and list', async (t) => {
    const p = unique('delete');
    await s().put(`${p}a/b`, Buffer.from('x'));
    await s().put(`${p}keep`, Buffer.from('y'));
    await s().delete(`${p}a/b`);
    await s().delete(`${p}a/b`);
    await s().delete(`${p}never-was`);
    await expectKind(t, s().get(`${p}a/b`), 'not_found');
    t.is(await s().stat(`${p}a/b`), null);
    const page = await s().list(p, { delimiter: '/' });
    t.deepEqual(page.items.map((i) => i.key), [`${p}keep`]);
    t.deepEqual(page.prefixes, [], 'no prefix left behind by a deleted key');
    await s().put(`${p}a/b`, Buffer.from('again'), { ifAbsent: true });
    t.is((await s().get(`${p}a/b`)).toString(), 'again');
  });

  test('a 5 MiB object through put and through putStream keeps its sha256', async (t) => {
    const p = unique('large');
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    const viaPut = await s().put(`${p}put`, bytes, { contentType: 'video/mp4' });
    const viaStream = await s().putStream(`${p}stream`, pieces(bytes), { ifAbsent: true });
    for (const [key, written] of [[`${p}put`, viaPut], [`${p}stream`, viaStream]] as const) {
      t.like(written, { size: bytes.length, crc32c: crc32cBase64(bytes) });
      t.is(sha256(await s().get(key)), sha256(bytes), key);
    }
    t.is((await s().stat(`${p}put`))?.contentType, 'video/mp4');
    const tail = await s().get(`${p}stream`, { range: { start: bytes.length - 1000, end: bytes.length } });
    t.deepEqual(tail, bytes.subarray(bytes.length - 1000));
  });

  test('keys that could escape are refused by every operation', async (t) => {
    const bad = ['', '/etc/passwd', '../x', 'a/../../x', 'a/..', './a', 'a/./b', 'a//b', 'a/', 'nul\0byte', 'line\nbreak', 'x'.repeat(1025)];
    for (const key of bad) {
      await expectKind(t, s().put(key, Buffer.from('x')), 'invalid_key');
      await expectKind(t, s().putStream(key, pieces(Buffer.from('x'))), 'invalid_key');
      await expectKind(t, s().get(key), 'invalid_key');
      await expectKind(t, s().stat(key), 'invalid_key');
      await expectKind(t, s().delete(key), 'invalid_key');
    }
    for (const prefix of ['../', '/abs/', 'a/../', 'a\0']) await expectKind(t, s().list(prefix), 'invalid_key');
    t.is(await s().stat('a/..b'), null, 'dots inside a segment are an ordinary name');
  });
}
