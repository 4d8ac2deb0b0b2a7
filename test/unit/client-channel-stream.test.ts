import test from 'ava';
import { ChannelStream } from '../../protocol/client/channel-stream.js';
import type { MessageView } from '../../protocol/messages.js';

const msg = (seq: number): MessageView => ({
  channel: 7,
  seq,
  sender: 1,
  from: 'ann',
  body: `m${seq}`,
  ts: 1_700_000_000_000 + seq,
  cmid: `c${seq}`,
});
const seqs = (ms: MessageView[]): number[] => ms.map((m) => m.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('in-order messages are delivered at once', (t) => {
  const s = new ChannelStream(7, 0);
  t.deepEqual(seqs(s.offer(msg(1))), [1]);
  t.deepEqual(seqs(s.offer(msg(2))), [2]);
  t.is(s.lastDelivered, 2);
  t.false(s.needsFill);
});

test('duplicates, old seqs and invalid seqs are dropped', (t) => {
  const s = new ChannelStream(7, 5);
  t.deepEqual(seqs(s.offer(msg(3))), []);
  t.deepEqual(seqs(s.offer(msg(5))), []);
  t.deepEqual(seqs(s.offer(msg(6))), [6]);
  t.deepEqual(seqs(s.offer(msg(6))), []);
  t.deepEqual(seqs(s.offer({ ...msg(7), seq: 7.5 })), []);
  t.deepEqual(seqs(s.offerAll([msg(6), msg(7), msg(7)])), [7]);
  t.is(s.lastDelivered, 7);
});

test('a gap holds later messages back and asks for a fill', (t) => {
  const s = new ChannelStream(7, 10);
  t.deepEqual(seqs(s.offer(msg(13))), []);
  t.deepEqual(seqs(s.offer(msg(12))), []);
  t.true(s.needsFill);
  t.is(s.heldCount, 2);
  // The history page that fills the gap overlaps what is held: each seq still comes once.
  t.deepEqual(seqs(s.offerAll([msg(11), msg(12), msg(13)])), [11, 12, 13]);
  t.false(s.needsFill);
  t.is(s.heldCount, 0);
});

test('a subscribe reply whose lastSeq is ahead asks for a fill until caught up', (t) => {
  const s = new ChannelStream(7, 0);
  s.noteExists(5);
  t.true(s.needsFill);
  t.deepEqual(seqs(s.offerAll([msg(1), msg(2), msg(3)])), [1, 2, 3]);
  t.true(s.needsFill);
  t.deepEqual(seqs(s.offerAll([msg(4), msg(5)])), [4, 5]);
  t.false(s.needsFill);
});

test('with no starting point, messages wait for the subscribe reply', (t) => {
  const s = new ChannelStream(7);
  t.deepEqual(seqs(s.offer(msg(9))), []);
  t.deepEqual(seqs(s.offer(msg(10))), []);
  t.false(s.needsFill, 'no fill before the starting point is known');
  t.is(s.lastDelivered, undefined);
  // lastSeq 9 in the reply: 9 is history, 10 is live.
  t.deepEqual(seqs(s.start(9)), [10]);
  t.deepEqual(seqs(s.start(3)), [], 'a known starting point never moves');
  t.is(s.lastDelivered, 10);
});

test('the held buffer is capped, dropping the newest, and the fill recovers them', (t) => {
  const s = new ChannelStream(7, 0, 3);
  for (const n of [5, 2, 9, 4, 3]) s.offer(msg(n));
  t.is(s.heldCount, 3);
  t.true(s.needsFill);
  const out = [...s.offer(msg(1))];
  t.deepEqual(seqs(out), [1, 2, 3]);
  t.true(s.needsFill, 'seq 9 is known to exist');
  out.push(...s.offerAll(range(4, 9).map(msg)));
  t.deepEqual(seqs(out), range(1, 9));
  t.false(s.needsFill);
});

test('any interleaving of live events, replay and pages yields 1..N once each, in order', (t) => {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 200; round++) {
    const n = 1 + Math.floor(random() * 60);
    const s = new ChannelStream(7, 0, 16);
    // Every seq arrives one to three times, in random order, in random batches.
    const arrivals = range(1, n).flatMap((q) => Array.from({ length: 1 + Math.floor(random() * 3) }, () => q));
    arrivals.sort(() => random() - 0.5);
    const out: MessageView[] = [];
    while (arrivals.length) {
      const batch = arrivals.splice(0, 1 + Math.floor(random() * 4)).map(msg);
      out.push(...(batch.length === 1 ? s.offer(batch[0]) : s.offerAll(batch)));
    }
    // Whatever the cap dropped is paged back, as the client would.
    while (s.needsFill) {
      const after = s.lastDelivered ?? 0;
      out.push(...s.offerAll(range(after + 1, Math.min(n, after + 5)).map(msg)));
    }
    t.deepEqual(seqs(out), range(1, n), `round ${round}`);
  }
});
