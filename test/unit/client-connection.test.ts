import test from 'ava';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { decode } from '../../protocol/codec.js';
import { Connection, ConnectionLostError } from '../../protocol/client/connection.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { ErrorCode, RETRYABLE, TertuliaError } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame.js';

/** A server that speaks the framing, records every request and never answers. */
interface Silent {
  port: number;
  requests: Record<string, unknown>[];
  sockets: Set<Socket>;
  close(): Promise<void>;
}

async function silentServer(): Promise<Silent> {
  const requests: Record<string, unknown>[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk) => decoder.push(chunk, (p) => requests.push(decode(p) as Record<string, unknown>)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const handlers = { push: () => {}, close: () => {} };

async function open(port: number, maxPending = 256): Promise<Connection> {
  return Connection.open(
    { host: '127.0.0.1', port, maxIncomingFrameBytes: 1 << 20, maxPending, connectTimeoutMs: 2000 },
    handlers,
  );
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

test('a request with no reply rejects with TIMEOUT after its timeout', async (t) => {
  const srv = await silentServer();
  const conn = await open(srv.port);
  const started = Date.now();
  const err = await t.throwsAsync(conn.request('ping', {}, 150), { instanceOf: TertuliaError });
  const elapsed = Date.now() - started;
  t.is(err?.code, ErrorCode.TIMEOUT);
  t.true(elapsed >= 140 && elapsed < 5000, `${elapsed} ms`);
  t.is(conn.pendingCount, 0, 'a timed-out request frees its slot');
  await until(() => srv.requests.length === 1);
  t.like(srv.requests[0], { op: 'ping' });
  t.is(typeof srv.requests[0].id, 'number');
  await conn.close();
  await srv.close();
});

test('over the pending cap a request is refused at once, locally', async (t) => {
  const srv = await silentServer();
  const conn = await open(srv.port, 3);
  const waiting = [1, 2, 3].map((channel) => conn.request('who', { channel }, 5000));
  for (const w of waiting) w.catch(() => {});
  const started = Date.now();
  const err = await t.throwsAsync(conn.request('who', { channel: 4 }, 5000), { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.TOO_MANY_PENDING);
  t.true(Date.now() - started < 4000, "not after waiting out the 5 s deadline");
  await until(() => srv.requests.length === 3);
  t.deepEqual(srv.requests.map((r) => r.channel), [1, 2, 3], 'the refused one was never sent');
  t.is(new Set(srv.requests.map((r) => r.id)).size, 3, 'ids are distinct');
  await conn.close();
  for (const w of waiting) await t.throwsAsync(w, { instanceOf: ConnectionLostError });
  await srv.close();
});

test('when the server drops the socket, pending requests reject as retryable', async (t) => {
  const srv = await silentServer();
  let closed = 0;
  const conn = await Connection.open(
    { host: '127.0.0.1', port: srv.port, maxIncomingFrameBytes: 1 << 20, maxPending: 8, connectTimeoutMs: 2000 },
    { push: () => {}, close: () => closed++ },
  );
  const pending = conn.request('history', { channel: 1 }, 5000);
  await until(() => srv.requests.length === 1);
  for (const s of srv.sockets) s.destroy();
  const err = await t.throwsAsync(pending, { instanceOf: ConnectionLostError });
  t.is(err?.code, ErrorCode.TIMEOUT);
  t.true(RETRYABLE.has(err!.code));
  t.is(closed, 1);
  t.false(conn.open);
  await t.throwsAsync(conn.request('ping', {}, 100), { instanceOf: ConnectionLostError });
  await conn.close();
  await srv.close();
});

test('a request larger than the server accepts is refused without sending', async (t) => {
  const srv = await silentServer();
  const conn = await open(srv.port);
  conn.maxOutgoingFrameBytes = 100;
  const err = await t.throwsAsync(conn.request('send', { channel: 1, cmid: 'x', body: 'y'.repeat(200) }, 1000), {
    instanceOf: TertuliaError,
  });
  t.is(err?.code, ErrorCode.FRAME_TOO_LARGE);
  t.is(conn.pendingCount, 0);
  await conn.close();
  t.is(srv.requests.length, 0);
  await srv.close();
});

test('an oversized frame from the server closes the connection', async (t) => {
  const srv = await silentServer();
  const closedWith = new Promise<Error | undefined>((resolve) => {
    void Connection.open(
      { host: '127.0.0.1', port: srv.port, maxIncomingFrameBytes: 1024, maxPending: 8, connectTimeoutMs: 2000 },
      { push: () => {}, close: resolve },
    );
  });
  await until(() => srv.sockets.size === 1);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(4096);
  for (const s of srv.sockets) s.write(header);
  const err = await closedWith;
  t.true(err instanceof TertuliaError && err.code === ErrorCode.FRAME_TOO_LARGE);
  await srv.close();
});

test('client: connect times out against a server that never says hello', async (t) => {
  const srv = await silentServer();
  const c = new TertuliaClient({ host: '127.0.0.1', port: srv.port, requestTimeoutMs: 150 });
  const err = await t.throwsAsync(c.connect(), { instanceOf: TertuliaError });
  t.is(err?.code, ErrorCode.TIMEOUT);
  t.is(c.state, 'idle');
  await until(() => srv.requests.length === 1);
  t.like(srv.requests[0], { op: 'hello', version: 1 });
  await c.close();
  await srv.close();
});

test('client: requests before connect and after close are refused', async (t) => {
  const c = new TertuliaClient({ host: '127.0.0.1', port: 1 });
  t.is((await t.throwsAsync(c.ping(), { instanceOf: TertuliaError }))?.code, ErrorCode.HELLO_REQUIRED);
  await c.close();
  t.is(c.state, 'closed');
  t.is((await t.throwsAsync(c.ping(), { instanceOf: TertuliaError }))?.code, ErrorCode.SHUTTING_DOWN);
});

test('client: connect to a closed port rejects as a lost connection', async (t) => {
  const srv = await silentServer();
  const port = srv.port;
  await srv.close();
  const c = new TertuliaClient({ host: '127.0.0.1', port });
  await t.throwsAsync(c.connect(), { instanceOf: ConnectionLostError });
  await c.close();
});
