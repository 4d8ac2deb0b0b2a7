import { migrationsList } from '../../runtime/store/migrations/index.js';
import test from 'ava';
import { PostgresStore } from '../../runtime/store/postgres-store.js';
import { migrate } from '../../runtime/store/orm.js';
import { startPostgres, type PrivatePostgres } from '../harness/postgres.js';
import { storeContract } from './store.contract.js';

let server: PrivatePostgres | undefined;

storeContract(test, async () => {
  server = await startPostgres();
  const store = await PostgresStore.open({ url: server.url, poolSize: 8 });
  return {
    store,
    attachments: store.attachments,
    async close() {
      await store.close();
      await server?.stop();
    },
  };
});

test('migrate: applies everything to a fresh database once, then nothing', async (t) => {
  const url = await server!.createDatabase();
  t.deepEqual(await migrate(url), migrationsList.map((m) => m.name));
  t.deepEqual(await migrate(url), []);
});
