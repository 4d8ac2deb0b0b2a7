import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../runtime/blob/fs-blob-store.js';
import type { RunningNode } from '../../runtime/node.js';
import { startPod, usePostgres } from '../harness/server.js';
import { attachmentScenarios } from './attachments.js';

const pg = usePostgres(test);
let node: RunningNode;
let blobs: FsBlobStore;
let blobDir: string | undefined;

test.before(async () => {
  blobDir = mkdtempSync(join(tmpdir(), 'tertulia-attachments-'));
  node = await startPod({ databaseUrl: await (await pg()).createDatabase(), blobDir, sendRatePerSec: 1000, sendBurst: 1000 });
  blobs = await FsBlobStore.open({ dir: blobDir });
});
test.after.always(async () => {
  await node?.stop();
  await blobs?.close();
  if (blobDir) rmSync(blobDir, { recursive: true, force: true });
});

attachmentScenarios(test, () => ({ node, blobs }));
