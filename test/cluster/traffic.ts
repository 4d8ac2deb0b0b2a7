/**
 * Continuous traffic and the invariant checker for failure tests: every
 * acknowledged message is in history exactly once, in order, gap-free.
 */
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { TestCluster } from '../harness/cluster.js';
import type { MessageView } from '../../protocol/messages.js';
import { TertuliaClient } from '../../protocol/client/index.js';

export interface Ack {
  sender: string;
  n: number;
  seq: number;
  at: number;
}

/** A client that keeps sending numbered messages until stopped, recording every ack. */
export function sender(c: TertuliaClient, name: string, channel: number, acks: Ack[], gapMs = 15) {
  return lanes(c, name, channel, acks, 1, gapMs);
}

/** A client that keeps `depth` sends in flight at once, so its channel's writer always has a queue. */
export function pipeliner(c: TertuliaClient, name: string, channel: number, acks: Ack[], depth = 20) {
  return lanes(c, name, channel, acks, depth, 0);
}

function lanes(c: TertuliaClient, name: string, channel: number, acks: Ack[], depth: number, gapMs: number) {
  let running = true;
  let n = 0;
  const errors: string[] = [];
  const lane = async () => {
    while (running) {
      const k = n++;
      try {
        const r = await c.send(channel, `${name}:${k}`, `${name}-${k}`);
        acks.push({ sender: name, n: k, seq: r.seq, at: Date.now() });
      } catch (err) {
        // A send that gave up is not acknowledged; the invariant is about acks.
        errors.push(`${k}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, gapMs));
    }
  };
  const done = Promise.all(Array.from({ length: depth }, lane));
  return {
    errors,
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * A public channel created (and written once) through the first pod, with the
 * pod that owns it, the others, and a Redis client to look owners up again.
 */
export async function ownedChannel(t: ExecutionContext, cluster: TestCluster, name: string, kind: 'public' | 'private' = 'public') {
  const admin = await connect(t, cluster.pods[0]!.port);
  await admin.register(`${name}-admin`, 'correct horse battery');
  const { channel } = await admin.create(name, kind);
  await admin.send(channel.id, 'warm up');
  const redis = new Redis(cluster.redis.url);
  t.teardown(() => redis.disconnect());
  const ownerOf = async () => redis.hget(`t${process.pid}:owner:${channel.id}`, 'pod');
  const ownerName = await ownerOf();
  const owner = cluster.pods.find((p) => p.name === ownerName)!;
  const others = cluster.pods.filter((p) => p !== owner);
  return { channel, redis, ownerOf, owner, others };
}

/** A pod's metric: the value of the sample line starting with `series` (name and labels), 0 when absent. */
export async function metric(metricsPort: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A registered member of `channel`, connected to `port`, that fails over to `alternates`. */
export async function member(t: ExecutionContext, port: number, name: string, channel: number, alternates: number[] = []) {
  const c = await connect(t, port, alternates);
  await c.register(name, 'correct horse battery');
  await c.join(channel);
  return c;
}

export async function connect(
  t: ExecutionContext,
  port: number,
  alternates: number[] = [],
): Promise<TertuliaClient> {
  const c = new TertuliaClient({
    host: '127.0.0.1',
    port,
    alternates: alternates.map((p) => ({ host: '127.0.0.1', port: p })),
    requestTimeoutMs: 20000,
    reconnect: { initialMs: 50, maxMs: 500 },
  });
  t.teardown(() => c.close());
  await c.connect();
  return c;
}

export function collect(c: TertuliaClient, channel: number): MessageView[] {
  const got: MessageView[] = [];
  c.on('message', (m) => {
    if (m.channel === channel) got.push(m);
  });
  return got;
}

export async function fullHistory(c: TertuliaClient, channel: number): Promise<MessageView[]> {
  const all: MessageView[] = [];
  let after = 0;
  for (;;) {
    const page = await c.history(channel, { after, limit: 200 });
    all.push(...page.messages);
    if (!page.more || page.messages.length === 0) return all;
    after = page.messages.at(-1)!.seq;
  }
}

/**
 * Every ack is in history once, at its seq, with its body; history is 1..N
 * without gaps or repeats; senders in `ordered` appear in their send order.
 */
export function checkInvariant(t: ExecutionContext, history: MessageView[], acks: Ack[], ordered?: string[]): void {
  t.deepEqual(
    history.map((m) => m.seq),
    Array.from({ length: history.length }, (_, i) => i + 1),
    'history is gap-free from 1',
  );
  const cmids = history.map((m) => m.cmid);
  t.is(new Set(cmids).size, cmids.length, 'no message stored twice');
  const bySeq = new Map(history.map((m) => [m.seq, m]));
  let missing = 0;
  for (const a of acks) {
    const m = bySeq.get(a.seq);
    if (!m || m.body !== `${a.sender}:${a.n}`) missing++;
  }
  t.is(missing, 0, 'every acknowledged message is in history at its acked seq');
  // Each sender's messages appear in its own send order.
  const senders = ordered ?? [...new Set(acks.map((a) => a.sender))];
  for (const s of senders) {
    const order = history.filter((m) => m.body.startsWith(`${s}:`)).map((m) => Number(m.body.split(':')[1]));
    t.deepEqual(order, [...order].sort((a, b) => a - b), `${s} in send order`);
  }
}
