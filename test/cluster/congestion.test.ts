import test from 'ava';
import { useCluster } from '../harness/cluster.js';
import { eventually } from '../harness/server.js';
import { PROTOCOL_VERSION } from '../../protocol/messages.js';
import { rawClient } from '../harness/raw.js';
import { collect, connect, member, metric, ownedChannel } from './traffic.js';

// This test is about the link, not membership or slow clients: the lease is
// long enough that a pod frozen for a few seconds keeps it, and the outbound
// cap per client large enough that a test process slowed by a busy machine,
// reading the burst a thawed pod forwards, is not dropped as a slow consumer.
const theCluster = useCluster(test, { size: 2, leaseMs: 10_000, extra: ['--max-outbound-bytes', String(64 * 1024 * 1024)] });

test.serial('deliveries dropped behind a congested peer link reach the followers once it drains, the last ones included', async (t) => {
  const cluster = theCluster();
  const { channel, owner, others } = await ownedChannel(t, cluster, 'congested');
  const follower = others[0]!;
  const watcher = await member(t, follower.port, 'congestion-watcher', channel.id);
  const writer = await member(t, owner.port, 'congestion-writer', channel.id);
  const seen = collect(watcher, channel.id);
  let reconnects = 0;
  watcher.on('reconnect', () => reconnects++);
  watcher.on('disconnect', ({ error }) => t.log(`watcher disconnected: ${error?.message ?? 'closed by the server'}`));
  watcher.on('error', (e) => t.log(`watcher error: ${e.code} ${e.message}`));
  await watcher.subscribe(channel.id, 0);
  await writer.send(channel.id, 'before');
  await eventually(() => seen.length >= 2, 10000, 'the watcher is live');

  // Frozen, the follower pod stops reading its link: the owner's kernel and
  // user-space buffers fill, then its pushes are dropped.
  cluster.signal(follower, 'SIGSTOP');
  const frozenAt = Date.now();
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
  t.log(`the follower was frozen for ${Date.now() - frozenAt} ms`);

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

test.serial('a kick whose delivery a congested link dropped still ends the kicked user\'s feed on that pod', async (t) => {
  const cluster = theCluster();
  const { channel, owner, others } = await ownedChannel(t, cluster, 'congested-private', 'private');
  const follower = others[0]!;
  // The channel's creator writes from the owner pod, which is not frozen.
  const writer = await connect(t, owner.port);
  await writer.login('congested-private-admin', 'correct horse battery');
  const stays = await connect(t, follower.port);
  await stays.register('congestion-stays', 'correct horse battery');
  await writer.invite(channel.id, 'congestion-stays');
  const seenStays = collect(stays, channel.id);
  await stays.subscribe(channel.id, 0);
  // Users to kick read the wire themselves: the client library would hide a
  // leak behind its own gap checks (a refused history page).
  const candidates = [];
  for (let i = 0; i < 3; i++) {
    const raw = await rawClient(follower.port);
    t.teardown(() => raw.close());
    const name = `congestion-kicked-${i}`;
    await raw.request('hello', { version: PROTOCOL_VERSION });
    await raw.request('register', { name, password: 'correct horse battery' });
    await writer.invite(channel.id, name);
    t.truthy((await raw.request('subscribe', { channel: channel.id, after: 0 })).result, `${name} follows the channel`);
    candidates.push({ raw, name, kickedAfter: 0 });
  }

  cluster.signal(follower, 'SIGSTOP');
  const dropped = () => metric(owner.metricsPort, 'tertulia_peer_pushes_dropped_total');
  const body = 'z'.repeat(3900);
  let k = 0;
  const burst = (n: number) => Promise.all(Array.from({ length: n }, () => writer.send(channel.id, `${k++}:${body}`)));
  // Fill the link's buffers until the owner drops pushes to the frozen pod.
  for (const before = await dropped(); (await dropped()) === before; ) await burst(200);
  // Kick until a kick's own delivery is one of the dropped pushes (nothing
  // else goes to the frozen pod meanwhile); the kernel may take a little more
  // of the backlog at any moment, so a kick can still get through.
  let victim: (typeof candidates)[number] | undefined;
  for (const c of candidates) {
    await burst(50);
    c.kickedAfter = (await writer.history(channel.id, { limit: 1 })).messages.at(-1)!.seq;
    const before = await dropped();
    await writer.kick(channel.id, c.name);
    if ((await dropped()) > before) {
      victim = c;
      break;
    }
  }
  t.truthy(victim, 'one of the kicks was dropped behind the congested link');
  for (let i = 0; i < 20; i++) await writer.send(channel.id, `after the kick ${i}`);
  cluster.signal(follower, 'SIGCONT');
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 5; i++) await writer.send(channel.id, `later ${i}`);
  const last = (await writer.history(channel.id, { limit: 1 })).messages.at(-1)!.seq;

  await eventually(() => (seenStays.at(-1)?.seq ?? 0) >= last, 30000, 'the member who stays caught up');
  t.deepEqual(seenStays.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), 'the member who stays saw every seq');
  for (const c of candidates.filter((c) => c.kickedAfter > 0)) {
    const leaked = c.raw.frames.filter((f) => f.ev === 'msg' && (f.seq as number) > c.kickedAfter).map((f) => f.seq);
    t.deepEqual(leaked, [], `${c.name}${c === victim ? ' (whose kick was dropped)' : ''} saw nothing sent after the kick`);
  }
});

test.serial('an edit and a delete whose deliveries a congested link dropped reach that pod\'s followers once it drains', async (t) => {
  const cluster = theCluster();
  const { channel, owner, others } = await ownedChannel(t, cluster, 'congested-edits');
  const follower = others[0]!;
  const writer = await member(t, owner.port, 'congestion-editor', channel.id);
  const watcher = await member(t, follower.port, 'congestion-reader', channel.id);
  const edits = new Map<number, string>();
  const deletes = new Set<number>();
  watcher.on('edit', (e) => e.channel === channel.id && edits.set(e.seq, e.body));
  watcher.on('delete', (e) => e.channel === channel.id && deletes.add(e.seq));
  let reconnects = 0;
  watcher.on('reconnect', () => reconnects++);
  const seen = collect(watcher, channel.id);
  await watcher.subscribe(channel.id, 0);
  const first = await writer.send(channel.id, 'to be edited');
  const second = await writer.send(channel.id, 'to be deleted');
  await eventually(() => seen.length >= 2, 10000, 'the watcher is live');

  cluster.signal(follower, 'SIGSTOP');
  const dropped = () => metric(owner.metricsPort, 'tertulia_peer_pushes_dropped_total');
  const body = 'e'.repeat(3900);
  const burst = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => writer.send(channel.id, `${i}:${body}`)));
  for (const before = await dropped(); (await dropped()) === before; ) await burst(200);
  // The kernel may take a little more of the backlog at any moment: amend until one delivery is dropped.
  let editDropped = false;
  let deleteDropped = false;
  for (let i = 0; i < 5 && !editDropped; i++) {
    const before = await dropped();
    await writer.edit(channel.id, first.seq, `edited ${i}`);
    editDropped = (await dropped()) > before;
  }
  for (let i = 0; i < 5 && !deleteDropped; i++) {
    await burst(20);
    const before = await dropped();
    await writer.delete(channel.id, second.seq);
    deleteDropped = (await dropped()) > before;
  }
  cluster.signal(follower, 'SIGCONT');
  t.true(editDropped && deleteDropped, 'an edit and a delete were dropped behind the congested link');
  const lastBody = (await writer.history(channel.id, { after: first.seq - 1, limit: 1 })).messages[0]!.body;
  await eventually(() => edits.get(first.seq) === lastBody && deletes.has(second.seq), 30000, 'the watcher got the edit and the delete').catch((e) => {
    throw new Error(`${e.message}: edit ${edits.get(first.seq)} (want ${lastBody}), deleted ${deletes.has(second.seq)}`);
  });
  t.is(reconnects, 0, 'without reconnecting: the events came through the pod');
});
