import test from 'ava';
import { HistoryRing } from '../../actors/channel/ring.js';
import type { MessageView } from '../../protocol/messages.js';

const msg = (seq: number): MessageView => ({ channel: 1, seq, sender: 1, from: 'a', body: `m${seq}`, ts: seq, cmid: `c${seq}` });
const seqs = (ms: MessageView[] | null) => ms?.map((m) => m.seq) ?? null;

test('keeps the newest messages up to its capacity', (t) => {
  const r = new HistoryRing(3);
  for (let i = 1; i <= 5; i++) r.push(msg(i));
  t.is(r.firstSeq, 3);
  t.is(r.get(4)?.body, 'm4');
  t.is(r.get(2), undefined);
});

test('answers ranges it covers and refuses the rest', (t) => {
  const r = new HistoryRing(4);
  for (let i = 1; i <= 6; i++) r.push(msg(i));
  t.deepEqual(seqs(r.after(3, 6, 10)), [4, 5, 6]);
  t.deepEqual(seqs(r.after(2, 6, 2)), [3, 4]);
  t.deepEqual(seqs(r.after(6, 6, 10)), []);
  t.is(r.after(1, 6, 10), null, 'seq 2 is no longer held');
  t.deepEqual(seqs(r.before(7, 2)), [5, 6]);
  t.is(r.before(4, 2), null, 'would need seq 2');
});

test('a ring that starts at seq 1 answers any before query', (t) => {
  const r = new HistoryRing(10);
  for (let i = 1; i <= 3; i++) r.push(msg(i));
  t.deepEqual(seqs(r.before(3, 50)), [1, 2]);
  t.deepEqual(seqs(r.before(1, 50)), []);
});

test('a hole in pushed seqs restarts the ring rather than answering wrongly', (t) => {
  const r = new HistoryRing(10);
  r.push(msg(1));
  r.push(msg(2));
  r.push(msg(5));
  t.is(r.firstSeq, 5);
  t.is(r.after(2, 5, 10), null);
});

test('capacity zero holds nothing', (t) => {
  const r = new HistoryRing(0);
  r.push(msg(1));
  t.is(r.get(1), undefined);
  t.is(r.after(0, 1, 10), null);
});
