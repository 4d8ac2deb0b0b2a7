import test from 'ava';
import { OwedTips } from '../../runtime/cluster/owed-tips.js';

function recorder(reachable: Set<string>) {
  const sent: { pod: string; channel: number; seq: number }[] = [];
  const push = (pod: string, tip: { channel: number; seq: number }) => {
    if (!reachable.has(pod)) return false;
    sent.push({ pod, ...tip });
    return true;
  };
  return { sent, push };
}

test('the highest missed seq per pod and channel goes out once the pod is reachable', (t) => {
  const reachable = new Set<string>();
  const { sent, push } = recorder(reachable);
  const tips = new OwedTips(push, { retryMs: 60_000, max: 100 });
  t.teardown(() => tips.stop());
  tips.note('a', 1, 5);
  tips.note('a', 1, 9);
  tips.note('a', 1, 7);
  tips.note('a', 2, 3);
  tips.note('b', 1, 4);
  tips.flush();
  t.deepEqual(sent, [], 'nothing reaches an unreachable pod');
  t.is(tips.pending, 3);
  reachable.add('a');
  tips.flush();
  t.deepEqual(sent, [{ pod: 'a', channel: 1, seq: 9 }, { pod: 'a', channel: 2, seq: 3 }]);
  t.is(tips.pending, 1, "b's tip is still owed");
  tips.flush();
  t.is(sent.length, 2, 'a delivered tip is not sent again');
});

test('a lost moved notice (seq 0) outranks any seq and is not overwritten by later ones', (t) => {
  const reachable = new Set<string>();
  const { sent, push } = recorder(reachable);
  const tips = new OwedTips(push, { retryMs: 60_000, max: 100 });
  t.teardown(() => tips.stop());
  tips.note('a', 1, 5);
  tips.note('a', 1, 0);
  tips.note('a', 1, 12);
  reachable.add('a');
  tips.flush();
  t.deepEqual(sent, [{ pod: 'a', channel: 1, seq: 0 }]);
});

test('pods that left are forgotten, and the entry cap holds', (t) => {
  const { sent, push } = recorder(new Set(['a', 'b']));
  const tips = new OwedTips(push, { retryMs: 60_000, max: 3 });
  t.teardown(() => tips.stop());
  for (let ch = 1; ch <= 5; ch++) tips.note('a', ch, ch);
  t.is(tips.pending, 3, 'past the cap new entries are not recorded');
  tips.note('a', 2, 50);
  t.is(tips.pending, 3, 'an existing entry may still rise');
  tips.forget(['a']);
  t.is(tips.pending, 0);
  tips.note('b', 1, 1);
  tips.flush();
  t.deepEqual(sent, [{ pod: 'b', channel: 1, seq: 1 }]);
});

test('owed tips are retried on a timer until they get through', async (t) => {
  const reachable = new Set<string>();
  const { sent, push } = recorder(reachable);
  const tips = new OwedTips(push, { retryMs: 10, max: 100 });
  t.teardown(() => tips.stop());
  tips.note('a', 7, 70);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(sent, []);
  reachable.add('a');
  for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(sent, [{ pod: 'a', channel: 7, seq: 70 }]);
  t.is(tips.pending, 0);
});
