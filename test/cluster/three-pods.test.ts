import test from 'ava';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { MessageView } from '../../protocol/messages.js';
import { TertuliaClient } from '../../protocol/client/index.js';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { eventually, usePostgres } from '../harness/server.js';

const postgres = usePostgres(test);
let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster(await postgres(), { size: 3 });
});
test.after.always(async () => {
  await cluster?.stop();
});

async function connect(t: import('ava').ExecutionContext, port: number, name: string) {
  const c = new TertuliaClient({ host: '127.0.0.1', port, requestTimeoutMs: 15000 });
  t.teardown(() => c.close());
  await c.connect();
  await c.register(name, 'correct horse battery');
  return c;
}

test('clients on three pods share channels: one owner each, gap-free seqs, live delivery across pods', async (t) => {
  const clients = await Promise.all(cluster.pods.map((p, i) => connect(t, p.port, `three${i}`)));
  const channelIds: number[] = [];
  for (let k = 0; k < 6; k++) channelIds.push((await clients[k % 3]!.create(`spread-${k}`, 'public')).channel.id);
  const got = clients.map(() => new Map<number, MessageView[]>());
  clients.forEach((c, i) =>
    c.on('message', (m) => {
      const list = got[i]!.get(m.channel) ?? [];
      list.push(m);
      got[i]!.set(m.channel, list);
    }),
  );
  for (const c of clients) for (const ch of channelIds) await c.join(ch);
  for (const c of clients) for (const ch of channelIds) await c.subscribe(ch);

  const perClient = 10;
  await Promise.all(
    clients.map(async (c, i) => {
      for (const ch of channelIds) for (let k = 0; k < perClient; k++) await c.send(ch, `from ${i} #${k}`);
    }),
  );
  const total = clients.length * perClient;
  await eventually(() => got.every((g) => channelIds.every((ch) => (g.get(ch)?.length ?? 0) === total)), 20000, 'delivery everywhere');
  for (const g of got) {
    for (const ch of channelIds) {
      t.deepEqual(g.get(ch)!.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), `channel ${ch}`);
    }
  }

  // Exactly one owner per channel, in Redis and in PostgreSQL's fencing epoch.
  const redis = new Redis(cluster.redis.url);
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  t.teardown(async () => {
    redis.disconnect();
    await db.end();
  });
  const owners = new Set<string>();
  for (const ch of channelIds) {
    const owner = await redis.hgetall(`t${process.pid}:owner:${ch}`);
    t.truthy(owner.pod, `channel ${ch} has an owner in Redis`);
    owners.add(owner.pod!);
    const row = await db.query('select owner_epoch from channels where id = $1', [ch]);
    t.true(Number(row.rows[0].owner_epoch) >= Number(owner.epoch), 'owner_epoch has reached the claim epoch');
  }
  t.true(owners.size >= 2, `channels spread over pods (${[...owners].join(', ')})`);
});

test('the peer port refuses a connection that does not authenticate', async (t) => {
  const { connect: tcp } = await import('node:net');
  const res = await fetch(`http://127.0.0.1:${cluster.pods[0]!.metricsPort}/healthz`);
  t.is(res.status, 200);
  // The peer port is not printed; find it in Redis.
  const redis = new Redis(cluster.redis.url);
  t.teardown(() => redis.disconnect());
  const pods = await redis.hgetall(`t${process.pid}:pods`);
  const peer = JSON.parse(pods['pod-0']!).peer as string;
  const port = Number(peer.split(':').at(-1));
  const sock = tcp({ host: '127.0.0.1', port });
  sock.on('error', () => {});
  // Read what arrives (the challenge), or the end of the stream is never seen.
  sock.resume();
  await new Promise((r) => sock.once('connect', r));
  sock.write(Buffer.from([0, 0, 0, 5, 0x82, 0xa2, 0x6f, 0x70, 0xc0]));
  await new Promise<void>((r) => sock.once('close', () => r()));
  t.pass('closed by the server');
});

test('presence, typing and who work across pods', async (t) => {
  const [pa, pb] = cluster.pods;
  const a = await connect(t, pa!.port, 'presence-a');
  const b = await connect(t, pb!.port, 'presence-b');
  const { channel } = await a.create('across', 'public');
  await b.join(channel.id);
  const presence: { name: string; online: boolean }[] = [];
  const typing: string[] = [];
  a.on('presence', (p) => presence.push(p));
  a.on('typing', (e) => typing.push(e.name));
  await a.subscribe(channel.id);
  await b.subscribe(channel.id);
  await eventually(() => presence.some((p) => p.name === 'presence-b' && p.online), 10000, 'b online at a');
  const who = await b.who(channel.id);
  t.deepEqual(who.members.filter((m) => m.online).map((m) => m.name).sort(), ['presence-a', 'presence-b']);
  await b.typing(channel.id);
  await eventually(() => typing.includes('presence-b'), 10000, 'typing crossed pods');
  await b.close();
  await eventually(() => presence.some((p) => p.name === 'presence-b' && !p.online), 10000, 'b offline at a');
  t.false((await a.who(channel.id)).members.find((m) => m.name === 'presence-b')!.online);
});
