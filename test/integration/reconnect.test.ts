import test, { type ExecutionContext } from 'ava';
import type { MessageView } from '../../protocol/messages.js';
import type { RunningNode } from '../../runtime/node.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { client, eventually, startPod, user, usePostgres } from '../harness/server.js';

// Both tests restart the one pod of this file, so they run one after the other.
const pg = usePostgres(test);
let node: RunningNode;
let url: string;

test.before(async () => {
  url = await (await pg()).createDatabase();
  node = await startPod({ databaseUrl: url });
});
test.after.always(async () => {
  await node?.stop();
});

/** Stops the pod; `whileDown` runs with no server listening; then a new pod takes the same port and database. */
async function restart(whileDown: () => Promise<void> = async () => {}): Promise<void> {
  const port = node.port;
  await node.stop();
  await whileDown();
  node = await startPod({ databaseUrl: url, port });
}

/** A client with its own reconnect settings, authenticated with `token`, closed when the test ends. */
async function resumingClient(
  t: ExecutionContext,
  token: string,
  random: () => number,
  reconnect = { initialMs: 100, maxMs: 1500 },
): Promise<TertuliaClient> {
  const c = new TertuliaClient({
    host: '127.0.0.1',
    port: node.port,
    token,
    requestTimeoutMs: 15000,
    reconnect,
    random,
  });
  t.teardown(() => c.close());
  await c.connect();
  return c;
}

function collect(c: TertuliaClient, channel: number): MessageView[] {
  const got: MessageView[] = [];
  c.on('message', (m) => {
    if (m.channel === channel) got.push(m);
  });
  return got;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test.serial('a subscriber survives a server restart: reconnects, re-authenticates, resumes from its last seq', async (t) => {
  const alice = await user(t, node, 'alice');
  const bobLogin = await user(t, node, 'bob');
  const { channel } = await alice.create(`restart-${alice.name}`, 'public');
  await bobLogin.join(channel.id);
  const aliceToken = alice.token!;
  const bobToken = bobLogin.token!;
  await bobLogin.close();

  // The jitter source is fixed so that bob's first delay (0.9 × 2 s) most likely
  // outlasts the restart and the missed sends, and they come back through the
  // resume replay rather than live; the assertions hold either way.
  const draws = [0.9, 0.35, 0.8, 0.6, 0.95, 0.5];
  let drawn = 0;
  const bob = await resumingClient(t, bobToken, () => draws[drawn++ % draws.length]!, { initialMs: 2000, maxMs: 2000 });
  const states: string[] = [];
  const reconnects: number[] = [];
  const errors: number[] = [];
  bob.on('state', (s) => states.push(s));
  bob.on('reconnect', ({ attempts }) => reconnects.push(attempts));
  bob.on('error', (e) => errors.push(e.code));
  const got = collect(bob, channel.id);
  await bob.subscribe(channel.id, 0);

  for (let i = 1; i <= 3; i++) await alice.send(channel.id, `before ${i}`);
  await eventually(() => got.length === 3, 10000, 'live before the restart');
  await alice.close();

  const meanwhile = 30;
  await restart(async () => {
    await eventually(() => bob.state === 'reconnecting', 10000, 'bob notices the drop');
  });

  // Another client, connected after the restart, sends while bob may still be away.
  const alice2 = await client(t, node);
  await alice2.auth(aliceToken);
  for (let i = 1; i <= meanwhile; i++) await alice2.send(channel.id, `meanwhile ${i}`);
  t.log(`bob was ${bob.state} when the last missed message was acknowledged (${got.length} delivered)`);

  await eventually(() => got.length === 3 + meanwhile, 15000, 'bob resumes what he missed');
  t.is(bob.state, 'connected');
  t.is(bob.user?.name, bobLogin.name, 'the session came back through the token');
  t.true(reconnects.length >= 1);
  t.true(reconnects.every((n) => n >= 1), 'each reconnect came after at least one backoff delay');

  for (let i = 1; i <= 3; i++) await alice2.send(channel.id, `live ${i}`);
  await eventually(() => got.length === 3 + meanwhile + 3, 10000, 'live after resume');
  // A moment for any stray duplicate to show up.
  await alice2.ping();
  await bob.ping();

  t.deepEqual(got.map((m) => m.seq), range(1, 3 + meanwhile + 3), 'every message once, in seq order');
  t.deepEqual(got.map((m) => m.body), [
    ...range(1, 3).map((i) => `before ${i}`),
    ...range(1, meanwhile).map((i) => `meanwhile ${i}`),
    ...range(1, 3).map((i) => `live ${i}`),
  ]);
  t.true(got.every((m) => m.from === alice.name));
  t.is(bob.lastDelivered(channel.id), 3 + meanwhile + 3);
  t.deepEqual(bob.subscribedChannels(), [channel.id]);
  t.false(errors.includes(13), 'the token was not refused on resume');
  t.true(states.includes('reconnecting'));
  t.is(states.at(-1), 'connected');
  // Bob's session is usable without a new login.
  t.is((await bob.send(channel.id, 'bob is back')).seq, 3 + meanwhile + 4);
});

test.serial('sends issued while the server is down, or in flight when it stops, complete after the restart and are stored once', async (t) => {
  const carmen = await user(t, node, 'carmen');
  const { channel } = await carmen.create(`down-${carmen.name}`, 'public');
  const token = carmen.token!;
  await carmen.close();
  const writer = await resumingClient(t, token, Math.random);
  t.is((await writer.send(channel.id, 'first')).seq, 1);

  // In flight when the stop begins: their replies may or may not get out.
  const inFlight = Array.from({ length: 5 }, (_, i) => writer.send(channel.id, `in flight ${i}`, `inflight-${i}`));
  let whileDown: ReturnType<TertuliaClient['send']> | undefined;
  await restart(async () => {
    await eventually(() => writer.state === 'reconnecting', 10000, 'drop noticed');
    whileDown = writer.send(channel.id, 'sent while the server was down', 'down-1');
    await new Promise((r) => setTimeout(r, 200));
  });

  const acks = await Promise.all([...inFlight, whileDown!]);
  const seqs = acks.map((a) => a.seq);
  t.deepEqual([...seqs].sort((a, b) => a - b), range(2, 7), 'each send has its own seq, gap-free');
  t.is(await node.store.countMessages(channel.id), 7, 'one row per send, whatever the retries');
  const h = await writer.history(channel.id);
  t.deepEqual(h.messages.map((m) => m.seq), range(1, 7));
  const down = h.messages.filter((m) => m.cmid === 'down-1');
  t.is(down.length, 1);
  t.is(down[0]!.body, 'sent while the server was down');
  t.is(down[0]!.seq, acks.at(-1)!.seq);
  for (let i = 0; i < 5; i++) {
    const rows = h.messages.filter((m) => m.cmid === `inflight-${i}`);
    t.is(rows.length, 1, `in flight ${i} stored once`);
    t.is(rows[0]!.seq, acks[i]!.seq);
  }
  t.is((await writer.send(channel.id, 'after')).seq, 8);
});
