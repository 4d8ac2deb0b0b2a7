import test from 'ava';
import { GcsBlobStore } from '../../runtime/blob/gcs-blob-store.js';
import type { RunningNode } from '../../runtime/node.js';
import { GcsFake } from '../gcs-fake/server.js';
import { startPod, usePostgres } from '../harness/server.js';
import { attachmentScenarios } from './attachments.js';

const pg = usePostgres(test);
let fake: GcsFake;
let node: RunningNode;
let blobs: GcsBlobStore;

test.before(async () => {
  fake = await GcsFake.start('media');
  node = await startPod({
    databaseUrl: await (await pg()).createDatabase(),
    gcsBucket: 'media',
    gcsPrefix: 'chat/',
    gcsApiEndpoint: fake.apiEndpoint,
    sendRatePerSec: 1000,
    sendBurst: 1000,
  });
  blobs = new GcsBlobStore({ bucket: 'media', prefix: 'chat/', apiEndpoint: fake.apiEndpoint, credentials: 'none' });
});
test.after.always(async () => {
  await node?.stop();
  await blobs?.close();
  await fake?.close();
});

attachmentScenarios(test, () => ({ node, blobs }));
