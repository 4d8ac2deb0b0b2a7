import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsBlobStore } from '../../runtime/blob/fs-blob-store.js';
import { GcsBlobStore } from '../../runtime/blob/gcs-blob-store.js';
import type { BlobStore } from '../../runtime/ports.js';
import { restore, RestoreRefused, type RestoreSummary } from '../../runtime/snapshot/restore.js';
import { encodeSegment } from '../../runtime/snapshot/segment.js';
import { PostgresStore } from '../../runtime/store/postgres-store.js';
import { GcsFake } from '../gcs-fake/server.js';
import { buildHistory, type History } from '../harness/history.js';
import { startPostgres, type PrivatePostgres } from '../harness/postgres.js';
import { databaseState, expectedState } from './restore-state.js';

const BUCKET = 'tertulia-restore';
let pg: PrivatePostgres | undefined;
const closers: (() => Promise<void>)[] = [];

test.before(async () => {
  pg = await startPostgres();
});
test.after.always(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await pg?.stop();
});

/** Six channels (two of each kind), an overlapping stale segment in the first, amendments everywhere. */
const small = buildHistory({ channels: 6, messagesPerChannel: 300, segmentSize: 50, overlap: 0 });

async function fsStore(): Promise<BlobStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tertulia-restore-'));
  const blobs = await FsBlobStore.open({ dir, durable: false });
  closers.push(async () => {
    await blobs.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return blobs;
}

async function gcsStore(): Promise<BlobStore> {
  const fake = await GcsFake.start(BUCKET);
  const blobs = new GcsBlobStore({ bucket: BUCKET, prefix: 'prod/', apiEndpoint: fake.apiEndpoint, credentials: 'none' });
  closers.push(async () => {
    await blobs.close();
    await fake.close();
  });
  return blobs;
}

async function upload(blobs: BlobStore, history: History): Promise<void> {
  const queue = [...history.segments];
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s; s = queue.shift()) await blobs.put(s.key, await encodeSegment(s.segment), { ifAbsent: true });
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A store whose downloads fail once `allowed` of them have succeeded: a restore killed midway. */
function failingAfter(blobs: BlobStore, allowed: number): BlobStore {
  let left = allowed;
  return Object.assign(Object.create(blobs) as BlobStore, {
    get: async (key: string) => {
      if (left-- <= 0) throw new Error('injected: connection lost');
      return blobs.get(key);
    },
  });
}

for (const [name, open] of [['the filesystem', fsStore], ['GCS (fake, real client)', gcsStore]] as const) {
  test(`restores every channel from ${name}; a second run changes nothing`, async (t) => {
    const blobs = await open();
    await upload(blobs, small);
    const url = await pg!.createDatabase();
    const first = await restore({ url, blobs });
    t.like(first, { channels: 6, segments: small.segments.length, skipped: 0, users: small.users.size });
    t.is(first.messages, 6 * 300);
    t.deepEqual(await databaseState(url), expectedState(small));

    await t.throwsAsync(restore({ url, blobs }), { instanceOf: RestoreRefused });
    const second = await restore({ url, blobs, resume: true });
    t.like(second, { segments: 0, messages: 0, users: 0, skipped: small.segments.length });
    t.deepEqual(await databaseState(url), expectedState(small));
  });
}

test('an interrupted restore completes when started again', async (t) => {
  const blobs = await fsStore();
  await upload(blobs, small);
  const url = await pg!.createDatabase();
  // One channel at a time, nothing fetched ahead: the failure lands at a known point.
  await t.throwsAsync(restore({ url, blobs: failingAfter(blobs, 17), concurrency: 1, readAhead: 1 }), { message: /injected/ });
  const partial = await databaseState(url);
  t.true(partial.messages.length > 0 && partial.messages.length < 6 * 300, 'stopped midway');

  const progress: number[] = [];
  const rest: RestoreSummary = await restore({ url, blobs, resume: true, onProgress: (p) => progress.push(p.segmentsDone) });
  t.is(rest.skipped, 17);
  t.is(rest.segments + rest.skipped, small.segments.length);
  t.is(progress.at(-1), small.segments.length);
  t.deepEqual(await databaseState(url), expectedState(small));
});

test('an interrupted parallel restore, with segments fetched ahead, completes too', async (t) => {
  const blobs = await fsStore();
  await upload(blobs, small);
  const url = await pg!.createDatabase();
  await t.throwsAsync(restore({ url, blobs: failingAfter(blobs, 20) }), { message: /injected/ });
  const rest = await restore({ url, blobs, resume: true });
  t.true(rest.skipped > 0 && rest.skipped <= 20);
  t.deepEqual(await databaseState(url), expectedState(small));
});

test('ids continue past the restored ones; restored direct channels are found again', async (t) => {
  const blobs = await fsStore();
  await upload(blobs, small);
  const url = await pg!.createDatabase();
  await restore({ url, blobs });
  const store = await PostgresStore.open({ url, poolSize: 2 });
  t.teardown(() => store.close());
  const maxUser = Math.max(...small.users.keys());
  const maxChannel = Math.max(...small.channels.map((c) => c.id));
  const user = await store.createUser('after-restore', Buffer.alloc(32), Buffer.alloc(16));
  t.true(user.id > maxUser);
  const channel = await store.createChannel('new-room', 'public', '', user.id);
  t.true(channel.id > maxChannel);
  const direct = small.channels.find((c) => c.kind === 'direct')!;
  const [a, b] = direct.directKey!.split(':').map(Number);
  t.is((await store.openDirect(a!, b!)).id, direct.id);
  // Seqs continue after the restored history, under an epoch above every segment writer's.
  const activated = await store.activate(direct.id, 0);
  t.is(activated.lastSeq, 300);
  t.true(activated.epoch > Math.max(...small.segments.filter((s) => s.segment.channel.id === direct.id).map((s) => s.segment.epoch)));
});

test('restore rate: 50,000 messages over 20 channels', async (t) => {
  const big = buildHistory({ channels: 20, messagesPerChannel: 2500, segmentSize: 1000 });
  for (const [name, open] of [['filesystem', fsStore], ['GCS fake', gcsStore]] as const) {
    const blobs = await open();
    await upload(blobs, big);
    const url = await pg!.createDatabase();
    const summary = await restore({ url, blobs });
    t.is(summary.messages, 50_000);
    t.log(`${name}: ${summary.messages} messages in ${summary.segments} segments, ${(summary.ms / 1000).toFixed(2)} s, ${Math.round(summary.messages / (summary.ms / 1000))} messages/s`);
  }
});
