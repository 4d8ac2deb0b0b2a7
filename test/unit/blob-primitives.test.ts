/** CRC32C, key rules and listing order: the pieces both blob adapters and the GCS fake share. */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { CRC32C } from '@google-cloud/storage';
import { Crc32c, crc32cBase64 } from '../../runtime/blob/crc32c.js';
import { checkKey, checkPrefix, compareKeys } from '../../runtime/blob/keys.js';
import { listPage } from '../../runtime/blob/listing.js';

test('crc32c: the Castagnoli check value, and GCS\'s base64 form', (t) => {
  t.is(new Crc32c().update(Buffer.from('123456789')).value(), 0xe3069283);
  t.is(crc32cBase64(Buffer.alloc(0)), 'AAAAAA==');
  t.is(crc32cBase64(Buffer.from('123456789')), Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
});

test('crc32c: agrees with the @google-cloud/storage client on random data, fed whole or in pieces', (t) => {
  for (const size of [1, 7, 255, 4096, 100_003]) {
    const data = randomBytes(size);
    const client = new CRC32C();
    client.update(data);
    const pieces = new Crc32c().update(data.subarray(0, size >> 1)).update(data.subarray(size >> 1));
    t.is(crc32cBase64(data), client.toString(), `size ${size}`);
    t.is(pieces.base64(), client.toString());
  }
});

test('keys: relative names pass; anything that could escape or confuse a path is refused', (t) => {
  for (const ok of ['a', 'a/b/c', 'segments/42/000001.msgpack.gz', 'a..b', '.hidden', 'a/.b', 'ünï/😀']) t.notThrows(() => checkKey(ok), ok);
  for (const bad of ['', '/a', 'a/', '//', 'a//b', '.', '..', 'a/..', '../a', 'a/./b', 'a\0', 'a\rb', 'a\nb']) {
    t.throws(() => checkKey(bad), { name: 'BlobError' }, JSON.stringify(bad));
  }
  for (const ok of ['', 'a', 'a/', 'a/b', 'a/b/']) t.notThrows(() => checkPrefix(ok), ok);
  for (const bad of ['/', '/a', '../', 'a//', 'a\0']) t.throws(() => checkPrefix(bad), { name: 'BlobError' }, bad);
});

test('compareKeys is UTF-8 byte order, unlike plain string comparison', (t) => {
  const keys = ['😀', '\ue000', 'é', 'z', 'a/b', 'a', 'a-b', ''];
  const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  t.deepEqual([...keys].sort(compareKeys), byBytes);
  t.true('😀' < '\ue000', 'UTF-16 order differs here, which is why compareKeys exists');
});

test('listPage: limit counts items and prefixes together; tokens resume after the last entry', (t) => {
  const keys = ['p/a', 'p/b/1', 'p/b/2', 'p/c', 'p/d/1', 'q'].sort(compareKeys);
  const first = listPage(keys, { prefix: 'p/', delimiter: '/', limit: 2 });
  t.deepEqual([first.keys, first.prefixes], [['p/a'], ['p/b/']]);
  const second = listPage(keys, { prefix: 'p/', delimiter: '/', limit: 2, pageToken: first.nextPageToken! });
  t.deepEqual([second.keys, second.prefixes], [['p/c'], ['p/d/']]);
  t.is(second.nextPageToken, undefined, 'no empty last page');
  t.deepEqual(listPage(keys, { prefix: '', limit: 10 }).keys, keys);
});
