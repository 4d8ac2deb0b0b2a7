import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsBlobStore } from '../../runtime/blob/fs-blob-store.js';
import { GcsBlobStore } from '../../runtime/blob/gcs-blob-store.js';
import type { BlobStore } from '../../runtime/ports.js';
import { encodeSegment } from '../../runtime/snapshot/segment.js';
import { GcsFake } from '../gcs-fake/server.js';
import { buildHistory } from '../harness/history.js';
import { startPostgres, type PrivatePostgres } from '../harness/postgres.js';
import { databaseState, expectedState } from './restore-state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const history = buildHistory({ channels: 3, messagesPerChannel: 120, segmentSize: 40 });
let pg: PrivatePostgres | undefined;

test.before(async () => {
  pg = await startPostgres();
});
test.after.always(async () => {
  await pg?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tertulia restore …` as a child process; stderr is a pipe, so progress comes as plain lines. */
function tertulia(args: string[], databaseUrl: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/tertulia.js', 'restore', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function fill(blobs: BlobStore): Promise<void> {
  for (const { key, segment } of history.segments) await blobs.put(key, await encodeSegment(segment));
}

test('restore --from DIR: summary, progress, refusal without --resume, nothing to do with it', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tertulia-restore-cli-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const blobs = await FsBlobStore.open({ dir, durable: false });
  await fill(blobs);
  await blobs.close();
  const url = await pg!.createDatabase();

  const first = await tertulia(['--from', dir], url);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, new RegExp(`restored 3 channels from ${history.segments.length} segments \\(0 already restored, skipped\\): 360 messages`));
  t.regex(first.stdout, /cannot log in until a new password is set/);
  t.regex(first.stderr, /restore: listing segments/);
  t.regex(first.stderr, /restore: 100%  channels 3\/3/);
  t.notRegex(first.stderr, /\r/);
  t.deepEqual(await databaseState(url), expectedState(history));

  const again = await tertulia(['--from', dir], url);
  t.is(again.code, 1);
  t.regex(again.stderr, /already holds messages[\s\S]*--resume/);

  const resumed = await tertulia(['--from', dir, '--resume'], url);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stdout, new RegExp(`from 0 segments \\(${history.segments.length} already restored, skipped\\): 0 messages`));
});

test('restore --from gs://bucket/prefix through --api-endpoint', async (t) => {
  const fake = await GcsFake.start('backups');
  t.teardown(() => fake.close());
  const blobs = new GcsBlobStore({ bucket: 'backups', prefix: 'tertulia/prod/', apiEndpoint: fake.apiEndpoint, credentials: 'none' });
  await fill(blobs);
  await blobs.close();
  const url = await pg!.createDatabase();
  const run = await tertulia(['--from', 'gs://backups/tertulia/prod', '--api-endpoint', fake.apiEndpoint], url);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(await databaseState(url), expectedState(history));
});

test('restore refuses a directory that is not a blob store', async (t) => {
  const run = await tertulia(['--from', path.join(os.tmpdir(), 'no-such-tertulia-backup')], await pg!.createDatabase());
  t.is(run.code, 1);
  t.regex(run.stderr, /not a blob store directory/);
});
