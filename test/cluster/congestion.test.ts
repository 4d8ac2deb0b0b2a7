import test from 'ava';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { eventually, usePostgres } from '../harness/server.js';
import { collect, member, metric, ownedChannel } from './traffic.js';

const postgres = usePostgres(test);
// Long enough that a pod frozen for a few seconds keeps its lease: this test is about the link, not membership.
const LEASE_MS = 10_000;
let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster(await postgres(), { size: 2, leaseMs: LEASE_MS });
});
test.after.always(async () => {
  await cluster?.stop();
});

test.serial('deliveries dropped behind a congested peer link reach the followers once it drains, the last ones included', async (t) => {
  const { channel, owner, others } = await ownedChannel(t, cluster, 'congested');
  const follower = others[0]!;
  const watcher = await member(t, follower.port, 'congestion-watcher', channel.id);
  const writer = await member(t, owner.port, 'congestion-writer', channel.id);
  const seen = collect(watcher, channel.id);
  let reconnects = 0;
  watcher.on('reconnect', () => reconnects++);
  await watcher.subscribe(channel.id, 0);
  await writer.send(channel.id, 'before');
  await eventually(() => seen.length >= 2, 10000, 'the watcher is live');

  // Frozen, the follower pod stops reading its link: the owner's kernel and
  // user-space buffers fill, then its pushes are dropped.
  cluster.signal(follower, 'SIGSTOP');
  const body = 'y'.repeat(3900);
  const total = 5000;
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const k = next++;
      await writer.send(channel.id, `${k}:${body}`, `c-${k}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
  // Nothing more is sent: without a re-announcement the watcher would never learn of the tail.
  cluster.signal(follower, 'SIGCONT');

  const last = total + 2;
  await eventually(() => (seen.at(-1)?.seq ?? 0) >= last, 30000, 'the watcher caught up').catch((e) => {
    throw new Error(`${e.message}: saw ${seen.length}, up to ${seen.at(-1)?.seq}`);
  });
  t.deepEqual(seen.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), 'every seq once, in order');
  t.is(reconnects, 0, 'the watcher kept its connection');
  const dropped = await metric(owner.metricsPort, 'tertulia_peer_pushes_dropped_total');
  const tips = await metric(follower.metricsPort, 'tertulia_follow_again_total{reason="tip"}');
  t.log(`pushes dropped by the owner: ${dropped}; follow-agains on a tip: ${tips}`);
  t.true(dropped > 0, 'the owner did drop pushes: the link was congested');
  t.true(tips >= 1, 'the follower caught up on a tip');
  t.is(await metric(owner.metricsPort, 'tertulia_owed_tips'), 0, 'nothing is owed any more');
});
