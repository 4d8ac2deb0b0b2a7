import test from 'ava';
import { GcsBlobStore, type GcsBlobStoreOptions } from '../../runtime/blob/gcs-blob-store.js';
import { BlobError } from '../../runtime/ports.js';
import { GcsFake } from '../gcs-fake/server.js';
import { blobContract } from './blob.contract.js';

const BUCKET = 'tertulia-test';
const MiB = 1024 * 1024;
let shared: GcsFake | undefined;

/** A store on the shared fake that never looks for credentials; small chunks so 5 MiB takes several PUTs. */
const storeOn = (fake: GcsFake, options: Partial<GcsBlobStoreOptions> = {}): GcsBlobStore =>
  new GcsBlobStore({ bucket: BUCKET, prefix: 'tertulia/', apiEndpoint: fake.apiEndpoint, credentials: 'none', resumableThreshold: MiB, chunkSize: MiB, ...options });

blobContract(test, async () => {
  shared = await GcsFake.start(BUCKET);
  const store = storeOn(shared);
  return {
    store,
    async close() {
      await store.close();
      await shared?.close();
    },
  };
});

test('large objects go through resumable uploads in several chunked PUTs; small ones in one multipart POST', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const store = storeOn(fake);
  const big = Buffer.alloc(5 * MiB + 7, 7);
  await store.put('big', big);
  await store.put('small', Buffer.from('small'));
  t.like(fake.uploads.find((u) => u.name === 'tertulia/big'), { kind: 'resumable', size: big.length });
  t.true(fake.uploads.find((u) => u.name === 'tertulia/big')!.requests >= 6);
  t.like(fake.uploads.find((u) => u.name === 'tertulia/small'), { kind: 'multipart', requests: 1 });
  // Buffer#equals: ava's deepEqual renders a diff-able copy of 5 MiB and takes seconds.
  t.true(fake.stored(BUCKET, 'tertulia/big')?.equals(big), 'stored under the prefix, byte for byte');
});

test('create-only through a resumable upload is refused with 412 → exists', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const store = storeOn(fake);
  await store.put('seg', Buffer.alloc(2 * MiB, 1), { ifAbsent: true });
  const err = await t.throwsAsync(store.put('seg', Buffer.alloc(2 * MiB, 2), { ifAbsent: true }), { instanceOf: BlobError });
  t.is(err?.kind, 'exists');
  t.is(fake.stored(BUCKET, 'tertulia/seg')![0], 1);
});

test('the STORAGE_EMULATOR_HOST form: JSON paths without /storage/v1, uploads under /upload', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  // The client reads the variable only in its constructor; construction is synchronous, so no other test sees it.
  process.env.STORAGE_EMULATOR_HOST = fake.emulatorHost;
  let store: GcsBlobStore;
  try {
    store = new GcsBlobStore({ bucket: BUCKET, credentials: 'none', resumableThreshold: MiB, chunkSize: MiB });
  } finally {
    delete process.env.STORAGE_EMULATOR_HOST;
  }
  await store.put('a/small', Buffer.from('small'));
  await store.put('a/big', Buffer.alloc(MiB + 1, 3));
  t.is((await store.get('a/small')).toString(), 'small');
  t.is((await store.get('a/big', { range: { start: MiB, end: MiB + 1 } }))[0], 3);
  t.like(await store.stat('a/big'), { size: MiB + 1 });
  t.deepEqual((await store.list('a/')).items.map((i) => i.key), ['a/big', 'a/small']);
  await store.delete('a/small');
  t.is(await store.stat('a/small'), null);
  t.true(fake.requests.some((r) => r.startsWith('GET /b/tertulia-test/o/')));
  t.true(fake.requests.some((r) => r.startsWith('PUT /upload/storage/v1/b/tertulia-test/o')));
  t.false(fake.requests.some((r) => r.includes('/storage/v1/b/') && !r.includes('/upload/')));
});

test('a download whose bytes do not match the crc32c is refused as corrupt', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const store = storeOn(fake);
  await store.put('k', Buffer.from('precious bytes'));
  fake.corruptNextDownloads();
  const err = await t.throwsAsync(store.get('k'), { instanceOf: BlobError });
  t.is(err?.kind, 'corrupt');
  t.is((await store.get('k')).toString(), 'precious bytes', 'the stored object is intact');
});

test('a failed download does not reset other requests in flight', async (t) => {
  // The client destroys its shared keep-alive agent when a download fails mid-body.
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const store = storeOn(fake);
  await store.put('victim', Buffer.from('bytes'));
  const others = Array.from({ length: 20 }, (_, i) => Buffer.from(`object ${i} `.repeat(2000)));
  fake.corruptNextDownloads();
  const [corrupt, ...rest] = await Promise.allSettled([
    store.get('victim'),
    ...others.map(async (bytes, i) => {
      await store.put(`other/${i}`, bytes);
      return (await store.get(`other/${i}`)).equals(bytes);
    }),
  ]);
  t.is(corrupt.status, 'rejected');
  t.deepEqual(rest.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason))), others.map(() => true));
});

test('503s: retried by the client when allowed, otherwise "unavailable"', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  await storeOn(fake).put('k', Buffer.from('v'));
  fake.failNext(503);
  t.is((await storeOn(fake, { maxRetries: 1 }).get('k')).toString(), 'v');
  fake.failNext(503);
  const err = await t.throwsAsync(storeOn(fake, { maxRetries: 0 }).stat('k'), { instanceOf: BlobError });
  t.is(err?.kind, 'unavailable');
});

test('stores with different prefixes in one bucket do not see each other', async (t) => {
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const a = storeOn(fake, { prefix: 'a/' });
  const b = storeOn(fake, { prefix: 'b/' });
  await a.put('k', Buffer.from('from a'));
  t.is(await b.stat('k'), null);
  t.deepEqual((await b.list('')).items, []);
  t.deepEqual((await a.list('')).items.map((i) => i.key), ['k']);
});

test('anonymous mode needs an emulator; an unknown bucket is not_found', async (t) => {
  t.throws(() => new GcsBlobStore({ bucket: BUCKET, credentials: 'none' }), { instanceOf: RangeError });
  t.throws(() => new GcsBlobStore({ bucket: BUCKET, prefix: 'no-slash' }), { instanceOf: RangeError });
  const fake = await GcsFake.start(BUCKET);
  t.teardown(() => fake.close());
  const err = await t.throwsAsync(storeOn(fake, { bucket: 'no-such-bucket' }).get('k'), { instanceOf: BlobError });
  t.is(err?.kind, 'not_found');
});
