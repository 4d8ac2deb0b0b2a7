import test from 'ava';
import { createServer, connect, type Socket } from 'node:net';
import { WriteBatcher } from '../../runtime/net/write-batcher.js';

class Batcher extends WriteBatcher {
  put(text: string, delayMs = 0): void {
    this.enqueue(Buffer.from(text), delayMs);
  }

  /** As a delivery: no sooner than `gapMs` after the last write. */
  spaced(text: string, gapMs: number): void {
    this.enqueueSpaced(Buffer.from(text), gapMs);
  }
}

/** A connected loopback pair: the writer's socket and everything its peer has read so far. */
async function pair(t: import('ava').ExecutionContext): Promise<{ socket: Socket; received: () => string; chunks: string[] }> {
  const chunks: string[] = [];
  const server = createServer((s) => s.on('data', (c: Buffer) => chunks.push(c.toString())));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => socket.once('connect', r));
  t.teardown(() => {
    socket.destroy();
    server.close();
  });
  return { socket, chunks, received: () => chunks.join('') };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('frames of one turn leave together at its end, in order', async (t) => {
  const p = await pair(t);
  const b = new Batcher(p.socket);
  b.put('a');
  b.put('b');
  t.is(b.backlog, 2, 'queued, not yet written');
  await until(() => p.received() === 'ab');
  t.is(b.backlog, 0);
});

test('a delayed frame waits for its delay, or goes with the next frame due at the end of a turn', async (t) => {
  const p = await pair(t);
  const b = new Batcher(p.socket);
  b.put('1', 60_000);
  b.put('2', 60_000);
  await new Promise((r) => setTimeout(r, 30));
  t.is(p.received(), '', 'held while its delay runs');
  b.put('3');
  await until(() => p.received() === '123');

  b.put('4', 20);
  await until(() => p.received() === '1234');
});

test('a frame due sooner brings a pending timer forward', async (t) => {
  const p = await pair(t);
  const b = new Batcher(p.socket);
  b.put('a', 60_000);
  b.put('b', 20);
  await until(() => p.received() === 'ab');
  t.pass();
});

test('spaced frames: the first after a quiet spell leaves at once; the next ones wait out the gap together, and a reply takes them along', async (t) => {
  const p = await pair(t);
  const b = new Batcher(p.socket);
  b.spaced('1', 60_000);
  await until(() => p.received() === '1');
  b.spaced('2', 60_000);
  b.spaced('3', 60_000);
  await new Promise((r) => setTimeout(r, 30));
  t.is(p.received(), '1', 'held: the last write was less than a gap ago');
  b.put('R');
  await until(() => p.received() === '123R');
  t.is(p.chunks.length, 2, 'the held frames and the reply shared one write');

  b.spaced('4', 400);
  await new Promise((r) => setTimeout(r, 50));
  t.is(p.received(), '123R', 'a gap after the last write, not at once');
  await until(() => p.received() === '123R4');
});
