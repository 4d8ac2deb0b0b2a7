import test from 'ava';
import { AppendCombiner } from '../../runtime/store/append-combiner.js';
import type { AppendRequest, AppendResult } from '../../runtime/store/append-sql.js';
import { StoreError, type AppendOutcome } from '../../runtime/ports.js';

/** A statement runner that records each group and finishes when told to. */
function recorder() {
  const groups: number[][] = [];
  const finish: (() => void)[] = [];
  let seq = 0;
  const run = (requests: readonly AppendRequest[]): Promise<AppendResult[]> => {
    groups.push(requests.map((r) => r.channelId));
    return new Promise((resolve, reject) => {
      finish.push(() => {
        if (requests.some((r) => r.channelId === 666)) return reject(new Error('database gone'));
        resolve(requests.map((r): AppendResult =>
          r.epoch < 0
            ? { ok: false, error: new StoreError('fenced', 'stale') }
            : { ok: true, outcomes: r.batch.map((): AppendOutcome => ({ seq: ++seq, ts: 0, duplicate: false })) },
        ));
      });
    });
  };
  return { groups, run, next: () => finish.shift()!() };
}

const req = (channelId: number, n = 1, epoch = 1): AppendRequest => ({
  channelId,
  epoch,
  batch: Array.from({ length: n }, (_, i) => ({ senderId: 1, cmid: `${channelId}-${i}`, body: '' })),
});
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('appends asked for in one turn leave as one statement; later ones wait for a free slot', async (t) => {
  const r = recorder();
  const c = new AppendCombiner(r.run, { maxInFlight: 1, maxRows: 100 });
  const first = [c.append(req(1)), c.append(req(2)), c.append(req(3))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]]);
  const later = [c.append(req(4)), c.append(req(5))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]], 'nothing more while the only slot is busy');
  r.next();
  t.deepEqual((await Promise.all(first)).map((o) => o[0]!.seq), [1, 2, 3]);
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3], [4, 5]]);
  r.next();
  t.deepEqual((await Promise.all(later)).map((o) => o[0]!.seq), [4, 5]);
  await turn();
  t.is(c.running, 0);
});

test('a channel has one statement in flight at a time, so its batches commit in the order asked', async (t) => {
  const r = recorder();
  const c = new AppendCombiner(r.run, { maxInFlight: 2, maxRows: 100 });
  const out = [c.append(req(1)), c.append(req(2)), c.append(req(1)), c.append(req(3)), c.append(req(1))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]], 'the free slot stays free: only channel 1 is waiting');
  const four = c.append(req(4));
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3], [4]], 'another channel takes it');
  r.next();
  await turn();
  await turn();
  t.deepEqual(r.groups.at(-1), [1]);
  r.next();
  r.next();
  await turn();
  await turn();
  t.deepEqual(r.groups.at(-1), [1]);
  r.next();
  const seqs = (await Promise.all(out)).map((o) => o[0]!.seq);
  t.true(seqs[0]! < seqs[2]! && seqs[2]! < seqs[4]!, `channel 1 committed in order: ${seqs}`);
  t.is((await four).length, 1);
});

test('a statement carries at most maxRows messages, but a larger batch still goes alone', async (t) => {
  const r = recorder();
  const c = new AppendCombiner(r.run, { maxInFlight: 3, maxRows: 4 });
  const out = [c.append(req(1, 3)), c.append(req(2, 2)), c.append(req(3, 9)), c.append(req(4, 1))];
  await turn();
  t.deepEqual(r.groups, [[1, 4], [2], [3]]);
  r.next();
  r.next();
  r.next();
  t.deepEqual((await Promise.all(out)).map((o) => o.length), [3, 2, 9, 1]);
});

test('a refused channel fails alone; a failed statement fails every request it carried, and the next statement runs', async (t) => {
  const r = recorder();
  const c = new AppendCombiner(r.run, { maxInFlight: 1, maxRows: 100 });
  const ok = c.append(req(1));
  const stale = c.append(req(2, 1, -1));
  await turn();
  r.next();
  t.is((await ok).length, 1);
  const err = await t.throwsAsync(stale, { instanceOf: StoreError });
  t.is(err?.kind, 'fenced');

  const doomed = [c.append(req(666)), c.append(req(7))];
  await turn();
  r.next();
  for (const p of doomed) await t.throwsAsync(p, { message: 'database gone' });
  const after = c.append(req(8));
  await turn();
  r.next();
  t.is((await after).length, 1);
  await turn();
  t.is(c.running, 0);
});
