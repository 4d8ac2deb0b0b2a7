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
