import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../runtime/config.js';
import { client, startPod, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);

async function restartKeepsHistory(t: import('ava').ExecutionContext, where: Partial<Config>) {
  let node = await startPod(where);
  try {
    const a = await client(t, node);
    const { token } = await a.register('carmen', 'correct horse battery');
    const { channel } = await a.create('tertulia', 'public', 'kept across restarts');
    for (let i = 1; i <= 3; i++) t.is((await a.send(channel.id, `first life ${i}`)).seq, i);
    await a.close();
    await node.stop();

    node = await startPod(where);
    const b = await client(t, node);
    await b.auth(token!);
    const h = await b.history(channel.id);
    t.deepEqual(h.messages.map((m) => [m.seq, m.body]), [
      [1, 'first life 1'],
      [2, 'first life 2'],
      [3, 'first life 3'],
    ]);
    t.is((await b.send(channel.id, 'second life')).seq, 4);
    t.is((await b.channels()).channels.find((c) => c.id === channel.id)?.topic, 'kept across restarts');
  } finally {
    await node.stop();
  }
}

test('stop and restart on the same PostgreSQL database: history and seqs continue', async (t) => {
  await restartKeepsHistory(t, { databaseUrl: await (await pg()).createDatabase() });
});

test('the embedded default (PGlite in a data directory) survives a restart too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tertulia-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await restartKeepsHistory(t, { dataDir: dir, databaseUrl: null });
});
