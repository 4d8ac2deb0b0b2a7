/**
 * SIGKILL a channel's owner under traffic from clients on every pod, one of
 * them (the victim) connected to the owner itself: survivors take over,
 * every acknowledged message is in history once, and both followers (the
 * victim after its reconnect) see every seq live, in order.
 */
import type { ExecutionContext } from 'ava';
import type { TestCluster } from '../harness/cluster.js';
import { eventually } from '../harness/server.js';
import { checkInvariant, collect, fullHistory, member, metric, ownedChannel, sender, type Ack } from './traffic.js';

export const LEASE_MS = 1500;
// Stated bound for a survivor to serve the channel after its owner is killed:
// the lease, a membership check, activation and a retry, with room for a
// loaded machine. Measured figures are in the README (bench --cluster).
const FAILOVER_BOUND_MS = LEASE_MS + 8000;

/** The figures that tell whether a pod still follows the channel, for a failure's log. */
async function podFigures(metricsPort: number): Promise<string[]> {
  const series = [
    'tertulia_connections', 'tertulia_followed_channels', 'tertulia_peer_pushes_dropped_total', 'tertulia_owed_tips',
    ...['owner_gone', 'link_up', 'moved', 'rejoined', 'tip'].map((r) => `tertulia_follow_again_total{reason="${r}"}`),
  ];
  return Promise.all(series.map(async (s) => `${s}=${await metric(metricsPort, s).catch(() => NaN)}`));
}

export async function killOwnerUnderTraffic(t: ExecutionContext, cluster: TestCluster): Promise<void> {
  const { channel, ownerOf, owner, others: survivors } = await ownedChannel(t, cluster, 'failover');
  t.log(`owner ${owner.name}; survivors ${survivors.map((p) => p.name).join(', ')}`);

  const make = (port: number, name: string, alternates: number[] = []) => member(t, port, name, channel.id, alternates);
  const s1 = await make(survivors[0]!.port, 'sender-one');
  const s2 = await make(survivors[1]!.port, 'sender-two');
  const watcher = await make(survivors[1]!.port, 'watcher');
  const victim = await make(owner.port, 'victim', survivors.map((p) => p.port));
  const seenWatcher = collect(watcher, channel.id);
  const seenVictim = collect(victim, channel.id);
  // Diagnostics: a subscription the client gives up on shows here.
  for (const [who, c] of [['victim', victim], ['watcher', watcher]] as const) {
    c.on('error', (e, ctx) => t.log(`${who}: ${e.codeName} ${e.message} ${JSON.stringify(ctx)}`));
    c.on('disconnect', (d) => t.log(`${who}: disconnected (${d.error?.message ?? 'closed'}) at ${Date.now()}`));
    c.on('reconnect', (r) => t.log(`${who}: reconnected after ${r.attempts} attempt(s) at ${Date.now()}`));
  }
  await watcher.subscribe(channel.id, 0);
  await victim.subscribe(channel.id, 0);

  const acks: Ack[] = [];
  const a = sender(s1, 'one', channel.id, acks);
  const b = sender(s2, 'two', channel.id, acks);
  const v = sender(victim, 'victim', channel.id, acks);
  await eventually(() => acks.length >= 30, 20000, 'traffic before the kill');

  const killedAt = Date.now();
  cluster.signal(owner, 'SIGKILL');
  await owner.exited;
  await eventually(() => acks.some((x) => x.at > killedAt && x.sender !== 'victim'), 30000, 'a send served after the kill');
  const failoverMs = Math.min(...acks.filter((x) => x.at > killedAt).map((x) => x.at)) - killedAt;
  t.log(`first acknowledged send after the kill: ${failoverMs} ms (lease ${LEASE_MS} ms)`);
  t.true(failoverMs < FAILOVER_BOUND_MS, `failover took ${failoverMs} ms`);
  await eventually(() => acks.filter((x) => x.at > killedAt).length >= 60, 30000, 'traffic after the kill');
  await eventually(() => acks.some((x) => x.sender === 'victim' && x.at > killedAt), 30000, 'the victim sends again from another pod');

  await Promise.all([a.stop(), b.stop(), v.stop()]);
  const history = await fullHistory(watcher, channel.id);
  checkInvariant(t, history, acks);
  const last = history.at(-1)!.seq;
  // Live delivery (with resume) reached both followers, each seq once and in order.
  for (const [who, seen] of [['watcher', seenWatcher], ['victim', seenVictim]] as const) {
    await eventually(() => (seen.at(-1)?.seq ?? 0) >= last, 20000, `${who} caught up`).catch(async (e: Error) => {
      const seqs = seen.map((m) => m.seq);
      const holes = seqs.filter((s, i) => i > 0 && s !== seqs[i - 1]! + 1);
      for (const p of cluster.pods) t.log(`${p.name} output:\n${p.service.output().slice(-4000)}`);
      for (const p of survivors) t.log(`${p.name} metrics: ${(await podFigures(p.metricsPort)).join(' ')}`);
      t.log(`${who} client: subscribed up to ${(who === 'victim' ? victim : watcher).lastDelivered(channel.id)}`);
      throw new Error(`${e.message}: last ${last}, saw ${seqs.length} up to ${seqs.at(-1)}, jumps at ${holes.slice(0, 5)}, state ${who === 'victim' ? victim.state : watcher.state}`);
    });
    t.deepEqual(seen.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), `${who} saw every seq once`);
  }
  const newOwner = await ownerOf();
  t.not(newOwner, owner.name);
  t.log(`acks ${acks.length}; send errors: ${[...a.errors, ...b.errors, ...v.errors].length}`);
}
