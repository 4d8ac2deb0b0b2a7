import test from 'ava';
import { Hub } from '../../actors/hub.js';
import type { Outlet } from '../../runtime/ports.js';

function outlet(id: number): Outlet & { got: string[] } {
  const got: string[] = [];
  const write = (b: Buffer): void => void got.push(b.toString());
  return { id, closed: false, got, write, writeEphemeral: write };
}

const deliver = (hub: Hub, channel: number, text: string, seq: number) => hub.apply({ channel, frame: Buffer.from(text), seq }, 'pod-0');

test('frames are held until the owner confirms, then written in order, then live', (t) => {
  const hub = new Hub();
  const o = outlet(1);
  hub.register(o, 10, 'ana');
  t.deepEqual(hub.subscribe(7, 1), { userFirst: true });
  deliver(hub, 7, 'a', 1);
  t.deepEqual(o.got, []);
  hub.confirm(7, 1, 0);
  deliver(hub, 7, 'b', 2);
  t.deepEqual(o.got, ['a', 'b']);
  t.is(hub.lastSeq(7), 2);
});

test('a failed subscribe undoes the follow; a resent one that went live survives the first failing late', (t) => {
  const hub = new Hub();
  const o = outlet(1);
  hub.register(o, 10, 'ana');

  hub.subscribe(7, 1);
  t.like(hub.abandon(7, 1), { userLeft: true, podEmpty: true });
  t.is(hub.followers(7), 0);

  // The client resends a subscribe whose reply was late; the resend succeeds first.
  hub.subscribe(7, 1);
  hub.subscribe(7, 1);
  hub.confirm(7, 1, 0);
  t.like(hub.abandon(7, 1), { userLeft: false, podEmpty: false });
  deliver(hub, 7, 'still here', 1);
  t.deepEqual(o.got, ['still here']);

  // Two attempts in flight: the first failing leaves the second to decide.
  hub.subscribe(8, 1);
  hub.subscribe(8, 1);
  hub.abandon(8, 1);
  t.is(hub.followers(8), 1, 'one attempt still waiting');
  deliver(hub, 8, 'held', 1);
  hub.confirm(8, 1, 0);
  t.deepEqual(o.got.slice(-1), ['held']);
  // Both failing: gone.
  hub.subscribe(9, 1);
  hub.subscribe(9, 1);
  hub.abandon(9, 1);
  hub.abandon(9, 1);
  t.is(hub.followers(9), 0);
});

test('unregister drops every follow of the connection and says which users left', (t) => {
  const hub = new Hub();
  const a = outlet(1);
  const b = outlet(2);
  hub.register(a, 10, 'ana');
  hub.register(b, 10, 'ana');
  hub.subscribe(7, 1);
  hub.confirm(7, 1, 0);
  hub.subscribe(7, 2);
  hub.confirm(7, 2, 0);
  t.deepEqual(hub.unregister(1), [{ channel: 7, userLeft: false, podEmpty: false }]);
  t.deepEqual(hub.unregister(2), [{ channel: 7, userLeft: true, podEmpty: true }]);
});

test('dropUsers ends only those users\' follows of the channel, on every connection they have', (t) => {
  const hub = new Hub();
  const [a1, a2, b] = [outlet(1), outlet(2), outlet(3)];
  hub.register(a1, 10, 'ana');
  hub.register(a2, 10, 'ana');
  hub.register(b, 11, 'bo');
  for (const c of [1, 2, 3]) {
    hub.subscribe(7, c);
    hub.confirm(7, c, 0);
  }
  hub.subscribe(8, 1);
  hub.confirm(8, 1, 0);
  hub.dropUsers(7, [10]);
  deliver(hub, 7, 'x', 1);
  deliver(hub, 8, 'y', 1);
  t.deepEqual([a1.got, a2.got, b.got], [['y'], [], ['x']]);
  hub.dropUsers(7, [11]);
  t.is(hub.followers(7), 0);
  t.is(hub.lastSeq(7), undefined, 'a channel nobody follows keeps no resume point');
});

test('a pending subscription past its hold cap keeps the newest message frame, so the client learns of what it missed', (t) => {
  const hub = new Hub();
  const o = outlet(1);
  hub.register(o, 10, 'ana');
  hub.subscribe(7, 1);
  const big = (c: string) => c.repeat(300 * 1024);
  for (let seq = 1; seq <= 5; seq++) hub.apply({ channel: 7, frame: Buffer.from(big(String(seq))), seq }, 'pod-0');
  hub.apply({ channel: 7, frame: Buffer.from(big('p')), ephemeral: true }, 'pod-0');
  hub.confirm(7, 1, 0);
  t.deepEqual(o.got.map((s) => s[0]), ['1', '2', '3', '5'], 'what fits, then the newest message; no presence past the cap');
});
