/**
 * The Registry contract: one suite, run against every adapter (in-process,
 * Redis). Each test gets a fresh, empty registry, and opens one handle per pod
 * it plays, the way separate processes would, so tests can run concurrently.
 */
import type { ExecutionContext, TestFn } from 'ava';
import type { Registry } from '../../runtime/ports.js';
import { LeaseLostError } from '../../runtime/cluster/lease.js';

export interface RegistryCluster {
  /** A handle onto this registry, as one more pod would open it. The suite closes it. */
  connect(): Promise<Registry>;
}

export interface RegistryBackend {
  /** A fresh, empty registry that no other test sees. */
  cluster(): Promise<RegistryCluster>;
  /** Stops whatever server the registries run on. */
  close(): Promise<void>;
}

/** Long enough that no test loses a lease it did not mean to lose. */
const LONG_LEASE = 30_000;
const SHORT_LEASE = 200;

/** Polls until `probe` holds; bounded so a broken adapter fails instead of hanging. */
export async function eventually(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const podIn = (id: string) => ({ id, client: `${id}.svc:7000`, peer: `${id}.svc:7001` });

export function registryContract(test: TestFn, open: () => Promise<RegistryBackend>): void {
  let backend: RegistryBackend | undefined;
  test.before(async () => {
    backend = await open();
  });
  test.after.always(async () => {
    await backend?.close();
  });

  /** `n` handles onto one fresh registry, closed when the test ends. */
  async function handles(t: ExecutionContext, n: number): Promise<Registry[]> {
    const cluster = await backend!.cluster();
    const registries: Registry[] = [];
    t.teardown(async () => {
      await Promise.all(registries.map((r) => r.close()));
    });
    for (let i = 0; i < n; i++) registries.push(await cluster.connect());
    return registries;
  }
  const liveIds = async (r: Registry): Promise<string[]> => (await r.livePods()).map((p) => p.id);

  test('register: fresh incarnations, increasing for the same id', async (t) => {
    const [a, b] = await handles(t, 2);
    const first = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    t.deepEqual({ ...first, incarnation: 0 }, { ...podIn('tertulia-0'), incarnation: 0 });
    t.true(first.incarnation >= 1);
    const second = await b!.register(podIn('tertulia-0'), LONG_LEASE);
    t.true(second.incarnation > first.incarnation);
    await a!.deregister(second);
    const third = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    t.true(third.incarnation > second.incarnation, 'a restart after deregister still gets a newer incarnation');
    t.deepEqual(await b!.livePods(), [third]);
  });

  test('renew: the old incarnation of a re-registered pod is refused', async (t) => {
    const [a] = await handles(t, 1);
    const old = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    const fresh = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    t.false(await a!.renew(old, LONG_LEASE));
    t.true(await a!.renew(fresh, LONG_LEASE));
    await a!.deregister(old);
    t.deepEqual(await a!.livePods(), [fresh], 'deregistering the old incarnation leaves the new one alone');
  });

  test('livePods: only pods with a live lease, sorted by id', async (t) => {
    const [a, b] = await handles(t, 2);
    t.deepEqual(await a!.livePods(), []);
    const p2 = await a!.register(podIn('tertulia-2'), LONG_LEASE);
    const p0 = await b!.register(podIn('tertulia-0'), LONG_LEASE);
    const p1 = await b!.register(podIn('tertulia-1'), LONG_LEASE);
    await b!.register(podIn('tertulia-3'), SHORT_LEASE);
    await eventually(async () => (await liveIds(a!)).length === 3, 'the short lease to expire');
    t.deepEqual(await a!.livePods(), [p0, p1, p2]);
    await a!.deregister(p1);
    t.deepEqual(await b!.livePods(), [p0, p2]);
  });

  test('a lease that is renewed stays; one that is not expires, and then cannot be renewed', async (t) => {
    const [a, b] = await handles(t, 2);
    const kept = await a!.register(podIn('kept'), 600);
    const lapsed = await b!.register(podIn('lapsed'), SHORT_LEASE);
    const stopAt = Date.now() + 1000;
    while (Date.now() < stopAt) {
      t.true(await a!.renew(kept, 600));
      await sleep(50);
    }
    await eventually(async () => !(await liveIds(a!)).includes('lapsed'), 'the lapsed lease to expire');
    t.deepEqual(await liveIds(b!), ['kept']);
    t.false(await b!.renew(lapsed, LONG_LEASE), 'an expired lease is never silently re-taken');
    t.deepEqual(await liveIds(b!), ['kept']);
  });

  test('claim: a free channel is granted with epoch 1; a second pod is refused and told the holder', async (t) => {
    const [a, b] = await handles(t, 2);
    const p0 = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    const p1 = await b!.register(podIn('tertulia-1'), LONG_LEASE);
    const holder = { pod: p0.id, incarnation: p0.incarnation, epoch: 1 };
    t.deepEqual(await a!.claim(7, p0), { granted: true, owner: holder });
    t.deepEqual(await b!.claim(7, p1), { granted: false, owner: holder });
    t.deepEqual(await b!.owner(7), holder);
    t.deepEqual(await a!.claim(7, p0), { granted: false, owner: holder }, 'the holder claiming again is told it already holds it');
    t.is(await a!.owner(8), null);
  });

  test('claim: after the holder\'s lease expires, another pod is granted a higher epoch', async (t) => {
    const [a, b] = await handles(t, 2);
    const p0 = await a!.register(podIn('tertulia-0'), SHORT_LEASE);
    const p1 = await b!.register(podIn('tertulia-1'), LONG_LEASE);
    const first = await a!.claim(11, p0);
    t.true(first.granted);
    await eventually(async () => (await b!.owner(11)) === null, 'the expired holder to stop counting as owner');
    const second = await b!.claim(11, p1);
    t.true(second.granted);
    t.is(second.owner.pod, p1.id);
    t.true(second.owner.epoch > first.owner.epoch);
    await t.throwsAsync(a!.claim(12, p0), { instanceOf: LeaseLostError }, 'a pod without a lease cannot claim');
  });

  test('release: the holder frees the channel; a non-holder changes nothing', async (t) => {
    const [a, b] = await handles(t, 2);
    const p0 = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    const p1 = await b!.register(podIn('tertulia-1'), LONG_LEASE);
    const { owner } = await a!.claim(3, p0);
    await b!.release(3, p1);
    await b!.release(3, { ...p0, incarnation: p0.incarnation + 1 });
    t.deepEqual(await b!.owner(3), owner);
    await a!.release(3, p0);
    t.is(await b!.owner(3), null);
    const next = await b!.claim(3, p1);
    t.true(next.granted);
    t.true(next.owner.epoch > owner.epoch, 'every grant carries a new epoch');
    await b!.release(99, p1);
    t.is(await a!.owner(99), null);
  });

  test('claim: five pods racing for one channel, exactly one is granted', async (t) => {
    const registries = await handles(t, 5);
    const pods = await Promise.all(registries.map((r, i) => r.register(podIn(`tertulia-${i}`), LONG_LEASE)));
    for (const channel of [21, 22, 23]) {
      const results = await Promise.all(registries.map((r, i) => r.claim(channel, pods[i]!)));
      const winners = results.filter((r) => r.granted);
      t.is(winners.length, 1, `channel ${channel}`);
      for (const r of results) t.deepEqual(r.owner, winners[0]!.owner);
      t.deepEqual(await registries[0]!.owner(channel), winners[0]!.owner);
    }
  });

  test('deregister: the pod\'s claims become claimable again', async (t) => {
    const [a, b] = await handles(t, 2);
    const p0 = await a!.register(podIn('tertulia-0'), LONG_LEASE);
    const p1 = await b!.register(podIn('tertulia-1'), LONG_LEASE);
    const held = await Promise.all([1, 2, 3].map((ch) => a!.claim(ch, p0)));
    t.true(held.every((r) => r.granted));
    await a!.deregister(p0);
    t.deepEqual(await liveIds(b!), ['tertulia-1']);
    for (const ch of [1, 2, 3]) {
      t.is(await b!.owner(ch), null);
      const again = await b!.claim(ch, p1);
      t.true(again.granted);
      t.is(again.owner.epoch, 2);
    }
  });

  test('watch: told promptly of register and deregister by another pod', async (t) => {
    const [watcher, other] = await handles(t, 2);
    let changes = 0;
    // A check period far beyond the test: only the push can deliver in time.
    const stop = await watcher!.watch(() => changes++, 60_000);
    t.teardown(stop);
    const p = await other!.register(podIn('tertulia-5'), LONG_LEASE);
    await eventually(() => changes >= 1, 'a change on register');
    t.deepEqual(await watcher!.livePods(), [p]);
    const seen = changes;
    await other!.deregister(p);
    await eventually(() => changes > seen, 'a change on deregister');
    t.deepEqual(await watcher!.livePods(), []);
  });

  test('watch: a lease that simply expires is noticed by the periodic check; stop ends the calls', async (t) => {
    const [watcher, other] = await handles(t, 2);
    await other!.register(podIn('tertulia-6'), SHORT_LEASE);
    let changes = 0;
    const stop = await watcher!.watch(() => changes++, 50);
    await eventually(() => changes >= 1, 'a change on expiry');
    t.deepEqual(await watcher!.livePods(), []);
    stop();
    const after = changes;
    await other!.register(podIn('tertulia-7'), LONG_LEASE);
    await sleep(300);
    t.is(changes, after, 'no calls after stop');
  });
}
