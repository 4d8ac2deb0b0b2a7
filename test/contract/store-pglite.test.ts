import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { openEmbedded } from '../../runtime/store/embedded.js';
import { PostgresStore } from '../../runtime/store/postgres-store.js';
import { storeContract } from './store.contract.js';

storeContract(test, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tertulia-pglite-'));
  const db = await openEmbedded({ dataDir: dir });
  const store = await PostgresStore.open({ url: db.url, poolSize: db.poolSize });
  return {
    store,
    attachments: store.attachments,
    async close() {
      await store.close();
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
