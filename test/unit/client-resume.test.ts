/**
 * TertuliaClient against a small in-test fake of the server's protocol
 * (hello, login/auth, subscribe with a replay cap, history, send with cmid
 * dedupe, ping), with knobs to drop connections and lose events. It checks
 * the client's own logic: ordering, gap fill, resume and send retries.
 */
import test from 'ava';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { decode, encodeFrame } from '../../protocol/codec.js';
import { TertuliaClient, type ClientOptions } from '../../protocol/client/index.js';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame.js';
import type { MessageView } from '../../protocol/messages.js';

type Req = Record<string, any> & { op: string; id: number };
type Hook = (req: Req, socket: Socket) => 'handled' | undefined;

class FakeServer {
  port = 0;
  readonly messages: MessageView[] = [];
  readonly seen: Req[] = [];
  readonly sockets = new Set<Socket>();
  readonly subscribed = new Set<Socket>();
  heartbeatMs = 15_000;
  historyPage = 3;
  replayCap = 2;
  hook: Hook | undefined;
  private readonly server = createServer((s) => this.accept(s));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Commits a message; pushes it to subscribers unless `push` is false (a lost event). */
  append(body: string, push = true, cmid = `srv${this.messages.length + 1}`): MessageView {
    const m: MessageView = { channel: 1, seq: this.messages.length + 1, sender: 1, from: 'ann', body, ts: Date.now(), cmid };
    this.messages.push(m);
    if (push) for (const s of this.subscribed) s.write(encodeFrame({ ev: 'msg', ...m }));
    return m;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  ops(op: string): Req[] {
    return this.seen.filter((r) => r.op === op);
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.subscribed.delete(socket);
    });
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk) => decoder.push(chunk, (p) => this.handle(decode(p) as Req, socket)));
  }

  private handle(req: Req, socket: Socket): void {
    this.seen.push(req);
    if (this.hook?.(req, socket) === 'handled') return;
    const reply = (result: unknown): void => void socket.write(encodeFrame({ id: req.id, result }));
    const after = (n: number, limit: number): MessageView[] => this.messages.filter((m) => m.seq > n).slice(0, limit);
    switch (req.op) {
      case 'hello':
        return reply({
          version: 1,
          server: 'fake',
          limits: {
            maxFrameBytes: 1 << 20,
            maxBodyChars: 4000,
            historyPage: this.historyPage,
            maxPending: 256,
            heartbeatMs: this.heartbeatMs,
            idleTimeoutMs: 3 * this.heartbeatMs,
          },
        });
      case 'login':
        return reply({ user: 1, name: req.name, token: 'tok-1', expires: Date.now() + 1e9 });
      case 'auth':
        if (req.token !== 'tok-1') return void socket.write(encodeFrame({ id: req.id, error: { code: ErrorCode.INVALID_TOKEN, message: 'no' } }));
        return reply({ user: 1, name: 'ann', expires: Date.now() + 1e9 });
      case 'ping':
        return reply({ ts: Date.now() });
      case 'subscribe': {
        this.subscribed.add(socket);
        const lastSeq = this.messages.length;
        const messages = req.after === undefined ? [] : after(req.after, this.replayCap);
        const complete = req.after === undefined || req.after + messages.length >= lastSeq;
        return reply({ lastSeq, messages, complete });
      }
      case 'history': {
        const page = after(req.after ?? 0, req.limit ?? 50);
        const last = page.length ? page[page.length - 1].seq : (req.after ?? 0);
        return reply({ messages: page, more: last < this.messages.length });
      }
      case 'send': {
        const dup = this.messages.find((m) => m.cmid === req.cmid);
        if (dup) return reply({ seq: dup.seq, ts: dup.ts, duplicate: true });
        const m = this.append(req.body, true, req.cmid);
        return reply({ seq: m.seq, ts: m.ts });
      }
      default:
        return reply({});
    }
  }
}

async function setup(t: { teardown(fn: () => Promise<void>): void }, options: Partial<ClientOptions> = {}) {
  const srv = await new FakeServer().start();
  const client = new TertuliaClient({
    host: '127.0.0.1',
    port: srv.port,
    requestTimeoutMs: 3000,
    reconnect: { initialMs: 10, maxMs: 50 },
    ...options,
  });
  const got: number[] = [];
  client.on('message', (m) => got.push(m.seq));
  t.teardown(async () => {
    await client.close();
    await srv.close();
  });
  return { srv, client, got };
}

const until = async (what: string, cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('subscribe replays, pages history until caught up, then goes live', async (t) => {
  const { srv, client, got } = await setup(t);
  for (let i = 1; i <= 8; i++) srv.append(`m${i}`);
  await client.connect();
  await client.login('ann', 'password1');
  t.is(await client.subscribe(1, 0), 8);
  t.deepEqual(got, range(1, 8));
  t.true(srv.ops('history').length >= 2, 'replay cap 2, pages of 3');
  srv.append('m9');
  await until('live message', () => got.length === 9);
  t.deepEqual(got, range(1, 9));
  t.is(client.lastDelivered(1), 9);
});

test('subscribe without after starts from now', async (t) => {
  const { srv, client, got } = await setup(t);
  srv.append('old');
  await client.connect();
  await client.login('ann', 'password1');
  t.is(await client.subscribe(1), 1);
  srv.append('new');
  await until('live message', () => got.length === 1);
  t.deepEqual(got, [2]);
});

test('a lost live event is filled from history, in order', async (t) => {
  const { srv, client, got } = await setup(t);
  await client.connect();
  await client.login('ann', 'password1');
  await client.subscribe(1, 0);
  srv.append('a');
  srv.append('b', false);
  srv.append('c', false);
  srv.append('d');
  await until('gap fill', () => got.length === 4);
  t.deepEqual(got, [1, 2, 3, 4]);
});

test('after a drop the client reconnects, re-authenticates and resumes each channel without loss or repeat', async (t) => {
  const { srv, client, got } = await setup(t);
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  let reconnects = 0;
  client.on('reconnect', () => reconnects++);
  await client.connect();
  await client.login('ann', 'password1');
  await client.subscribe(1, 0);
  srv.append('a');
  srv.append('b');
  await until('live', () => got.length === 2);
  srv.dropAll();
  // Committed while the client is away: it must get them through resume.
  srv.append('c', false);
  srv.append('d', false);
  srv.append('e', false);
  await until('resume', () => got.length === 5);
  srv.append('f');
  await until('live after resume', () => got.length === 6);
  t.deepEqual(got, range(1, 6));
  t.is(reconnects, 1);
  t.deepEqual(states, ['connecting', 'connected', 'reconnecting', 'connected']);
  t.deepEqual(srv.ops('auth').map((r) => r.token), ['tok-1']);
  t.deepEqual(srv.ops('subscribe').map((r) => r.after), [0, 2]);
});

test('send lost with its connection is retried with the same cmid and stored once', async (t) => {
  const { srv, client } = await setup(t);
  await client.connect();
  await client.login('ann', 'password1');
  let first = true;
  srv.hook = (req, socket) => {
    if (req.op !== 'send' || !first) return undefined;
    first = false;
    srv.append(req.body, false, req.cmid); // committed, but the ack never leaves
    socket.destroy();
    return 'handled';
  };
  const r = await client.send(1, 'hello', 'cm-1');
  t.deepEqual({ seq: r.seq, duplicate: r.duplicate, cmid: r.cmid }, { seq: 1, duplicate: true, cmid: 'cm-1' });
  t.deepEqual(srv.ops('send').map((x) => x.cmid), ['cm-1', 'cm-1']);
  t.is(srv.messages.length, 1);
});

test('send waits out RATE_LIMITED and BUSY with jitter, then succeeds', async (t) => {
  const { srv, client } = await setup(t);
  await client.connect();
  await client.login('ann', 'password1');
  const refusals = [ErrorCode.RATE_LIMITED, ErrorCode.BUSY];
  srv.hook = (req, socket) => {
    const code = req.op === 'send' ? refusals.shift() : undefined;
    if (code === undefined) return undefined;
    socket.write(encodeFrame({ id: req.id, error: { code, message: 'later', retryMs: 40 } }));
    return 'handled';
  };
  const started = Date.now();
  const r = await client.send(1, 'hi');
  t.true(Date.now() - started >= 80, 'waited at least retryMs each time');
  t.is(r.seq, 1);
  const cmids = new Set(srv.ops('send').map((x) => x.cmid));
  t.is(srv.ops('send').length, 3);
  t.is(cmids.size, 1, 'every try carries the same generated cmid');
  t.regex([...cmids][0], /^[A-Za-z0-9_-]{16}$/);
});

test('a non-retryable server error rejects with its code; other requests are not retried', async (t) => {
  const { srv, client } = await setup(t);
  await client.connect();
  srv.hook = (req, socket) => {
    if (req.op !== 'who') return undefined;
    socket.write(encodeFrame({ id: req.id, error: { code: ErrorCode.NOT_AUTHENTICATED, message: 'log in' } }));
    return 'handled';
  };
  const err = await t.throwsAsync(client.who(1), { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.NOT_AUTHENTICATED);
  srv.hook = (req, socket) => {
    if (req.op === 'who') socket.destroy();
    return req.op === 'who' ? 'handled' : undefined;
  };
  const lost = await t.throwsAsync(client.who(1), { instanceOf: TertuliaError });
  t.is(lost?.code, ErrorCode.TIMEOUT, 'in flight at the drop: retryable TIMEOUT');
  t.is(srv.ops('who').length, 2);
});

test('a silent server is detected by the heartbeat and the client reconnects', async (t) => {
  const { srv, client } = await setup(t, { pongTimeoutMs: 100 });
  srv.heartbeatMs = 60;
  await client.connect();
  let silent = true;
  srv.hook = (req) => (req.op === 'ping' && silent ? 'handled' : undefined);
  const disconnected = new Promise((resolve) => client.once('disconnect', resolve));
  await disconnected;
  silent = false;
  await until('reconnect', () => client.state === 'connected');
  t.true(srv.ops('hello').length >= 2);
  t.true(srv.ops('ping').length >= 1);
});

test('close rejects pending requests and stops reconnecting', async (t) => {
  const { srv, client } = await setup(t);
  await client.connect();
  srv.hook = (req) => (req.op === 'who' ? 'handled' : undefined);
  const pending = client.who(1);
  await until('request sent', () => srv.ops('who').length === 1);
  await client.close();
  const err = await t.throwsAsync(pending, { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.SHUTTING_DOWN);
  const hellos = srv.ops('hello').length;
  await new Promise((r) => setTimeout(r, 100));
  t.is(srv.ops('hello').length, hellos);
  t.is(client.state, 'closed');
});
