import test from 'ava';
import { Redis } from 'ioredis';
import { preferredPod } from '../../runtime/cluster/placement.js';
import type { MessageView } from '../../protocol/messages.js';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { eventually, usePostgres } from '../harness/server.js';
import { checkInvariant, connect, fullHistory, type Ack } from './traffic.js';

const postgres = usePostgres(test);
let cluster: TestCluster;
let redis: Redis;
const CHANNELS = 40;

test.before(async () => {
  cluster = await startCluster(await postgres(), { size: 3, leaseMs: 1500 });
  redis = new Redis(cluster.redis.url);
});
test.after.always(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

const ownerOf = (ch: number) => redis.hget(`t${process.pid}:owner:${ch}`, 'pod');
const pods = (names: string[]) => names.map((id) => ({ id, incarnation: 1, client: '', peer: '' }));

/** Round-robin sends over many channels, one at a time, recording acks per channel. */
function roundRobin(c: import('../../protocol/client/index.js').TertuliaClient, name: string, channels: number[], acks: Map<number, Ack[]>) {
  let running = true;
  const errors: string[] = [];
  const done = (async () => {
    for (let k = 0; running; k++) {
      const ch = channels[k % channels.length]!;
      try {
        const r = await c.send(ch, `${name}:${k}`, `${name}-${k}`);
        acks.get(ch)!.push({ sender: name, n: k, seq: r.seq, at: Date.now() });
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  })();
  return { errors, stop: async () => ((running = false), await done) };
}

test.serial('a fourth pod joins: the channels placement gives it move there, nothing lost', async (t) => {
  const admin = await connect(t, cluster.pods[0]!.port);
  await admin.register('scale-admin', 'correct horse battery');
  const channels: number[] = [];
  for (let i = 0; i < CHANNELS; i++) channels.push((await admin.create(`scale-${i}`, 'public')).channel.id);
  const acks = new Map(channels.map((ch) => [ch, [] as Ack[]]));
  const seen = new Map(channels.map((ch) => [ch, [] as MessageView[]]));
  const watcher = await connect(t, cluster.pods[2]!.port);
  await watcher.register('scale-watcher', 'correct horse battery');
  watcher.on('message', (m) => seen.get(m.channel)?.push(m));
  for (const ch of channels) {
    await watcher.join(ch);
    await watcher.subscribe(ch, 0);
  }
  const writer = await connect(t, cluster.pods[1]!.port);
  await writer.register('scale-writer', 'correct horse battery');
  for (const ch of channels) await writer.join(ch);
  const traffic = roundRobin(writer, 'w', channels, acks);
  await eventually(() => [...acks.values()].every((a) => a.length >= 2), 30000, 'every channel active');

  const joined = await cluster.add('pod-3');
  const expected = channels.filter((ch) => preferredPod(ch, pods(['pod-0', 'pod-1', 'pod-2', 'pod-3']))!.id === 'pod-3');
  t.log(`${expected.length} of ${CHANNELS} channels prefer the new pod`);
  t.true(expected.length > 0);
  await eventually(
    async () => (await Promise.all(expected.map(ownerOf))).every((o) => o === 'pod-3'),
    30000,
    'the new pod owns its channels',
  );
  const before = new Map(channels.map((ch) => [ch, acks.get(ch)!.length]));
  await eventually(() => channels.every((ch) => acks.get(ch)!.length >= before.get(ch)! + 2), 30000, 'traffic after the move');
  await traffic.stop();
  t.deepEqual(traffic.errors, []);

  const others = channels.filter((ch) => !expected.includes(ch));
  for (const ch of others) t.not(await ownerOf(ch), 'pod-3', `channel ${ch} stayed`);
  for (const ch of channels) {
    const history = await fullHistory(watcher, ch);
    checkInvariant(t, history, acks.get(ch)!);
    const last = history.at(-1)?.seq ?? 0;
    await eventually(() => (seen.get(ch)!.at(-1)?.seq ?? 0) >= last, 20000, `watcher caught up on ${ch}`);
    t.deepEqual(seen.get(ch)!.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), `channel ${ch} live stream`);
  }
  t.true(joined.alive());
});

test.serial('SIGTERM drains a pod: its clients move to the others and see nothing but a reconnect', async (t) => {
  const victim = cluster.pods.find((p) => p.name === 'pod-3') ?? cluster.pods[0]!;
  const admin = await connect(t, cluster.pods.find((p) => p !== victim)!.port);
  await admin.register('drain-admin', 'correct horse battery');
  const { channel } = await admin.create('drained', 'public');
  // No alternates: the pod itself must say where to go.
  const movers = await Promise.all(
    [0, 1, 2].map(async (i) => {
      const c = await connect(t, victim.port);
      await c.register(`mover${i}`, 'correct horse battery');
      await c.join(channel.id);
      return c;
    }),
  );
  const errors: string[] = [];
  let reconnects = 0;
  for (const c of movers) {
    c.on('error', (e) => errors.push(e.message));
    c.on('reconnect', () => reconnects++);
  }
  const seen: MessageView[] = [];
  movers[0]!.on('message', (m) => seen.push(m));
  await movers[0]!.subscribe(channel.id, 0);
  const acks = new Map([[channel.id, [] as Ack[]]]);
  const runs = movers.map((c, i) => roundRobin(c, `m${i}`, [channel.id], acks));
  await eventually(() => acks.get(channel.id)!.length >= 30, 20000, 'traffic before the drain');

  cluster.signal(victim, 'SIGTERM');
  await victim.exited;
  t.is(victim.service.child.exitCode, 0, 'the drained pod exits cleanly');
  await eventually(() => reconnects >= movers.length, 20000, 'every client reconnected elsewhere');
  const n = acks.get(channel.id)!.length;
  await eventually(() => acks.get(channel.id)!.length >= n + 30, 20000, 'traffic after the drain');
  await Promise.all(runs.map((r) => r.stop()));

  t.deepEqual(runs.flatMap((r) => r.errors), [], 'no send failed');
  t.true(errors.every((e) => /shutting down/.test(e)), `only the shutdown notice: ${errors.join('; ')}`);
  const history = await fullHistory(admin, channel.id);
  checkInvariant(t, history, acks.get(channel.id)!);
  const last = history.at(-1)!.seq;
  await eventually(() => (seen.at(-1)?.seq ?? 0) >= last, 20000, 'the moved subscriber caught up');
  t.deepEqual(seen.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1));
});
