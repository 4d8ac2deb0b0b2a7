import test from 'ava';
import { BlobError } from '../../runtime/ports.js';
import { GcsBlobStore } from '../../runtime/blob/gcs-blob-store.js';
import { decodeSegment, type Segment } from '../../runtime/snapshot/segment.js';
import type { RunningNode } from '../../runtime/node.js';
import { GcsFake } from '../gcs-fake/server.js';
import { eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let fake: GcsFake;
let node: RunningNode;
let blobs: GcsBlobStore;

test.before(async () => {
  fake = await GcsFake.start('history');
  node = await startPod({
    databaseUrl: await (await pg()).createDatabase(),
    gcsBucket: 'history',
    gcsPrefix: 'pod/',
    gcsApiEndpoint: fake.apiEndpoint,
    snapshotEvery: 50,
    snapshotMs: 200,
    sendRatePerSec: 100000,
    sendBurst: 100000,
  });
  blobs = new GcsBlobStore({ bucket: 'history', prefix: 'pod/', apiEndpoint: fake.apiEndpoint, credentials: 'none' });
});
test.after.always(async () => {
  await node?.stop();
  await blobs?.close();
  await fake?.close();
});

async function segmentsOf(channel: number): Promise<{ key: string; seg: Segment }[]> {
  const out: { key: string; seg: Segment }[] = [];
  let pageToken: string | undefined;
  do {
    const page = await blobs.list(`channels/${String(channel).padStart(12, '0')}/segments/`, pageToken ? { pageToken } : {});
    for (const item of page.items) out.push({ key: item.key, seg: await decodeSegment(await blobs.get(item.key)) });
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

/** Applies segments in key order, as a restore does. */
function replay(segs: Segment[]): Map<number, { body: string; deleted: boolean; edited?: number; ts: number; sender: number }> {
  const state = new Map<number, { body: string; deleted: boolean; edited?: number; ts: number; sender: number }>();
  for (const s of segs) {
    for (const m of s.messages) state.set(m.seq, { body: m.body, deleted: m.deleted === true, edited: m.edited, ts: m.ts, sender: m.sender });
    for (const a of s.amendments) {
      const m = state.get(a.seq);
      if (m) state.set(a.seq, { ...m, body: a.body, deleted: a.deleted === true, edited: a.edited });
    }
  }
  return state;
}

test('segments written off the ack path equal the committed messages, edits and deletes included', async (t) => {
  const a = await user(t, node);
  const { channel } = await a.create(`snap-${a.name}`, 'private', 'kept in segments');
  for (let i = 0; i < 120; i++) await a.send(channel.id, `message ${i} ¡olé!`);
  await a.edit(channel.id, 3, 'edited three');
  await a.delete(channel.id, 4);
  await a.send(channel.id, 'after the edits');
  await a.edit(channel.id, 121, 'edited the last one');

  let segs: { key: string; seg: Segment }[] = [];
  await eventually(
    async () => {
      segs = await segmentsOf(channel.id);
      const state = replay(segs.map((s) => s.seg));
      return state.size === 121 && state.get(121)?.body === 'edited the last one' && state.get(4)?.deleted === true;
    },
    20000,
    'segments catch up',
  );
  const state = replay(segs.map((s) => s.seg));
  const history = [];
  let after = 0;
  for (;;) {
    const page = await a.history(channel.id, { after, limit: 200 });
    history.push(...page.messages);
    if (!page.more) break;
    after = page.messages.at(-1)!.seq;
  }
  t.is(history.length, 121);
  for (const m of history) {
    const s = state.get(m.seq)!;
    t.deepEqual(
      { body: s.body, deleted: s.deleted, edited: s.edited, ts: s.ts, sender: s.sender },
      { body: m.body, deleted: m.deleted === true, edited: m.edited, ts: m.ts, sender: m.sender },
      `seq ${m.seq}`,
    );
  }
  const last = segs.at(-1)!.seg;
  t.is(last.channel.kind, 'private');
  t.is(last.channel.topic, 'kept in segments');
  t.deepEqual(last.members.map((m) => m.name), [a.name]);
  // Every 50 messages, drawn per segment up to 75: 121 messages need at least two.
  t.true(segs.length >= 2, `${segs.length} segments`);
  for (const { seg } of segs) t.true(seg.to - seg.from + 1 <= 75, `segment ${seg.from}-${seg.to} holds at most 1.5 × 50 messages`);
  t.log(`${segs.length} segments for 121 messages`);

  // A writer with an older epoch (or anyone) cannot replace a segment: create-only, 412 through the real client.
  const victim = segs[0]!;
  const before = await blobs.get(victim.key);
  const err = await t.throwsAsync(blobs.put(victim.key, Buffer.from('stale owner'), { ifAbsent: true }));
  t.true(err instanceof BlobError && err.kind === 'exists');
  t.deepEqual(await blobs.get(victim.key), before);
});
