import test from 'ava';
import { Followers } from '../../actors/channel/followers.js';
import type { Delivery } from '../../actors/fanout.js';

test('pods gone stop getting deliveries; one that registered again is told to follow again', (t) => {
  const out: { pods: string[]; d: Delivery }[] = [];
  const f = new Followers(9, (pods, d) => {
    out.push({ pods: [...pods], d });
    return [];
  });
  f.addPod('p1');
  f.addPod('p2');
  f.addPod('p3');
  f.podsGone(['p2', 'p3', 'p4'], () => '', ['p2', 'p4']);
  t.deepEqual(out.map((o) => o.pods), [['p2']], 'only a dropped follower that is back hears, and only that');
  t.true(out[0]!.d.moved);
  t.is(out[0]!.d.channel, 9);
  out.length = 0;
  f.deliver(Buffer.from([1]), 5);
  t.deepEqual(out.map((o) => o.pods), [['p1']], 'deliveries go to the remaining pod');
});

test('a pod that missed an edit or delete is owed the seq until it takes it; a pod gone for good owes nothing', (t) => {
  let unreachable: string[] = ['p2'];
  const f = new Followers(9, (pods) => [...pods].filter((p) => unreachable.includes(p)));
  f.addPod('p1');
  f.addPod('p2');
  f.broadcast({ ev: 'edit', channel: 9, seq: 7, body: 'x', edited: 1 }, { amends: 7 });
  f.broadcast({ ev: 'delete', channel: 9, seq: 3 }, { amends: 3 });
  f.broadcast({ ev: 'typing', channel: 9, user: 1, name: 'a' }, { ephemeral: true });
  t.deepEqual(f.takeAmends('p1'), [], 'the reachable pod is owed nothing');
  t.deepEqual(f.takeAmends('p2'), [3, 7], 'the other is owed both seqs, in order; a missed typing event is not owed');
  t.deepEqual(f.takeAmends('p2'), [], 'taken once');
  f.oweAmends('p2', [7]);
  unreachable = [];
  f.broadcast({ ev: 'edit', channel: 9, seq: 8, body: 'y', edited: 2 }, { amends: 8 });
  t.deepEqual(f.takeAmends('p2'), [7], 'owed again after a failed follow reply; a delivered edit is not');
  f.oweAmends('p2', [5]);
  f.podsGone(['p2'], () => '');
  t.deepEqual(f.takeAmends('p2'), [], 'gone, and not back: forgotten');
});
