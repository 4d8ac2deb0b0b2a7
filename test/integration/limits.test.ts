import test, { type ExecutionContext } from 'ava';
import { encodeFrame } from '../../protocol/codec.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { Config } from '../../runtime/config.js';
import type { RunningNode } from '../../runtime/node.js';
import { rawClient, type RawClient } from '../harness/raw.js';
import { eventually, startPod, user, usePostgres } from '../harness/server.js';

// Each limit needs its own setting, and a pod tuned for one (3 connections,
// 400 ms idle timeout) would break the others: one pod per test here, each on
// its own database of this file's PostgreSQL.
const pg = usePostgres(test);

async function pod(t: ExecutionContext, overrides: Partial<Config>): Promise<RunningNode> {
  const node = await startPod({ databaseUrl: await (await pg()).createDatabase(), ...overrides });
  t.teardown(() => node.stop());
  return node;
}

type Frame = Record<string, unknown>;
const errorOf = (f: Frame) => f.error as { code: number; message: string; retryMs?: number } | undefined;

let names = 0;
/** A raw connection, greeted and registered as a fresh user; closed when the test ends. */
async function rawUser(t: ExecutionContext, node: RunningNode): Promise<RawClient & { name: string }> {
  const r = await rawClient(node.port);
  t.teardown(() => r.close());
  t.truthy((await r.request('hello', { version: 1 })).result);
  const name = `r${process.pid}x${++names}`;
  const reg = await r.request('register', { name, password: 'correct horse battery' });
  if (!reg.result) throw new Error(`register failed: ${JSON.stringify(reg.error)}`);
  return Object.assign(r, { name });
}

let nextId = 1_000_000;
/** Writes all requests in one socket write (so they arrive together) and resolves with one reply per id. */
async function pipeline(r: RawClient, requests: Record<string, unknown>[]): Promise<{ ids: number[]; replies: Frame[] }> {
  const ids = requests.map(() => nextId++);
  r.socket.write(Buffer.concat(requests.map((q, i) => encodeFrame({ ...q, id: ids[i] }))));
  const replies = await Promise.all(ids.map((id) => r.next((f) => f.id === id, 15000)));
  return { ids, replies };
}

/** Every id got exactly one reply: checked after a later round trip, so a second reply would be in by then. */
async function assertOneReplyEach(t: ExecutionContext, r: RawClient, ids: number[]): Promise<void> {
  t.truthy((await r.request('ping')).result);
  for (const id of ids) t.is(r.frames.filter((f) => f.id === id).length, 1, `one reply for ${id}`);
}

test('a silent connection is closed with IDLE_TIMEOUT; a client with a heartbeat stays', async (t) => {
  const node = await pod(t, { heartbeatMs: 100, idleTimeoutMs: 400 });
  const live = await user(t, node);
  const drops: unknown[] = [];
  live.on('disconnect', (d) => drops.push(d));

  const silent = await rawClient(node.port);
  t.teardown(() => silent.close());
  const hello = await silent.request('hello', { version: 1 });
  t.like(hello.result, { limits: { heartbeatMs: 100, idleTimeoutMs: 400 } });
  const ev = await silent.next((f) => f.ev === 'error', 10000);
  t.is(errorOf(ev)?.code, ErrorCode.IDLE_TIMEOUT);
  await silent.closed;
  t.true(silent.isClosed());

  // Well past the idle timeout; the client only pinged meanwhile.
  await new Promise((r) => setTimeout(r, 1200));
  t.is(live.state, 'connected');
  t.deepEqual(drops, [], 'the heartbeat kept the connection');
  const { channel } = await live.create(`alive-${live.name}`, 'public');
  t.is((await live.send(channel.id, 'still here')).seq, 1);
});

test('requests over maxPending get TOO_MANY_PENDING; each gets one reply; the connection stays usable', async (t) => {
  const node = await pod(t, { maxPending: 4 });
  const r = await rawUser(t, node);
  const created = await r.request('create', { name: `pend-${r.name}`, kind: 'public' });
  const channel = (created.result as { channel: { id: number } }).channel.id;
  t.truthy((await r.request('send', { channel, cmid: 'seed', body: 'seed' })).result);

  const requests = Array.from({ length: 50 }, (_, i) =>
    i % 2 === 0 ? { op: 'history', channel } : { op: 'who', channel },
  );
  const { ids, replies } = await pipeline(r, requests);
  const refused = replies.filter((f) => errorOf(f)?.code === ErrorCode.TOO_MANY_PENDING);
  const served = replies.filter((f) => f.result !== undefined);
  t.true(refused.length > 0, 'some requests were over the cap');
  t.true(served.length >= 4, `at least the first maxPending were served (${served.length})`);
  t.is(refused.length + served.length, 50, 'no other outcome');
  await assertOneReplyEach(t, r, ids);

  t.false(r.isClosed());
  const again = await r.request('history', { channel });
  t.deepEqual((again.result as { messages: { body: string }[] }).messages.map((m) => m.body), ['seed']);
});

test('sends over the rate get RATE_LIMITED with retryMs; only accepted ones are stored', async (t) => {
  const node = await pod(t, { sendRatePerSec: 5, sendBurst: 5 });
  const r = await rawUser(t, node);
  const created = await r.request('create', { name: `rate-${r.name}`, kind: 'public' });
  const channel = (created.result as { channel: { id: number } }).channel.id;

  const { ids, replies } = await pipeline(
    r,
    Array.from({ length: 20 }, (_, i) => ({ op: 'send', channel, cmid: `rate-${i}`, body: `message ${i}` })),
  );
  const limited = replies.filter((f) => errorOf(f)?.code === ErrorCode.RATE_LIMITED);
  const accepted = replies.map((f, i) => ({ f, i })).filter(({ f }) => f.result !== undefined);
  t.true(limited.length > 0, 'some sends were over the rate');
  t.true(accepted.length >= 5, `the burst went through (${accepted.length})`);
  t.is(limited.length + accepted.length, 20);
  for (const f of limited) t.true((errorOf(f)?.retryMs ?? 0) > 0, 'RATE_LIMITED carries retryMs > 0');
  await assertOneReplyEach(t, r, ids);

  t.is(await node.store.countMessages(channel), accepted.length);
  const h = await r.request('history', { channel, limit: 50 });
  const stored = (h.result as { messages: { seq: number; body: string; cmid: string }[] }).messages;
  t.deepEqual(stored.map((m) => m.seq), accepted.map((_, k) => k + 1));
  t.deepEqual(
    stored.map((m) => [m.seq, m.cmid]),
    accepted.map(({ f, i }) => [(f.result as { seq: number }).seq, `rate-${i}`]),
  );
});

test('the connection past maxConnections gets TOO_MANY_CONNECTIONS and is closed', async (t) => {
  const node = await pod(t, { maxConnections: 3 });
  const held: RawClient[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await rawClient(node.port);
    t.teardown(() => r.close());
    t.truthy((await r.request('hello', { version: 1 })).result);
    held.push(r);
  }
  const fourth = await rawClient(node.port);
  t.teardown(() => fourth.close());
  const ev = await fourth.next((f) => f.ev === 'error');
  t.is(errorOf(ev)?.code, ErrorCode.TOO_MANY_CONNECTIONS);
  await fourth.closed;
  for (const r of held) t.truthy((await r.request('ping')).result, 'the first three are still served');

  // A slot freed is a slot available again ("reconnect later").
  held[0]!.close();
  await eventually(async () => {
    const r = await rawClient(node.port);
    t.teardown(() => r.close());
    const reply = await r.request('hello', { version: 1 }).catch(() => null);
    return reply?.result !== undefined;
  }, 10000, 'a new connection once one closed');
});

test("a channel whose write queue is full answers BUSY with retryMs; stored seqs have no gaps or duplicates", async (t) => {
  const node = await pod(t, { pendingWritesCap: 1, sendRatePerSec: 100000, sendBurst: 100000 });
  const owner = await rawUser(t, node);
  const created = await owner.request('create', { name: `busy-${owner.name}`, kind: 'public' });
  const channel = (created.result as { channel: { id: number } }).channel.id;
  const senders = [owner];
  for (let i = 0; i < 5; i++) {
    const s = await rawUser(t, node);
    t.truthy((await s.request('join', { channel })).result);
    senders.push(s);
  }

  const perSender = 20;
  const cmid = (s: number, k: number) => `s${s}-m${k}`;
  const rounds = await Promise.all(
    senders.map((s, si) =>
      pipeline(s, Array.from({ length: perSender }, (_, k) => ({ op: 'send', channel, cmid: cmid(si, k), body: `${si}:${k}` }))),
    ),
  );
  const all = rounds.flatMap(({ replies }) => replies);
  const busy = all.filter((f) => errorOf(f)?.code === ErrorCode.BUSY);
  const acked = all.filter((f) => f.result !== undefined).map((f) => (f.result as { seq: number }).seq);
  t.log(`${acked.length} accepted, ${busy.length} BUSY of ${all.length}`);
  t.true(busy.length > 0, 'the queue of one filled up');
  t.is(busy.length + acked.length, all.length, 'no other outcome');
  for (const f of busy) t.true((errorOf(f)?.retryMs ?? 0) > 0, 'BUSY carries retryMs > 0');
  t.is(new Set(acked).size, acked.length, 'no seq given twice');
  t.deepEqual([...acked].sort((a, b) => a - b), acked.map((_, i) => i + 1), 'accepted sends are gap-free');
  t.is(await node.store.countMessages(channel), acked.length, 'refused sends stored nothing');
  for (let i = 0; i < senders.length; i++) await assertOneReplyEach(t, senders[i]!, rounds[i]!.ids);

  // Resending the refused ones with the same cmid, as a client does, stores each exactly once.
  for (let attempt = 0; attempt < 50; attempt++) {
    const left = await Promise.all(
      senders.map(async (s, si) => {
        const stored = new Set(s.frames.filter((f) => f.result !== undefined && typeof (f.result as { seq?: unknown }).seq === 'number').map((f) => f.id));
        const missing = rounds[si]!.ids.map((id, k) => ({ id, k })).filter(({ id }) => !stored.has(id));
        if (missing.length === 0) return 0;
        await new Promise((r) => setTimeout(r, 60));
        for (const { k } of missing) {
          const reply = await s.request('send', { channel, cmid: cmid(si, k), body: `${si}:${k}` });
          if (reply.result !== undefined) rounds[si]!.ids[k] = reply.id as number;
        }
        return missing.length;
      }),
    );
    if (left.every((n) => n === 0)) break;
  }
  const total = senders.length * perSender;
  t.is(await node.store.countMessages(channel), total);
  const seqs: number[] = [];
  const bodies: string[] = [];
  for (let after = 0; ; ) {
    const page = (await owner.request('history', { channel, after, limit: 200 })).result as {
      messages: { seq: number; body: string }[];
      more: boolean;
    };
    seqs.push(...page.messages.map((m) => m.seq));
    bodies.push(...page.messages.map((m) => m.body));
    if (!page.more) break;
    after = seqs.at(-1)!;
  }
  t.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1));
  t.is(new Set(bodies).size, total, 'every message once');
});
