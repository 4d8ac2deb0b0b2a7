import test from 'ava';
import { LocalRegistry } from '../../runtime/cluster/local-registry.js';
import { LeaseLostError } from '../../runtime/cluster/lease.js';
import { registryContract } from './registry.contract.js';

registryContract(test, async () => ({
  async cluster() {
    // Pods of one process share the instance; each handle's close() is harmless to the others.
    const shared = new LocalRegistry();
    return { connect: async () => shared };
  },
  async close() {},
}));

test('an injected clock decides expiry: no waiting, exact at the boundary', async (t) => {
  let now = 1_000_000;
  const registry = new LocalRegistry({ now: () => now });
  t.teardown(() => registry.close());
  const pod = await registry.register({ id: 'tertulia-0', client: 'c:1', peer: 'p:1' }, 1000);
  const { owner } = await registry.claim(5, pod);
  now += 999;
  t.true(await registry.renew(pod, 1000), 'renewed 1 ms before expiry');
  now += 1000;
  t.deepEqual(await registry.livePods(), [], 'expired exactly at its expiry time');
  t.false(await registry.renew(pod, 1000));
  t.is(await registry.owner(5), null);
  await t.throwsAsync(registry.claim(5, pod), { instanceOf: LeaseLostError });
  const next = await registry.register({ id: 'tertulia-1', client: 'c:2', peer: 'p:2' }, 1000);
  t.like(await registry.claim(5, next), { granted: true, owner: { epoch: owner.epoch + 1 } });
});

test('a closed registry refuses calls', async (t) => {
  const registry = new LocalRegistry();
  await registry.close();
  await t.throwsAsync(registry.livePods(), { message: /closed/ });
});
