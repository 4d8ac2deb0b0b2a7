/**
 * `--failover K`: a 3-pod cluster, one channel, a steady sender connected to
 * a pod that does not own it. Each round: read the owner from Redis, SIGKILL
 * it (a PID started here), time kill → first ack of a send issued after the
 * kill, restart a pod under the same name, wait until the cluster is stable
 * again (3 live pods, the channel back on its preferred pod, acks flowing).
 * At the end the channel's history is checked against every ack.
 */
import { randomBytes } from 'node:crypto';
import { TertuliaClient } from '../protocol/client/index.js';
import { preferredPod } from '../runtime/cluster/placement.js';
import { startBenchCluster, type BenchCluster } from './cluster-pods.js';
import { sleep, withTimeout } from './concurrency.js';
import { openBenchServer } from './database.js';
import { checkHistory, fullHistory, type HistoryCheck } from './history-check.js';
import type { BenchOptions } from './options.js';
import { openRegistryView, type RegistryView } from './registry-view.js';
import { percentile } from './stats.js';
import { steadySender, type SteadySender } from './steady-sender.js';

const PODS = 3;
const SEND_EVERY_MS = 10;
const SEND_CAP = 64;
const SEND_TIMEOUT_MS = 20_000;
const FIRST_ACK_LIMIT_MS = 30_000;
const STABLE_LIMIT_MS = 60_000;
const PASSWORD = 'bench-password-1';

export interface FailoverRound {
  round: number;
  victim: string;
  victimPid: number;
  /** Kill → first ack of a send issued after the kill; NaN if none within the limit. */
  failoverMs: number;
  /** Kill → first ack received at all (may be a reply already on its way when the owner died). */
  firstAnyAckMs: number;
  /** Who held the channel once it was served again. */
  takenOverBy: string | null;
  /** Restart of the victim's name → stable (3 live, channel on its preferred pod, acks flowing). */
  restabilizeMs: number;
}

export interface FailoverSummary {
  mode: 'failover';
  config: { rounds: number; pods: number; leaseMs: number; membershipCheckMs: number; sendEveryMs: number; sendCap: number; database: string };
  senderPod: string;
  rounds: FailoverRound[];
  failoverMs: { min: number; p50: number; max: number; mean: number; count: number };
  sends: { issued: number; acked: number; skippedAtCap: number; errors: Record<string, number> };
  history: HistoryCheck;
  podLogs: Record<string, Record<string, number>>;
  errors: string[];
}

export async function runFailover(o: BenchOptions, cleanups: (() => Promise<void>)[], log: (line: string) => void): Promise<FailoverSummary> {
  const errors: string[] = [];
  const server = await withTimeout('starting PostgreSQL', 90_000, openBenchServer(o.databaseUrl, log));
  cleanups.push(() => server.release());
  const db = await server.fresh();
  cleanups.push(() => db.release());
  const flags = ['--log-level', 'warn', '--scrypt-cost', '1024', '--send-rate-per-sec', '10000', '--send-burst', '10000'];
  const cluster: BenchCluster = await startBenchCluster({ size: PODS, databaseUrl: db.url, leaseMs: o.leaseMs, flags }, log);
  cleanups.push(() => cluster.stop());
  const view = openRegistryView(cluster.redis.url, cluster.prefix);
  cleanups.push(async () => view.close());

  const tag = `fo${randomBytes(3).toString('hex')}`;
  const first = cluster.pods[0]!.pod;
  const admin = new TertuliaClient({ host: first.host, port: first.port, reconnect: false, requestTimeoutMs: 30_000 });
  await admin.connect();
  await admin.register(`${tag}admin`, PASSWORD);
  const channel = (await admin.create(`${tag}chan`, 'public')).channel.id;
  await admin.send(channel, `${tag}-warm-up`);
  await admin.close();

  const owner0 = await view.owner(channel);
  const home = cluster.pods.find((p) => p.name !== owner0)!;
  const alternates = cluster.pods.filter((p) => p !== home).map((p) => ({ host: p.pod.host, port: p.pod.port }));
  const client = new TertuliaClient({ host: home.pod.host, port: home.pod.port, alternates, requestTimeoutMs: SEND_TIMEOUT_MS, reconnect: { initialMs: 50, maxMs: 500 } });
  cleanups.push(() => client.close());
  await client.connect();
  await client.register(`${tag}sender`, PASSWORD);
  await client.join(channel);
  log(`channel ${channel} owned by ${owner0}; sender on ${home.name}, one send every ${SEND_EVERY_MS} ms`);
  const sender = steadySender(client, channel, tag, { everyMs: SEND_EVERY_MS, cap: SEND_CAP, timeoutMs: SEND_TIMEOUT_MS });
  cleanups.push(() => sender.stop(0));

  const rounds: FailoverRound[] = [];
  await waitStable(view, channel, home.name, sender, 'before round 1');
  for (let round = 1; round <= o.failover; round++) {
    const ownerName = await view.owner(channel);
    const victim = cluster.pods.find((p) => p.name === ownerName);
    if (!victim || victim === home) throw new Error(`round ${round}: owner ${ownerName} is not a pod the sender can survive losing`);
    const killAt = performance.now();
    await victim.pod.kill();
    const failoverMs = await firstAckAfter(sender, killAt, FIRST_ACK_LIMIT_MS);
    const firstAny = sender.acks.find((a) => a.at > killAt);
    const takenOverBy = await view.owner(channel);
    if (!Number.isFinite(failoverMs)) errors.push(`round ${round}: no send issued after the kill was acked within ${FIRST_ACK_LIMIT_MS} ms`);
    log(`round ${round}: killed ${victim.name} (pid ${victim.pod.pid}); first ack after ${failoverMs.toFixed(0)} ms, served by ${takenOverBy}`);
    const restartAt = performance.now();
    await cluster.start(victim.name);
    await waitStable(view, channel, home.name, sender, `after round ${round}`);
    rounds.push({ round, victim: victim.name, victimPid: victim.pod.pid, failoverMs, firstAnyAckMs: firstAny ? firstAny.at - killAt : NaN, takenOverBy, restabilizeMs: performance.now() - restartAt });
  }

  await sender.stop(SEND_TIMEOUT_MS + 5000);
  if (sender.inflight() > 0) errors.push(`${sender.inflight()} sends still in flight at the end`);
  const history = await withTimeout('history', 120_000, fullHistory(client, channel));
  const check = checkHistory(history, sender.acks, tag);
  const times = rounds.map((r) => r.failoverMs).filter(Number.isFinite).sort((a, b) => a - b);
  return {
    mode: 'failover',
    config: { rounds: o.failover, pods: PODS, leaseMs: o.leaseMs, membershipCheckMs: Math.max(50, Math.floor(o.leaseMs / 6)), sendEveryMs: SEND_EVERY_MS, sendCap: SEND_CAP, database: db.origin },
    senderPod: home.name,
    rounds,
    failoverMs: { min: times[0] ?? NaN, p50: percentile(times, 50), max: times.at(-1) ?? NaN, mean: times.reduce((a, b) => a + b, 0) / times.length, count: times.length },
    sends: { issued: sender.acks.length + sender.errors.total + sender.inflight(), acked: sender.acks.length, skippedAtCap: sender.skippedAtCap(), errors: sender.errors.toObject() },
    history: check,
    podLogs: Object.fromEntries(cluster.started.map((p) => [`${p.name} (pid ${p.pod.pid})`, p.pod.logSummary()])),
    errors,
  };
}

/** Kill → first ack of a send issued after `killAt`, in ms; NaN past the limit. */
async function firstAckAfter(sender: SteadySender, killAt: number, limitMs: number): Promise<number> {
  const end = killAt + limitMs;
  let from = 0;
  while (performance.now() < end) {
    for (; from < sender.acks.length; from++) {
      const a = sender.acks[from]!;
      if (a.sentAt >= killAt) return a.at - killAt;
    }
    await sleep(5);
  }
  return NaN;
}

/** 3 live pods, the channel held by its preferred pod (not the sender's), and 10 acks since that was seen. */
async function waitStable(view: RegistryView, channel: number, senderPod: string, sender: SteadySender, what: string): Promise<void> {
  const end = performance.now() + STABLE_LIMIT_MS;
  let last = '';
  while (performance.now() < end) {
    const live = await view.livePods();
    const owner = await view.owner(channel);
    const preferred = preferredPod(channel, live.map((id) => ({ id, incarnation: 0, client: '', peer: '' })))?.id ?? null;
    last = `live ${live.join(',')}; owner ${owner}; preferred ${preferred}`;
    if (live.length === PODS && owner !== null && owner === preferred && owner !== senderPod) {
      const since = sender.acks.length;
      const t = performance.now();
      while (sender.acks.length < since + 10 && performance.now() - t < 5000) await sleep(20);
      if (sender.acks.length >= since + 10 && (await view.owner(channel)) === owner) return;
    }
    await sleep(100);
  }
  throw new Error(`cluster not stable ${what} within ${STABLE_LIMIT_MS} ms: ${last}`);
}
