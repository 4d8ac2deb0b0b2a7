import test from 'ava';
import type { PodInfo } from '../../runtime/ports.js';
import { fmix64, fnv1a64, preferredPod, rankPods, score } from '../../runtime/cluster/placement.js';

const pod = (id: string): PodInfo => ({ id, incarnation: 1, client: `${id}:7000`, peer: `${id}:7001` });
const pods = (n: number): PodInfo[] => Array.from({ length: n }, (_, i) => pod(`tertulia-${i}`));
const CHANNELS = 10_000;

/** Owner id of every channel 1..CHANNELS. */
const owners = (live: readonly PodInfo[]): string[] =>
  Array.from({ length: CHANNELS }, (_, i) => preferredPod(i + 1, live)!.id);

// BigInt reference implementations: slow but obviously right.
const M64 = (1n << 64n) - 1n;
const toBig = (x: { hi: number; lo: number }): bigint => (BigInt(x.hi) << 32n) | BigInt(x.lo);
function fmix64Ref(x: bigint): bigint {
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & M64;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & M64;
  return x ^ (x >> 33n);
}
function fnv1a64Ref(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & M64;
  return h;
}

test('the 64-bit arithmetic on 32-bit halves matches a BigInt reference', (t) => {
  const samples = [0n, 1n, 0xffffffffn, 0x100000000n, M64, 0x8000000000000000n, 0x0123456789abcdefn];
  for (let i = 0; i < 200; i++) samples.push(fmix64Ref(BigInt(i) + 0x9e3779b97f4a7c15n));
  for (const x of samples) {
    const got = fmix64({ hi: Number(x >> 32n), lo: Number(x & 0xffffffffn) });
    t.is(toBig(got), fmix64Ref(x), `fmix64(${x.toString(16)})`);
  }
  for (const s of ['', 'a', 'tertulia-0', 'tertulia-17', 'pod-ñ-😀']) t.is(toBig(fnv1a64(s)), fnv1a64Ref(s), `fnv1a64(${s})`);
});

test('deterministic and independent of the order the pods are listed in', (t) => {
  const live = pods(5);
  const reversed = [...live].reverse();
  for (let ch = 0; ch < 500; ch++) {
    t.is(preferredPod(ch, live)!.id, preferredPod(ch, reversed)!.id);
    t.deepEqual(rankPods(ch, live).map((p) => p.id), rankPods(ch, reversed).map((p) => p.id));
    t.is(rankPods(ch, live)[0]!.id, preferredPod(ch, live)!.id);
  }
  t.deepEqual(score('tertulia-3', 42), score('tertulia-3', 42));
  t.is(preferredPod(1, []), null);
  t.deepEqual(rankPods(1, []), []);
});

test('balanced: 10,000 channels over 4 pods land within ±10% of 2,500 each', (t) => {
  const counts = new Map<string, number>();
  for (const id of owners(pods(4))) counts.set(id, (counts.get(id) ?? 0) + 1);
  t.is(counts.size, 4);
  for (const [id, n] of counts) t.true(n >= 2250 && n <= 2750, `${id} owns ${n}`);
});

test('minimal movement: a 5th pod takes about 1/5, and only channels that now prefer it', (t) => {
  const four = pods(4);
  const five = [...four, pod('tertulia-4')];
  const before = owners(four);
  const after = owners(five);
  let moved = 0;
  for (let i = 0; i < CHANNELS; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    t.is(after[i], 'tertulia-4', `channel ${i + 1} moved between old pods`);
  }
  t.true(moved >= 0.18 * CHANNELS && moved <= 0.22 * CHANNELS, `moved ${moved}`);
});

test('minimal movement: removing a pod moves only that pod\'s channels', (t) => {
  const five = pods(5);
  const before = owners(five);
  const after = owners(five.filter((p) => p.id !== 'tertulia-2'));
  for (let i = 0; i < CHANNELS; i++) {
    if (before[i] !== 'tertulia-2') t.is(after[i], before[i], `channel ${i + 1}`);
    else t.not(after[i], 'tertulia-2');
  }
});

test('large channel ids are accepted; invalid ones are refused', (t) => {
  t.truthy(preferredPod(Number.MAX_SAFE_INTEGER, pods(3)));
  t.notDeepEqual(score('a', 2 ** 32), score('a', 0));
  t.throws(() => score('a', -1), { instanceOf: RangeError });
  t.throws(() => score('a', 1.5), { instanceOf: RangeError });
});
