import test from 'ava';
import { TurnBatcher, type Settled } from '../../runtime/turn-batcher.js';

interface Req {
  key: number;
  rows: number;
  refuse?: boolean;
}

/** A statement runner that records each group and finishes a statement when told to. */
function recorder() {
  const groups: number[][] = [];
  const finish: (() => void)[] = [];
  let seq = 0;
  const run = (requests: Req[]): Promise<Settled<number>[]> => {
    groups.push(requests.map((r) => r.key));
    return new Promise((resolve, reject) => {
      finish.push(() => {
        if (requests.some((r) => r.key === 666)) return reject(new Error('database gone'));
        resolve(requests.map((r): Settled<number> => (r.refuse ? { ok: false, error: new Error(`refused ${r.key}`) } : { ok: true, value: ++seq })));
      });
    });
  };
  return { groups, run, next: () => finish.shift()!() };
}

const req = (key: number, rows = 1, refuse = false): Req => ({ key, rows, refuse });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Two turns: a finished statement's callbacks, then the flush they schedule. */
const settleTurns = async (): Promise<void> => {
  await turn();
  await turn();
};
const keyed = { weight: (r: Req) => r.rows, key: (r: Req) => r.key };

test('requests of one turn leave as one statement; later ones wait for a free slot and go together', async (t) => {
  const r = recorder();
  const b = new TurnBatcher(r.run, { maxInFlight: 1, maxWeight: 100, ...keyed });
  const first = [b.submit(req(1)), b.submit(req(2)), b.submit(req(3))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]]);
  const later = [b.submit(req(4)), b.submit(req(5))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]], 'nothing more while the only slot is busy');
  r.next();
  t.deepEqual(await Promise.all(first), [1, 2, 3]);
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3], [4, 5]]);
  r.next();
  t.deepEqual(await Promise.all(later), [4, 5]);
  await turn();
  t.is(b.running, 0);
});

test('one statement at a time per key, so a key settles in the order asked; other keys use the free slot', async (t) => {
  const r = recorder();
  const b = new TurnBatcher(r.run, { maxInFlight: 2, maxWeight: 100, ...keyed });
  const out = [b.submit(req(1)), b.submit(req(2)), b.submit(req(1)), b.submit(req(3)), b.submit(req(1))];
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3]], 'the free slot stays free: only key 1 is waiting');
  const four = b.submit(req(4));
  await turn();
  t.deepEqual(r.groups, [[1, 2, 3], [4]], 'another key takes it');
  r.next();
  await settleTurns();
  t.deepEqual(r.groups.at(-1), [1]);
  r.next();
  r.next();
  await settleTurns();
  t.deepEqual(r.groups.at(-1), [1]);
  r.next();
  const seqs = await Promise.all(out);
  t.true(seqs[0]! < seqs[2]! && seqs[2]! < seqs[4]!, `key 1 settled in order: ${seqs}`);
  t.is(typeof (await four), 'number');
});

test('a statement carries at most maxWeight, but a heavier request still goes alone', async (t) => {
  const r = recorder();
  const b = new TurnBatcher(r.run, { maxInFlight: 3, maxWeight: 4, ...keyed });
  const out = [b.submit(req(1, 3)), b.submit(req(2, 2)), b.submit(req(3, 9)), b.submit(req(4, 1))];
  await turn();
  t.deepEqual(r.groups, [[1, 4], [2], [3]]);
  r.next();
  r.next();
  r.next();
  t.is((await Promise.all(out)).length, 4);
});

test('without a key, repeats share a statement', async (t) => {
  const r = recorder();
  const b = new TurnBatcher(r.run, { maxInFlight: 1, maxWeight: 10 });
  const out = [b.submit(req(1)), b.submit(req(1)), b.submit(req(2))];
  await turn();
  t.deepEqual(r.groups, [[1, 1, 2]]);
  r.next();
  t.deepEqual(await Promise.all(out), [1, 2, 3]);
});

test('a refused request fails alone; a failed statement fails every request it carried, and the next one runs', async (t) => {
  const r = recorder();
  const b = new TurnBatcher(r.run, { maxInFlight: 1, maxWeight: 100, ...keyed });
  const ok = b.submit(req(1));
  const refused = b.submit(req(2, 1, true));
  await turn();
  r.next();
  t.is(typeof (await ok), 'number');
  await t.throwsAsync(refused, { message: 'refused 2' });

  const doomed = [b.submit(req(666)), b.submit(req(7))];
  await settleTurns();
  r.next();
  for (const p of doomed) await t.throwsAsync(p, { message: 'database gone' });
  const after = b.submit(req(8));
  await settleTurns();
  r.next();
  t.is(typeof (await after), 'number');
  await turn();
  t.is(b.running, 0);
});
