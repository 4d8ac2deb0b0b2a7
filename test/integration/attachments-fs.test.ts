import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../runtime/blob/fs-blob-store.js';
import type { RunningNode } from '../../runtime/node.js';
import { startPod, usePostgres } from '../harness/server.js';
import { attachmentScenarios } from './attachments.js';

const pg = usePostgres(test);
let node: RunningNode;
let blobs: FsBlobStore;

test.before(async () => {
  const blobDir = mkdtempSync(join(tmpdir(), 'tertulia-attachments-'));
  node = await startPod({ databaseUrl: await (await pg()).createDatabase(), blobDir, sendRatePerSec: 1000, sendBurst: 1000 });
  blobs = await FsBlobStore.open({ dir: blobDir });
});
test.after.always(async () => {
  await node?.stop();
  await blobs?.close();
});

attachmentScenarios(test, () => ({ node, blobs }));
