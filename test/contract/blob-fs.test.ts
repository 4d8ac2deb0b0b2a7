import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FsBlobStore } from '../../runtime/blob/fs-blob-store.js';
import { blobContract } from './blob.contract.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'tertulia-blob-'));

blobContract(test, async () => {
  const dir = tempDir();
  const store = await FsBlobStore.open({ dir });
  return {
    store,
    async close() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('objects survive reopening; later writes still get larger generations', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await FsBlobStore.open({ dir });
  const a = await first.put('chan/1/seg', Buffer.from('one'), { contentType: 'application/msgpack' });
  await first.close();
  const second = await FsBlobStore.open({ dir });
  t.like(await second.stat('chan/1/seg'), { size: 3, generation: a.generation, contentType: 'application/msgpack' });
  const b = await second.put('chan/1/seg', Buffer.from('two'));
  t.true(BigInt(b.generation) > BigInt(a.generation));
});

test('no temp files are left behind by writes, refused creates or refused keys', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await FsBlobStore.open({ dir, durable: false });
  await store.put('k', Buffer.from('x'), { ifAbsent: true });
  await t.throwsAsync(store.put('k', Buffer.from('y'), { ifAbsent: true }));
  await t.throwsAsync(store.put('../k', Buffer.from('y')));
  t.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), []);
  t.deepEqual(fs.readdirSync(dir).sort(), ['objects', 'tmp'], 'nothing written outside the store');
});

test('a file that is not a blob under objects/ is a fault, not silently empty', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await FsBlobStore.open({ dir });
  fs.writeFileSync(path.join(dir, 'objects', 'stray.blob'), 'hello');
  await t.throwsAsync(store.get('stray'), { message: /not a Tertulia blob/ });
});
