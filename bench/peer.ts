/**
 * `npx tsx bench/peer.ts`: one peer link on loopback against a bare TCP echo
 * of the same frames, in the same process and the same run, so the ratio is
 * what the link itself costs (auth is outside the timed part; ids, the pending
 * map, per-request timers, handler dispatch and the reply encode are inside).
 * Both servers share this process's event loop with their clients, so absolute
 * figures understate a two-pod setup; the ratio is the figure to watch.
 *
 * Phases per transport: sequential round trips (latency p50/p99), then a
 * closed loop with a fixed window of requests in flight (requests/s).
 * Flags: --seq N (default 20000), --window N (256), --seconds S (3).
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { decode, encodeFrame } from '../protocol/codec.js';
import { FrameDecoder } from '../protocol/frame.js';
import { PeerClient, PeerServer } from '../runtime/peer/index.js';
import { percentile } from './stats.js';

type Call = (n: number) => Promise<unknown>;

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SEQ = arg('seq', 20_000);
const WINDOW = arg('window', 256);
const SECONDS = arg('seconds', 3);
// A forwarded chat send: a channel id and a 100-byte body.
const BODY = 'x'.repeat(100);

async function latency(call: Call): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 2000; i++) await call(i);
  const samples: number[] = [];
  for (let i = 0; i < SEQ; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(call: Call): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await call(done);
      done++;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return done / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The baseline: the server writes back every byte it gets; the client frames, encodes and decodes as the link does. */
async function bareEcho(): Promise<{ call: Call; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer({ noDelay: true }, (s) => {
    sockets.push(s);
    s.on('data', (chunk) => s.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, noDelay: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const waiting = new Map<number, (v: unknown) => void>();
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (chunk: Buffer) =>
    decoder.push(chunk, (p) => {
      const m = decode(p) as { id: number };
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      w?.(m);
    }),
  );
  let id = 0;
  return {
    call: (n) =>
      new Promise((resolve) => {
        const i = ++id;
        waiting.set(i, resolve);
        socket.write(encodeFrame({ channel: 42, n, body: BODY, op: 'forward', id: i }));
      }),
    close: async () => {
      socket.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function peerLink(): Promise<{ call: Call; close(): Promise<void> }> {
  const log = pino({ level: 'warn' });
  const secret = randomBytes(32);
  const server = await PeerServer.listen({
    host: '127.0.0.1',
    port: 0,
    pod: 'pod-b',
    secret,
    log,
    handler: { request: (_from, _op, args) => Promise.resolve(args), push: () => {} },
  });
  const client = new PeerClient({
    self: { pod: 'pod-a', incarnation: 1 },
    remote: 'pod-b',
    address: server.address,
    secret,
    log,
  });
  await client.ready();
  return {
    call: (n) => client.request('forward', { channel: 42, n, body: BODY }),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

async function measure(name: string, open: () => Promise<{ call: Call; close(): Promise<void> }>) {
  const t = await open();
  try {
    const lat = await latency(t.call);
    const rps = await throughput(t.call);
    return { name, ...lat, rps };
  } finally {
    await t.close();
  }
}

const bare = await measure('bare TCP echo', bareEcho);
const peer = await measure('peer link', peerLink);
const us = (v: number): string => `${v.toFixed(1)} µs`;
console.log(`round trips: ${SEQ} sequential; throughput: ${WINDOW} in flight for ${SECONDS} s; node ${process.version}`);
console.log(['transport', 'p50', 'p99', 'requests/s'].map((h) => h.padEnd(16)).join(''));
for (const r of [bare, peer]) {
  console.log([r.name, us(r.p50), us(r.p99), Math.round(r.rps).toLocaleString('en')].map((c) => c.padEnd(16)).join(''));
}
console.log(
  ['peer / bare', `${(peer.p50 / bare.p50).toFixed(2)}×`, `${(peer.p99 / bare.p99).toFixed(2)}×`, `${(peer.rps / bare.rps).toFixed(2)}×`]
    .map((c) => c.padEnd(16))
    .join(''),
);
