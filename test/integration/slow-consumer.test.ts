import test from 'ava';
import { ErrorCode } from '../../protocol/errors.js';
import type { RunningNode } from '../../runtime/node.js';
import { rawClient } from '../harness/raw.js';
import { eventually, startPod, user, usePostgres } from '../harness/server.js';

const pg = usePostgres(test);
let node: RunningNode;
const CAP = 1024 * 1024;

test.before(async () => {
  node = await startPod({
    databaseUrl: await (await pg()).createDatabase(),
    maxOutboundBytes: CAP,
    sendRatePerSec: 100000,
    sendBurst: 100000,
  });
});
test.after.always(async () => {
  await node?.stop();
});

async function slowConsumerCount(): Promise<number> {
  const m = await node.metrics.slowConsumers.get();
  return m.values[0]?.value ?? 0;
}

test('a client that stops reading is dropped as a slow consumer; others are unaffected', async (t) => {
  const sender = await user(t, node);
  const reader = await user(t, node);
  const { channel } = await sender.create(`firehose-${sender.name}`, 'public');
  await reader.join(channel.id);
  let received = 0;
  reader.on('message', () => received++);
  await reader.subscribe(channel.id);

  // The stalled client speaks the protocol by hand so it can stop reading.
  const stalled = await rawClient(node.port);
  await stalled.request('hello', { version: 1 });
  const lazy = await user(t, node, 'lazy');
  const tokenOwner = await stalled.request('login', { name: lazy.name, password: 'correct horse battery' });
  t.truthy(tokenOwner.result);
  t.truthy((await stalled.request('join', { channel: channel.id })).result);
  t.truthy((await stalled.request('subscribe', { channel: channel.id })).result);
  stalled.socket.pause();

  const heapBefore = process.memoryUsage().heapUsed;
  const body = 'x'.repeat(3980);
  const total = 3000; // ~12 MB: well past loopback socket buffers plus the cap
  for (let i = 0; i < total; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => sender.send(channel.id, `${i + k} ${body}`)));
  }
  await eventually(async () => (await slowConsumerCount()) >= 1, 20000, 'slow consumer dropped');
  await eventually(() => received === total, 20000, 'reader got everything');
  t.is(received, total);
  t.is(await slowConsumerCount(), 1, 'only the stalled client was dropped');
  const grown = process.memoryUsage().heapUsed - heapBefore;
  t.true(grown < 200 * 1024 * 1024, `heap grew by ${grown} bytes`);

  // The stalled client, reading again, finds the reason at the end of its stream.
  stalled.socket.resume();
  await stalled.closed;
  const last = stalled.frames.at(-1) as { ev?: string; error?: { code: number } } | undefined;
  if (last?.ev === 'error') t.is(last.error?.code, ErrorCode.SLOW_CONSUMER);

  // Nothing was lost: the dropped client resumes from history.
  const back = await user(t, node, 'back');
  await back.join(channel.id);
  const h = await back.history(channel.id, { after: total - 5 });
  t.deepEqual(h.messages.map((m) => m.seq), [total - 4, total - 3, total - 2, total - 1, total]);
});
