/** Requests, replies, pushes and failures over real peer links on loopback. */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { ErrorCode, RETRYABLE, TertuliaError } from '../../protocol/errors.js';
import {
  PeerClient,
  PeerLinkLostError,
  PeerLinks,
  PeerServer,
  type PeerClientOptions,
  type PeerHandler,
  type PeerIdentity,
} from '../../runtime/peer/index.js';
import type { PodInfo } from '../../runtime/ports.js';

const log = pino({ level: 'silent' });
const SECRET = randomBytes(32);
type Teardown = { teardown(fn: () => unknown): void };

const echo: PeerHandler = {
  request: async (_from, op, args) => ({ op, args }),
  push: () => {},
};

async function server(t: Teardown, handler: PeerHandler = echo, port = 0, pod = 'pod-b'): Promise<PeerServer> {
  const s = await PeerServer.listen({ host: '127.0.0.1', port, pod, secret: SECRET, handler, log });
  t.teardown(() => s.close());
  return s;
}

function client(t: Teardown, port: number, opts: Partial<PeerClientOptions> = {}): PeerClient {
  const c = new PeerClient({
    self: { pod: 'pod-a', incarnation: 1 },
    remote: 'pod-b',
    address: `127.0.0.1:${port}`,
    secret: SECRET,
    log,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  t.teardown(() => c.close());
  return c;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await delay(10);
  }
}

test('1,000 concurrent requests answered out of order each get their own reply', async (t) => {
  const held: { n: number; resolve: (v: unknown) => void }[] = [];
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  const s = await server(t, {
    ...echo,
    request: (_from, _op, args) =>
      new Promise((resolve) => {
        held.push({ n: args.n as number, resolve });
        if (held.length === 1000) release();
      }),
  });
  const c = client(t, s.address.port);
  const replies = Array.from({ length: 1000 }, (_, n) => c.request('double', { n }));
  await all;
  // Answer in a shuffled order.
  for (let i = held.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [held[i], held[j]] = [held[j]!, held[i]!];
  }
  for (const h of held) h.resolve({ doubled: h.n * 2 });
  const results = await Promise.all(replies);
  t.true(results.every((r, n) => (r as { doubled: number }).doubled === n * 2));
  t.is(c.inFlight, 0);
});

test('handler errors arrive with their code and retry hint; other failures as INTERNAL', async (t) => {
  const s = await server(t, {
    ...echo,
    request: (_from, op) => {
      if (op === 'sync') throw new Error('thrown before any promise');
      if (op === 'moved') return Promise.reject(new TertuliaError(ErrorCode.NOT_OWNER, 'channel moved', { retryMs: 7 }));
      return Promise.reject(new Error('database exploded'));
    },
  });
  const c = client(t, s.address.port);
  const moved = await t.throwsAsync(c.request('moved'), { instanceOf: TertuliaError });
  t.is(moved!.code, ErrorCode.NOT_OWNER);
  t.is(moved!.retryMs, 7);
  t.is(moved!.message, 'channel moved');
  const internal = await t.throwsAsync(c.request('boom'), { instanceOf: TertuliaError });
  t.is(internal!.code, ErrorCode.INTERNAL);
  t.false(internal!.message.includes('exploded'), 'internals are not leaked to the peer');
  t.is((await t.throwsAsync(c.request('sync'), { instanceOf: TertuliaError }))!.code, ErrorCode.INTERNAL);
});

test('a request with no reply times out; the link carries on', async (t) => {
  const s = await server(t, { ...echo, request: async (_f, op, args) => (op === 'hang' ? new Promise(() => {}) : { op, args }) });
  const c = client(t, s.address.port);
  const err = await t.throwsAsync(c.request('hang', {}, { timeoutMs: 100 }), { instanceOf: TertuliaError });
  t.is(err!.code, ErrorCode.TIMEOUT);
  t.is(c.inFlight, 0);
  t.deepEqual(await c.request('after'), { op: 'after', args: {} });
});

test('past the in-flight cap a request is refused at once with BUSY', async (t) => {
  const s = await server(t, { ...echo, request: () => new Promise(() => {}) });
  const c = client(t, s.address.port, { limits: { maxInFlight: 5 } });
  await c.ready();
  const parked = Array.from({ length: 5 }, () => c.request('hang').catch((e: TertuliaError) => e));
  const err = await t.throwsAsync(c.request('one-more'), { instanceOf: TertuliaError });
  t.is(err!.code, ErrorCode.BUSY);
  t.true(err!.retryMs! > 0);
  await c.close();
  for (const e of await Promise.all(parked)) t.is((e as TertuliaError).code, ErrorCode.SHUTTING_DOWN);
});

test('the server caps requests in flight per connection too', async (t) => {
  const s = await PeerServer.listen({
    host: '127.0.0.1', port: 0, pod: 'pod-b', secret: SECRET, log,
    handler: { ...echo, request: () => new Promise(() => {}) },
    limits: { maxInFlight: 3 },
  });
  t.teardown(() => s.close());
  const c = client(t, s.address.port, { requestTimeoutMs: 60_000 });
  const parked = Array.from({ length: 3 }, () => c.request('hang').catch(() => {}));
  const err = await t.throwsAsync(c.request('fourth'), { instanceOf: TertuliaError });
  t.is(err!.code, ErrorCode.BUSY);
  await c.close();
  await Promise.all(parked);
});

test('after a server restart the client reconnects by itself', async (t) => {
  let ups = 0;
  let downs = 0;
  let s = await server(t, { ...echo, request: async (_f, op, args) => (op === 'hang' ? new Promise(() => {}) : { op, args }) });
  const port = s.address.port;
  const c = client(t, port, { onUp: () => ups++, onDown: () => downs++ });
  t.deepEqual(await c.request('before'), { op: 'before', args: {} });
  const inflight = c.request('hang', {}, { timeoutMs: 30_000 });
  await s.close();
  const lost = await t.throwsAsync(inflight, { instanceOf: PeerLinkLostError });
  t.true(RETRYABLE.has(lost!.code), 'a lost request is retryable');
  s = await server(t, echo, port);
  let result: unknown;
  for (let i = 0; i < 200 && result === undefined; i++) {
    result = await c.request('after', { i }).catch(async (e: TertuliaError) => {
      t.true(RETRYABLE.has(e.code));
      await delay(25);
      return undefined;
    });
  }
  t.deepEqual((result as { op: string }).op, 'after');
  t.is(ups, 2);
  t.is(downs, 1);
});

test('pushes flow both ways on the one connection', async (t) => {
  const atServer: { from: PeerIdentity; ev: string; payload: Record<string, unknown> }[] = [];
  const s = await server(t, { ...echo, push: (from, ev, payload) => atServer.push({ from, ev, payload }) });
  const atClient: { ev: string; payload: Record<string, unknown> }[] = [];
  const c = client(t, s.address.port, { onPush: (ev, payload) => atClient.push({ ev, payload }) });
  await c.ready();
  t.true(c.push('subscribed', { channel: 9, from: 3 }));
  await until(() => atServer.length === 1);
  t.deepEqual(atServer[0], { from: { pod: 'pod-a', incarnation: 1 }, ev: 'subscribed', payload: { channel: 9, from: 3 } });
  t.true(s.push('pod-a', 'delivery', { channel: 9, seqs: [4, 5] }));
  await until(() => atClient.length === 1);
  t.deepEqual(atClient[0], { ev: 'delivery', payload: { channel: 9, seqs: [4, 5] } });
  t.false(s.push('pod-nobody', 'delivery', {}));
  t.is(s.dropped, 1);
});

test('a pod that reconnects replaces its old connection on the server', async (t) => {
  const events: string[] = [];
  const s = await server(t, {
    ...echo,
    connected: (f) => events.push(`up ${f.pod}/${f.incarnation}`),
    disconnected: (f) => events.push(`down ${f.pod}/${f.incarnation}`),
  });
  const first = client(t, s.address.port, { self: { pod: 'pod-a', incarnation: 1 } });
  await first.ready();
  const second = client(t, s.address.port, { self: { pod: 'pod-a', incarnation: 2 } });
  await second.ready();
  t.deepEqual(s.connected(), [{ pod: 'pod-a', incarnation: 2 }]);
  await first.close();
  await second.close();
  await until(() => events.length === 4);
  t.deepEqual(events, ['up pod-a/1', 'down pod-a/1', 'up pod-a/2', 'down pod-a/2']);
});

test('PeerLinks opens one link per pod, replaces it on a new incarnation, closes it when the pod leaves', async (t) => {
  const b = await server(t, echo, 0, 'pod-b');
  const c = await server(t, echo, 0, 'pod-c');
  const pushes: string[] = [];
  const links = new PeerLinks({
    self: { pod: 'pod-a', incarnation: 1 },
    secret: SECRET,
    log,
    onPush: (from, ev) => pushes.push(`${from.id}:${ev}`),
  });
  t.teardown(() => links.closeAll());
  const podB: PodInfo = { id: 'pod-b', incarnation: 1, client: 'unused:1', peer: `127.0.0.1:${b.address.port}` };
  const podC: PodInfo = { id: 'pod-c', incarnation: 1, client: 'unused:1', peer: `127.0.0.1:${c.address.port}` };
  const lb = links.link(podB);
  t.is(links.link(podB), lb, 'same pod, same link');
  t.deepEqual(await lb.request('x'), { op: 'x', args: {} });
  t.deepEqual(await links.link(podC).request('y'), { op: 'y', args: {} });
  await until(() => b.connected().length === 1);
  b.push('pod-a', 'delivery');
  await until(() => pushes.length === 1);
  t.deepEqual(pushes, ['pod-b:delivery']);

  const lb2 = links.link({ ...podB, incarnation: 2 });
  t.not(lb2, lb);
  await until(() => lb.state === 'closed');
  t.deepEqual(await lb2.request('z'), { op: 'z', args: {} });

  links.retain([{ ...podB, incarnation: 2 }]);
  t.is(links.get('pod-c'), undefined);
  t.is(links.get('pod-b'), lb2);
  await until(() => c.connected().length === 0);
  await links.closeAll();
  t.is(lb2.state, 'closed');
  await t.throwsAsync(lb2.request('late'), { instanceOf: TertuliaError, message: /closed/ });
});

test('close() while the remote is unreachable stops reconnecting promptly', async (t) => {
  const s = await server(t);
  const port = s.address.port;
  await s.close();
  const c = client(t, port, { backoff: { initialMs: 50, maxMs: 60_000 } });
  await until(() => c.state === 'down');
  const err = await t.throwsAsync(c.request('x'), { instanceOf: TertuliaError });
  t.is(err!.code, ErrorCode.BUSY, 'refused at once while down, with a retry hint');
  t.true(err!.retryMs! >= 1);
  await c.close();
  t.is(c.state, 'closed');
});
