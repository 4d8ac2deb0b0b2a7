import test from 'ava';
import type { MessageView } from '../../protocol/messages.js';
import type { RunningNode } from '../../runtime/node.js';
import { eventually, startPod, user, usePostgres } from '../harness/server.js';

// activeCount is pod-wide, so the tests that wait for it to reach 0 run one at a time.
const pg = usePostgres(test);
let node: RunningNode;

test.before(async () => {
  node = await startPod({ databaseUrl: await (await pg()).createDatabase(), channelIdleMs: 200 });
});
test.after.always(async () => {
  await node?.stop();
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const passivated = () => eventually(() => node.channels.activeCount === 0, 10000, 'the channel actor to stop');

test.serial('an idle channel stops; the next send reactivates it with the next seq; history is intact', async (t) => {
  const a = await user(t, node);
  const { channel } = await a.create(`idle-${a.name}`, 'public');
  const first = [];
  for (let i = 1; i <= 3; i++) first.push(await a.send(channel.id, `first ${i}`, `first-${i}`));
  t.deepEqual(first.map((x) => x.seq), [1, 2, 3]);
  t.true(node.channels.has(channel.id));

  await passivated();
  t.false(node.channels.has(channel.id));

  const next = await a.send(channel.id, 'after the nap');
  t.is(next.seq, 4, 'no gap, no reuse');
  t.true(node.channels.has(channel.id));
  // The dedupe memory survives the deactivation: it lives in the database.
  const again = await a.send(channel.id, 'first 2', 'first-2');
  t.is(again.seq, 2);
  t.true(again.duplicate);

  await passivated();
  const h = await a.history(channel.id);
  t.deepEqual(h.messages.map((m) => [m.seq, m.body]), [
    [1, 'first 1'],
    [2, 'first 2'],
    [3, 'first 3'],
    [4, 'after the nap'],
  ]);
  t.false(h.more);
  t.is(await node.store.countMessages(channel.id), 4);
  t.is((await a.channels()).channels.find((c) => c.id === channel.id)?.lastSeq, 4);
});

test.serial('a subscribed channel stays active; once unsubscribed it stops, and a resume replays from the store', async (t) => {
  const a = await user(t, node);
  const b = await user(t, node);
  const { channel } = await a.create(`watched-${a.name}`, 'public');
  await b.join(channel.id);
  const got: MessageView[] = [];
  b.on('message', (m) => {
    if (m.channel === channel.id) got.push(m);
  });
  await b.subscribe(channel.id, 0);
  for (let i = 1; i <= 3; i++) await a.send(channel.id, `m${i}`);
  await eventually(() => got.length === 3, 10000, 'live delivery');

  // Several idle periods with a subscriber: the actor must stay.
  await new Promise((r) => setTimeout(r, 800));
  t.true(node.channels.has(channel.id), 'a channel with subscribers is not passivated');

  await b.unsubscribe(channel.id);
  await passivated();

  for (let i = 4; i <= 6; i++) t.is((await a.send(channel.id, `m${i}`)).seq, i);
  await passivated();

  const resumed: MessageView[] = [];
  b.on('message', (m) => {
    if (m.channel === channel.id) resumed.push(m);
  });
  t.is(await b.subscribe(channel.id, 3), 6);
  t.deepEqual(resumed.map((m) => [m.seq, m.body]), [
    [4, 'm4'],
    [5, 'm5'],
    [6, 'm6'],
  ]);
  t.deepEqual(got.map((m) => m.seq), range(1, 6), 'b saw every seq once, in order, across the unsubscribe');
  t.is((await a.send(channel.id, 'm7')).seq, 7);
  await eventually(() => resumed.length === 4, 10000, 'live after reactivation');
  t.is(resumed[3]!.body, 'm7');
});
