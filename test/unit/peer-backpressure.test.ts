/**
 * A peer that stops reading must cost the other side a bounded amount of
 * memory: requests are refused with BUSY and pushes dropped, not buffered.
 * The stalled peers are built from the real handshake, then pause their socket.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as tick, setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { encodeFrame } from '../../protocol/codec.js';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { ClientHandshake, ServerHandshake } from '../../runtime/peer/auth.js';
import { readHandshake } from '../../runtime/peer/handshake.js';
import { PeerClient, PeerServer } from '../../runtime/peer/index.js';

const log = pino({ level: 'silent' });
const SECRET = randomBytes(32);
const HIGH_WATER = 256 * 1024;
const CHUNK = randomBytes(64 * 1024);
const limits = { maxFrameBytes: 1 << 20, handshakeFrameBytes: 4096, timeoutMs: 2000 };

/** A peer server that authenticates its clients and then never reads again. */
async function stalledServer(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    const hs = new ServerHandshake(SECRET, 'pod-b');
    void readHandshake(socket, limits, (m) => {
      socket.write(encodeFrame(hs.verify(m).reply));
      return true;
    }).catch(() => socket.destroy());
    socket.write(encodeFrame(hs.challenge));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  return { port: (server.address() as AddressInfo).port, sockets };
}

/** A pod that authenticates to `port` and then never reads again. */
async function stalledClient(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  const hs = new ClientHandshake(SECRET, { pod: 'pod-a', incarnation: 1 }, 'pod-b');
  let answered = false;
  await readHandshake(socket, limits, (m) => {
    if (answered) return (hs.confirm(m), true);
    socket.write(encodeFrame(hs.answer(m)));
    return (answered = true), false;
  });
  return socket; // left paused by readHandshake
}

test('a remote that stops reading makes requests fail fast with BUSY, with bounded memory', async (t) => {
  const stalled = await stalledServer(t);
  const c = new PeerClient({
    self: { pod: 'pod-a', incarnation: 1 },
    remote: 'pod-b',
    address: { host: '127.0.0.1', port: stalled.port },
    secret: SECRET,
    log,
    limits: { highWaterBytes: HIGH_WATER },
    requestTimeoutMs: 60_000,
  });
  t.teardown(() => c.close());
  await c.ready();
  const parked: Promise<unknown>[] = [];
  let refusal: TertuliaError | undefined;
  let peakBacklog = 0;
  // Yielding between requests lets each batch reach the socket, so only a peer
  // that really stopped reading (kernel buffers full) can trip the mark.
  for (let i = 0; i < 20_000 && !refusal; i++) {
    const p = c.request('forward', { body: CHUNK });
    const outcome = await Promise.race([p.then(() => null, (e: TertuliaError) => e), tick().then(() => undefined)]);
    if (outcome instanceof TertuliaError) refusal = outcome;
    else parked.push(p.catch(() => {}));
    peakBacklog = Math.max(peakBacklog, c.backlog);
  }
  t.truthy(refusal, 'refused eventually');
  t.is(refusal!.code, ErrorCode.BUSY);
  t.true(refusal!.retryMs! > 0);
  t.true(peakBacklog <= HIGH_WATER + 4 * (CHUNK.length + 64), `backlog ${peakBacklog} stays near the mark`);
  t.false(c.push('delivery', { body: CHUNK }), 'pushes are dropped while congested');
  t.true(c.dropped >= 1);
  t.is(c.state, 'up', 'congestion is not a disconnect');

  // Once the remote reads again the mark clears and requests are accepted (it never answers: TIMEOUT, not BUSY).
  for (const s of stalled.sockets) s.resume();
  const deadline = Date.now() + 10_000;
  while (c.backlog > HIGH_WATER && Date.now() < deadline) await delay(10);
  const late = await t.throwsAsync(c.request('forward', {}, { timeoutMs: 50 }), { instanceOf: TertuliaError });
  t.is(late!.code, ErrorCode.TIMEOUT);
  await c.close();
  await Promise.all(parked);
});

test('a subscriber pod that stops reading gets its pushes dropped and counted, not buffered', async (t) => {
  const s = await PeerServer.listen({
    host: '127.0.0.1',
    port: 0,
    pod: 'pod-b',
    secret: SECRET,
    log,
    handler: { request: async () => null, push: () => {} },
    limits: { highWaterBytes: HIGH_WATER },
  });
  t.teardown(() => s.close());
  const socket = await stalledClient(s.address.port);
  t.teardown(() => socket.destroy());
  while (s.connected().length === 0) await delay(5);
  let sent = 0;
  let peak = 0;
  for (let i = 0; i < 20_000 && s.dropped === 0; i++) {
    if (s.push('pod-a', 'delivery', { body: CHUNK })) sent++;
    peak = Math.max(peak, s.backlog('pod-a'));
    await tick();
  }
  t.true(sent > 0);
  t.true(s.dropped > 0, 'dropped once the mark was passed');
  t.true(peak <= HIGH_WATER + 2 * (CHUNK.length + 64), `backlog ${peak} stays near the mark`);
  t.deepEqual(s.connected().map((p) => p.pod), ['pod-a'], 'still connected');
});
