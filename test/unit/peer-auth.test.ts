/**
 * The peer port admits only pods that prove the cluster secret. The raw
 * clients here compute the MACs from the written spec, not from our code.
 */
import test, { type ExecutionContext } from 'ava';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { decode, encodeFrame } from '../../protocol/codec.js';
import { FrameDecoder } from '../../protocol/frame.js';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { PeerClient, PeerServer, type PeerHandler, type PeerIdentity } from '../../runtime/peer/index.js';

const log = pino({ level: 'silent' });
const SECRET = randomBytes(32);

function hmac(secret: Buffer, text: string): Buffer {
  return createHmac('sha256', secret).update(text).digest();
}

const echo: PeerHandler = {
  request: async (_from, op, args) => ({ op, args }),
  push: () => {},
};

async function server(t: { teardown(fn: () => unknown): void }, opts: { pod?: string; secret?: Buffer; handler?: PeerHandler } = {}): Promise<PeerServer> {
  const s = await PeerServer.listen({
    host: '127.0.0.1',
    port: 0,
    pod: opts.pod ?? 'pod-b',
    secret: opts.secret ?? SECRET,
    handler: opts.handler ?? echo,
    log,
    authTimeoutMs: 300,
  });
  t.teardown(() => s.close());
  return s;
}

function client(t: { teardown(fn: () => unknown): void }, port: number, opts: { secret?: Buffer; remote?: string; self?: PeerIdentity } = {}): PeerClient {
  const c = new PeerClient({
    self: opts.self ?? { pod: 'pod-a', incarnation: 7 },
    remote: opts.remote ?? 'pod-b',
    address: { host: '127.0.0.1', port },
    secret: opts.secret ?? SECRET,
    log,
    connectTimeoutMs: 1000,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  t.teardown(() => c.close());
  return c;
}

/** A bare socket that records decoded frames and whether it was closed. */
interface Raw {
  socket: Socket;
  frames: Record<string, unknown>[];
  closed: Promise<void>;
  next(): Promise<Record<string, unknown>>;
  send(value: unknown): void;
}

async function raw(port: number): Promise<Raw> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  const frames: Record<string, unknown>[] = [];
  let wake: (() => void) | null = null;
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (p) => frames.push(decode(p) as Record<string, unknown>));
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => (wake?.(), resolve())));
  let read = 0;
  const next = async (): Promise<Record<string, unknown>> => {
    while (read >= frames.length) {
      if (socket.destroyed) throw new Error('closed');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return frames[read++]!;
  };
  return { socket, frames, closed, next, send: (v) => socket.write(encodeFrame(v)) };
}

/** Performs the client half of the handshake by the spec; returns the server's reply. */
async function rawAuth(r: Raw, secret: Buffer, pod = 'raw-pod'): Promise<{ reply: Record<string, unknown>; ok: boolean }> {
  const challenge = await r.next();
  const sNonce = challenge.nonce as Buffer;
  const cNonce = randomBytes(32);
  const mac = hmac(secret, `tertulia-peer-v1|client|${sNonce.toString('hex')}|${pod}|${cNonce.toString('hex')}`);
  r.send({ op: 'auth', id: 0, pod, incarnation: 1, nonce: cNonce, mac });
  const reply = await r.next();
  const expected = hmac(SECRET, `tertulia-peer-v1|server|${cNonce.toString('hex')}|${challenge.pod as string}|${sNonce.toString('hex')}`);
  const got = (reply.result as { mac?: Buffer } | undefined)?.mac;
  return { reply, ok: got !== undefined && expected.equals(got) };
}

async function realPeerStillServed(t: ExecutionContext, port: number): Promise<void> {
  const c = client(t, port);
  await c.ready(5000);
  t.deepEqual(await c.request('ping', { n: 1 }), { op: 'ping', args: { n: 1 } });
}

test('a pod with the secret authenticates both ways and its requests are answered', async (t) => {
  const seen: PeerIdentity[] = [];
  const s = await server(t, { handler: { ...echo, connected: (from) => seen.push(from) } });
  const c = client(t, s.address.port);
  await c.ready(5000);
  t.is(c.state, 'up');
  t.deepEqual(seen, [{ pod: 'pod-a', incarnation: 7 }]);
  t.deepEqual(s.connected(), [{ pod: 'pod-a', incarnation: 7 }]);
  t.deepEqual(await c.request('hello', { x: 'ü' }), { op: 'hello', args: { x: 'ü' } });
});

test('the handshake follows the spec: challenge, auth, server proof', async (t) => {
  const s = await server(t);
  const r = await raw(s.address.port);
  t.teardown(() => r.socket.destroy());
  const { reply, ok } = await rawAuth(r, SECRET);
  t.is(reply.id, 0);
  t.true(ok, 'server proof matches HMAC(secret, "tertulia-peer-v1|server|" + Nc + "|" + S + "|" + Ns)');
  t.is(r.frames[0]!.ev, 'challenge');
  t.is(r.frames[0]!.pod, 'pod-b');
  t.is((r.frames[0]!.nonce as Buffer).length, 32);
  r.send({ op: 'ping', id: 5 });
  t.deepEqual(await r.next(), { id: 5, result: { op: 'ping', args: {} } });
});

test('garbage before auth closes the socket; the server keeps serving real peers', async (t) => {
  const s = await server(t);
  const http = await raw(s.address.port);
  http.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await http.closed;
  const junk = await raw(s.address.port);
  const body = Buffer.from([0xc1, 0xc1, 0xc1]);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  junk.socket.write(Buffer.concat([header, body]));
  await junk.closed;
  const big = await raw(s.address.port);
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(64 * 1024); // over the handshake cap: refused before the body is buffered
  big.socket.write(huge);
  await big.closed;
  t.is(http.frames.length + junk.frames.length + big.frames.length, 3, 'only the challenges were sent');
  await realPeerStillServed(t, s.address.port);
});

test('a wrong MAC is refused and gets no proof back', async (t) => {
  const s = await server(t);
  const r = await raw(s.address.port);
  await r.next();
  r.send({ op: 'auth', id: 0, pod: 'raw', incarnation: 1, nonce: randomBytes(32), mac: randomBytes(32) });
  await r.closed;
  t.is(r.frames.length, 1);
  const wrongSecret = await raw(s.address.port);
  await t.throwsAsync(rawAuth(wrongSecret, randomBytes(32)));
  await wrongSecret.closed;
  await realPeerStillServed(t, s.address.port);
});

test('requests without auth are refused, not answered', async (t) => {
  const s = await server(t);
  const r = await raw(s.address.port);
  r.send({ op: 'forward', id: 1, channel: 3 });
  r.send({ ev: 'delivery', seq: 1 });
  await r.closed;
  t.deepEqual(r.frames.map((f) => f.ev), ['challenge']);
  await realPeerStillServed(t, s.address.port);
});

test('a silent connection is closed after the auth timeout', async (t) => {
  const s = await server(t);
  const r = await raw(s.address.port);
  await r.closed;
  t.is(r.frames.length, 1);
  await realPeerStillServed(t, s.address.port);
});

test('a second frame behind a bad auth does not get through', async (t) => {
  let requests = 0;
  const s = await server(t, { handler: { ...echo, request: async () => ++requests } });
  const r = await raw(s.address.port);
  await r.next();
  // Pipelined: a bad auth and a request in one write.
  r.socket.write(Buffer.concat([
    encodeFrame({ op: 'auth', id: 0, pod: 'x', incarnation: 1, nonce: randomBytes(32), mac: randomBytes(32) }),
    encodeFrame({ op: 'forward', id: 1 }),
  ]));
  await r.closed;
  t.is(requests, 0);
});

test('a client with the wrong secret never comes up, and neither side crashes', async (t) => {
  const s = await server(t);
  const c = client(t, s.address.port, { secret: randomBytes(32) });
  await t.throwsAsync(c.ready(400));
  const err = await t.throwsAsync(c.request('ping'), { instanceOf: TertuliaError });
  t.true(err!.code === ErrorCode.BUSY || err!.code === ErrorCode.TIMEOUT);
  t.deepEqual(s.connected(), []);
  await realPeerStillServed(t, s.address.port);
});

test('the client checks the server proof before sending anything else', async (t) => {
  // A fake that knows the protocol but not the secret.
  const received: Record<string, unknown>[] = [];
  const sockets = new Set<Socket>();
  const fake = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (p) => {
        const m = decode(p) as Record<string, unknown>;
        received.push(m);
        if (m.op === 'auth') socket.write(encodeFrame({ id: 0, result: { mac: randomBytes(32) } }));
      }),
    );
    socket.write(encodeFrame({ ev: 'challenge', pod: 'pod-b', nonce: randomBytes(32) }));
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), fake.close(() => resolve()))));
  const c = client(t, (fake.address() as AddressInfo).port);
  const pending = c.request('secret-stuff', { x: 1 }).catch((e: unknown) => e);
  c.push('delivery', { seq: 1 });
  const err = (await pending) as TertuliaError;
  t.is(err.code, ErrorCode.BUSY, 'the queued request was never sent');
  t.true(received.length > 0);
  t.true(received.every((m) => m.op === 'auth'), 'nothing but auth reached the fake');
});

test('a different pod answering at the address is refused', async (t) => {
  const s = await server(t, { pod: 'pod-z' });
  const c = client(t, s.address.port, { remote: 'pod-b' });
  await t.throwsAsync(c.ready(400));
  t.not(c.state, 'up');
});
