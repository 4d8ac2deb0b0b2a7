import test from 'ava';
import pg from 'pg';
import { useCluster } from '../harness/cluster.js';
import { eventually } from '../harness/server.js';
import { checkInvariant, collect, fullHistory, member, metric, ownedChannel, pipeliner, sender, type Ack } from './traffic.js';

const theCluster = useCluster(test, { size: 3, leaseMs: 1500 });

const fencedWrites = (metricsPort: number) => metric(metricsPort, 'tertulia_writes_refused_total{reason="fenced"}');

test.serial('SIGSTOP the owner past its lease, then SIGCONT: its pending writes are fenced, no seq repeats', async (t) => {
  const cluster = theCluster();
  const { channel, ownerOf, owner, others: survivors } = await ownedChannel(t, cluster, 'paused');

  const make = (port: number, name: string, alternates: number[] = []) => member(t, port, name, channel.id, alternates);
  const s1 = await make(survivors[0]!.port, 'steady');
  const watcher = await make(survivors[1]!.port, 'watcher');
  // Connected to the owner itself and keeping many sends in flight, so the
  // owner's writer has queued work when it is frozen.
  const local = await make(owner.port, 'local', survivors.map((p) => p.port));
  const seen = collect(watcher, channel.id);
  await watcher.subscribe(channel.id, 0);

  const acks: Ack[] = [];
  const a = sender(s1, 'steady', channel.id, acks);
  const p = pipeliner(local, 'local', channel.id, acks);
  await eventually(() => acks.filter((x) => x.sender === 'local').length >= 200, 20000, 'traffic before the pause');

  const before = await fencedWrites(owner.metricsPort);
  // Hold the channel's row lock so the owner's commit in flight stalls and
  // later sends queue behind it in the owner's writer; then freeze the owner.
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  await db.query('begin');
  await db.query('select 1 from channels where id = $1 for update', [channel.id]);
  const extra = Array.from({ length: 5 }, (_, k) =>
    local.send(channel.id, `extra:${k}`, `extra-${k}`).then((r) => acks.push({ sender: 'extra', n: k, seq: r.seq, at: Date.now() })),
  );
  await new Promise((r) => setTimeout(r, 300));
  cluster.signal(owner, 'SIGSTOP');
  const stoppedAt = Date.now();
  // Past the lease another pod claims the channel; its activation waits on the lock.
  await eventually(async () => (await ownerOf()) !== owner.name, 20000, 'a new owner');
  await db.query('commit');
  await eventually(() => acks.some((x) => x.sender === 'steady' && x.at > stoppedAt), 20000, 'traffic moves on');
  cluster.signal(owner, 'SIGCONT');

  // The frozen owner's queued writes carry its old epoch: PostgreSQL refuses them.
  await eventually(async () => (await fencedWrites(owner.metricsPort)) > before, 20000, 'the old owner is fenced');
  await Promise.all(extra);
  t.log(`fenced writes on the old owner: ${(await fencedWrites(owner.metricsPort)) - before}`);
  await eventually(() => acks.some((x) => x.sender === 'local' && x.at > Date.now() - 1000), 20000, 'the paused pod serves its client again');
  await Promise.all([a.stop(), p.stop()]);

  const history = await fullHistory(watcher, channel.id);
  t.is(history.filter((m) => m.body.startsWith('extra:')).length, 5, 'the refused writes were stored once, by the new owner');
  // The pipelining client retries refused sends in parallel, so only the steady sender has an order to keep.
  checkInvariant(t, history, acks, ['steady']);
  const last = history.at(-1)!.seq;
  await eventually(() => (seen.at(-1)?.seq ?? 0) >= last, 20000, 'watcher caught up');
  t.deepEqual(seen.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1));
  // The thawed pod rejoined with a new incarnation; its old one wrote nothing after the fence.
  const epoch = Number((await db.query('select owner_epoch from channels where id = $1', [channel.id])).rows[0].owner_epoch);
  t.true(epoch >= 2, `owner_epoch rose past the first activation (${epoch})`);
});

test.serial('a pod frozen past its lease and thawed delivers to its subscribers again, the messages of the freeze included', async (t) => {
  const cluster = theCluster();
  const { channel, redis, others } = await ownedChannel(t, cluster, 'thawed');
  const [frozen, other] = others;
  // The watcher follows from a pod that is not the owner; the sender is elsewhere.
  const watcher = await member(t, frozen!.port, 'thaw-watcher', channel.id);
  const writer = await member(t, other!.port, 'thaw-writer', channel.id);
  const seen = collect(watcher, channel.id);
  let reconnects = 0;
  watcher.on('reconnect', () => reconnects++);
  await watcher.subscribe(channel.id, 0);

  cluster.signal(frozen!, 'SIGSTOP');
  // The owner drops a pod whose lease ran out: wait until the lease key is gone.
  await eventually(async () => (await redis.exists(`t${process.pid}:lease:${frozen!.name}`)) === 0, 20000, 'the frozen pod\'s lease expires');
  await new Promise((r) => setTimeout(r, 1000));
  for (let k = 0; k < 10; k++) await writer.send(channel.id, `during:${k}`);
  cluster.signal(frozen!, 'SIGCONT');
  // The thawed pod finds its lease lost and registers again under a new incarnation.
  await eventually(async () => (await redis.exists(`t${process.pid}:lease:${frozen!.name}`)) === 1, 20000, 'the thawed pod rejoins');
  await new Promise((r) => setTimeout(r, 1000));
  for (let k = 0; k < 10; k++) await writer.send(channel.id, `after:${k}`);

  const last = 21;
  await eventually(() => (seen.at(-1)?.seq ?? 0) >= last, 20000, 'the watcher caught up').catch((e) => {
    throw new Error(`${e.message}: saw ${seen.map((m) => m.seq).join(',')}`);
  });
  t.deepEqual(seen.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), 'every seq once, in order');
  t.is(reconnects, 0, 'the watcher kept its connection: the pod, not the client, caught up');
  t.true((await metric(frozen!.metricsPort, 'tertulia_follow_again_total{reason="rejoined"}')) >= 1, 'counted as a follow-again on rejoin');
});
