import test from 'ava';
import { pino } from 'pino';
import { decode } from '../../protocol/codec.js';
import { FrameDecoder } from '../../protocol/frame.js';
import { Hub } from '../../actors/hub.js';
import { Follower } from '../../runtime/cluster/follower.js';
import type { Outlet } from '../../runtime/ports.js';

function outlet(id: number): Outlet & { seqs: () => number[] } {
  const frames: Record<string, unknown>[] = [];
  const decoder = new FrameDecoder(1 << 20);
  const write = (b: Buffer): void => void decoder.push(b, (p) => frames.push(decode(p) as Record<string, unknown>));
  return { id, closed: false, write, writeEphemeral: write, seqs: () => frames.filter((f) => f.ev === 'msg').map((f) => f.seq as number) };
}

const msg = (seq: number) => ({ channel: 7, seq, sender: 10, name: 'ana', body: `m${seq}`, cmid: `c${seq}`, ts: 1 });
const silent = pino({ level: 'silent' });

/** A hub where user 10 (connection 1) and user 11 (connection 2) follow channel 7. */
function setup() {
  const hub = new Hub();
  const a = outlet(1);
  const b = outlet(2);
  hub.register(a, 10, 'ana');
  hub.register(b, 11, 'bo');
  for (const c of [1, 2]) {
    hub.subscribe(7, c);
    hub.confirm(7, c, 0);
  }
  return { hub, a, b };
}

type Ask = (channel: number, topic: string, arg: unknown) => Promise<unknown>;
function router(ask: Ask) {
  return { ask: ask as never, forget: () => {}, forgetPods: () => {}, cachedOwner: () => undefined };
}

test('a pod keeps trying to follow again until the owner answers, then delivers the gap', async (t) => {
  const { hub, a } = setup();
  let calls = 0;
  const follower = new Follower(hub, router(async (_c, topic) => {
    t.is(topic, 'follow');
    if (++calls <= 30) throw new Error('owner unreachable');
    return { lastSeq: 3, messages: [msg(1), msg(2), msg(3)], complete: true };
  }), () => 'pod-0', silent, { baseMs: 1, maxMs: 2 });
  await follower.refollow(7);
  t.is(calls, 31, 'past twenty failures it did not give up');
  t.deepEqual(a.seqs(), [1, 2, 3]);
  t.is(hub.lastSeq(7), 3);
});

test('a trigger while following again runs once more afterwards; a tip at or below what was delivered asks nothing', async (t) => {
  const { hub } = setup();
  const asked: (number | undefined)[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const follower = new Follower(hub, router(async (_c, _topic, arg) => {
    asked.push((arg as { after?: number }).after);
    if (asked.length === 1) await gate;
    return { lastSeq: 4, messages: asked.length === 1 ? [msg(1), msg(2)] : [msg(3), msg(4)], complete: true };
  }), () => 'pod-0', silent, { baseMs: 1, maxMs: 2 });
  const first = follower.refollow(7);
  void follower.refollow(7);
  void follower.refollow(7);
  release();
  await first;
  t.deepEqual(asked, [undefined, 2], 'two asks, the second from where the first left off');
  follower.tip(7, 4);
  follower.tip(7, 3);
  await new Promise((r) => setTimeout(r, 10));
  t.is(asked.length, 2, 'nothing was missed');
  t.deepEqual(follower.counts.get('tip') ?? 0, 0);
  follower.tip(7, 9);
  for (let i = 0; i < 100 && asked.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(asked, [undefined, 2, 4], 'a tip past what was delivered follows again from there');
  t.is(follower.counts.get('tip'), 1);
});

test('users the owner says are no longer members stop getting the channel before the gap is delivered', async (t) => {
  const { hub, a, b } = setup();
  const follower = new Follower(hub, router(async () => ({ lastSeq: 2, messages: [msg(1), msg(2)], complete: true, notMembers: [10] })), () => 'pod-0', silent);
  await follower.refollow(7);
  t.deepEqual(a.seqs(), [], 'the removed user saw nothing');
  t.deepEqual(b.seqs(), [1, 2]);
  t.deepEqual(hub.users(7), [{ user: 11, name: 'bo' }]);
});

test('a long gap is pushed up to the byte budget, then only its newest message; clients fill the rest from history', async (t) => {
  const { hub, a } = setup();
  const asks: Record<string, unknown>[] = [];
  const all = Array.from({ length: 1000 }, (_, i) => msg(i + 1));
  const follower = new Follower(hub, router(async (_c, topic, arg) => {
    const q = arg as { after?: number; before?: number; limit?: number };
    asks.push({ topic, after: q.after, before: q.before, limit: q.limit });
    if (topic === 'follow') return { lastSeq: 1000, messages: all.slice(0, 100), complete: false };
    const page = q.before !== undefined ? all.filter((m) => m.seq < q.before!).slice(-q.limit!) : all.filter((m) => m.seq > q.after!).slice(0, q.limit);
    return { messages: page, more: true };
  }), () => 'pod-0', silent, { baseMs: 1, maxMs: 2 }, 8000);
  await follower.refollow(7);
  const seqs = a.seqs();
  t.deepEqual(seqs.slice(0, -1), Array.from({ length: 300 }, (_, i) => i + 1), 'the reply and one page went out before the budget ran out');
  t.is(seqs.at(-1), 1000, 'then the newest message, which shows the gap');
  t.deepEqual(asks.at(-1), { topic: 'history', after: undefined, before: 1001, limit: 1 });
  t.is(hub.lastSeq(7), 1000);
});

test('edits and deletes the owner says this pod missed reach its connections as events', async (t) => {
  const { hub, a } = setup();
  const frames: Record<string, unknown>[] = [];
  const write = a.write;
  a.write = (b: Buffer) => {
    const decoder = new FrameDecoder(1 << 20);
    decoder.push(b, (p) => frames.push(decode(p) as Record<string, unknown>));
    write(b);
  };
  const amended = [{ ...msg(1), body: '', deleted: true }, { ...msg(2), body: 'fixed', edited: 5 }];
  const follower = new Follower(hub, router(async () => ({ lastSeq: 2, messages: [], complete: true, amended })), () => 'pod-0', silent);
  await follower.refollow(7);
  t.deepEqual(frames.filter((f) => f.ev !== 'msg'), [
    { ev: 'delete', channel: 7, seq: 1 },
    { ev: 'edit', channel: 7, seq: 2, body: 'fixed', edited: 5 },
  ]);
});
