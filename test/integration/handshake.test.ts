import test from 'ava';
import { ErrorCode } from '../../protocol/errors.js';
import { encodeFrame } from '../../protocol/codec.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { rawClient } from '../harness/raw.js';
import { user, usePod } from '../harness/server.js';

const pod = usePod(test);

test('requests are taken in order: hello, auth and subscribe in one write all succeed', async (t) => {
  const node = pod();
  const a = await user(t, node, 'pipe');
  const token = a.token!;
  const { channel } = await a.create(`pipe-${a.name}`, 'public');
  await a.send(channel.id, 'before');
  const r = await rawClient(node.port);
  t.teardown(() => r.close());
  r.socket.write(Buffer.concat([
    encodeFrame({ op: 'hello', id: 1, version: 1 }),
    encodeFrame({ op: 'auth', id: 2, token }),
    encodeFrame({ op: 'subscribe', id: 3, channel: channel.id, after: 0 }),
  ]));
  const [hello, auth, sub] = await Promise.all([1, 2, 3].map((id) => r.next((f) => f.id === id)));
  t.truthy(hello!.result);
  t.like(auth!.result, { name: a.name });
  t.like(sub!.result, { lastSeq: 1 });

  // Behind a failed hello, the next request is refused as HELLO_REQUIRED.
  const bad = await rawClient(node.port);
  t.teardown(() => bad.close());
  bad.socket.write(Buffer.concat([encodeFrame({ op: 'hello', id: 1, version: 99 }), encodeFrame({ op: 'auth', id: 2, token })]));
  const [h, au] = await Promise.all([1, 2].map((id) => bad.next((f) => f.id === id)));
  t.is((h!.error as { code: number }).code, ErrorCode.UNSUPPORTED_VERSION);
  t.is((au!.error as { code: number }).code, ErrorCode.HELLO_REQUIRED);
});

test('a crowd resuming at once: every token answered right, a revoked one refused', async (t) => {
  const node = pod();
  const users = await Promise.all(Array.from({ length: 30 }, () => user(t, node, 'crowd')));
  const revoked = await user(t, node, 'gone');
  const revokedToken = revoked.token!;
  await revoked.logout();
  const resumes = users.map(async (u) => {
    const c = new TertuliaClient({ host: '127.0.0.1', port: node.port, token: u.token!, reconnect: false });
    t.teardown(() => c.close());
    await c.connect();
    return c.user?.name;
  });
  const refused = new TertuliaClient({ host: '127.0.0.1', port: node.port, token: revokedToken, reconnect: false });
  t.teardown(() => refused.close());
  const [names] = await Promise.all([Promise.all(resumes), refused.connect().catch(() => {})]);
  t.deepEqual(names, users.map((u) => u.name));
  t.is(refused.user, undefined);
});
