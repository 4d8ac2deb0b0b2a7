import test from 'ava';
import { RedisRegistry, type RedisRegistryOptions } from '../../runtime/cluster/redis-registry.js';
import { startRedis, type PrivateRedis } from '../harness/redis.js';
import { registryContract } from './registry.contract.js';

let namespaces = 0;
/** A key prefix no other test (or concurrent test file) uses. */
const uniquePrefix = (): string => `tertulia-test-${process.pid}-${++namespaces}:`;

registryContract(test, async () => {
  const server = await startRedis();
  return {
    async cluster() {
      const prefix = uniquePrefix();
      return { connect: () => RedisRegistry.open({ url: server.url, prefix }) };
    },
    close: () => server.stop(),
  };
});

/** A registry on its own server, which the test may stop or freeze. */
async function isolated(t: import('ava').ExecutionContext, options: Partial<RedisRegistryOptions> = {}) {
  const server: PrivateRedis = await startRedis();
  t.teardown(() => server.stop());
  const registry = await RedisRegistry.open({ url: server.url, prefix: uniquePrefix(), ...options });
  t.teardown(() => registry.close());
  return { server, registry };
}

/** How long `call` took to settle, and whether it failed. */
async function settle(call: Promise<unknown>): Promise<{ ms: number; failed: boolean }> {
  const started = Date.now();
  try {
    await call;
    return { ms: Date.now() - started, failed: false };
  } catch {
    return { ms: Date.now() - started, failed: true };
  }
}

// The bound is generous (several times commandTimeoutMs) so a loaded machine does not fail it;
// what matters is that the calls end at all rather than waiting for Redis to come back.
const BOUND_MS = 3000;

test('redis stopped: every call fails within a bound instead of hanging', async (t) => {
  const { server, registry } = await isolated(t, { commandTimeoutMs: 300 });
  const pod = await registry.register({ id: 'tertulia-0', client: 'c:1', peer: 'p:1' }, 30_000);
  const stopWatch = await registry.watch(() => {}, 50);
  t.teardown(stopWatch);
  await server.stop();
  for (const call of [registry.renew(pod, 30_000), registry.claim(1, pod), registry.owner(1), registry.livePods(), registry.release(1, pod)]) {
    const { ms, failed } = await settle(call);
    t.true(failed);
    t.true(ms < BOUND_MS, `settled after ${ms} ms`);
  }
  const closing = await settle(registry.close());
  t.true(closing.ms < BOUND_MS, `close settled after ${closing.ms} ms`);
});

test('redis frozen (SIGSTOP): calls time out within a bound; they work again after SIGCONT', async (t) => {
  const { server, registry } = await isolated(t, { commandTimeoutMs: 300 });
  const pod = await registry.register({ id: 'tertulia-0', client: 'c:1', peer: 'p:1' }, 30_000);
  process.kill(server.pid, 'SIGSTOP');
  try {
    const results = await Promise.all([registry.renew(pod, 30_000), registry.claim(1, pod), registry.livePods()].map(settle));
    for (const { ms, failed } of results) {
      t.true(failed);
      t.true(ms < BOUND_MS, `settled after ${ms} ms`);
    }
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  t.true(await registry.renew(pod, 30_000));
  // The timed-out claim may or may not have run on the server; either way the pod is the holder now.
  const { owner } = await registry.claim(1, pod);
  t.is(owner.pod, pod.id);
});

test('opening against a server that is not there fails within the connect bound', async (t) => {
  const server = await startRedis();
  const url = server.url;
  await server.stop();
  const { ms, failed } = await settle(RedisRegistry.open({ url, connectTimeoutMs: 500 }));
  t.true(failed);
  t.true(ms < BOUND_MS, `settled after ${ms} ms`);
});
