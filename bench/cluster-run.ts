/**
 * `--cluster N`: the single-pod workload twice in one invocation, first on
 * one pod (the baseline, standalone as in `npm run bench`), then on N pods
 * sharing a private Redis, each run on a fresh database of the same server.
 * In the cluster run, ack latency is split by whether the sender's pod held
 * the channel (read from Redis before traffic) or had to forward the send.
 */
import { randomBytes } from 'node:crypto';
import { closeAll, type Member } from './connect.js';
import { startBenchCluster } from './cluster-pods.js';
import { withTimeout } from './concurrency.js';
import { openBenchServer, type BenchServer } from './database.js';
import type { BenchOptions } from './options.js';
import { startPod } from './pod.js';
import { openRegistryView } from './registry-view.js';
import { sample, writeView } from './scrape.js';
import { trafficSummary } from './single.js';
import type { Summary } from './stats.js';
import { podFlags, runWorkload, type NamedPod, type WorkloadHooks, type WorkloadResult } from './workload.js';
import type { ActivityShare } from './pg-activity.js';
import type { BenchSummary } from './report.js';

export interface PodFigures {
  name: string;
  persistMs: { p50: number; p99: number; count: number };
  committedInTraffic: number;
  peakRssMiB: number;
  eventLoopLagP99Ms: number;
  /** Messages per commit, over the pod's life. */
  batchMean: number;
  /** Channels this pod held when traffic began (cluster run). */
  channelsOwned?: number;
  log: Record<string, number>;
  /** The first lines it logged, as evidence for the summary above. */
  firstLog: string[];
  exited: string | null;
}

export interface RunSide {
  pods: number;
  database: string;
  connect: { ok: number; failed: Record<string, number>; connectMs: Summary; subscribeMs: Summary; seconds: number };
  traffic: BenchSummary['traffic'];
  clientEvents: BenchSummary['clientEvents'];
  /** Worst pod's quantile: each pod keeps its own summary and quantiles do not merge. */
  persistMs: { p50: number; p99: number };
  committedInTraffic: number;
  cpuPercent: { pod: number; bench: number; postgres: number };
  /** What the pods' PostgreSQL connections were doing during traffic. */
  dbActivity: ActivityShare;
  /** Epoch ms: traffic window (including its drain) and when the pods were told to stop, to place log lines. */
  timeline: { trafficStart: number; trafficEnd: number; stopAt: number };
  perPod: PodFigures[];
}

export interface HopFigures {
  /** Sends whose client was connected to the channel's owner pod. */
  onOwner: Summary;
  /** Sends forwarded by another pod to the owner. */
  onOther: Summary;
  diffP50Ms: number;
  diffP99Ms: number;
  /** Channels with no owner in Redis when traffic began, or whose owner differed after. */
  unknownOwner: number;
  ownerChanged: number;
}

export interface ClusterComparison {
  mode: 'cluster';
  config: { clients: number; channels: number; rate: number; durationSec: number; bodyChars: number; perClientCap: number; pods: number; leaseMs: number; database: string; podFlags: string[] };
  single: RunSide;
  cluster: RunSide;
  /** cluster ÷ single. */
  ratios: { connectP95: number; ackP50: number; ackP99: number; persistP99: number; deliveredPerSec: number };
  hop: HopFigures;
  errors: string[];
}

type Cleanups = (() => Promise<void>)[];

/** Runs `fn` once; later calls (the cleanup list after an early stop) are no-ops. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await fn();
  };
}

export async function runClusterComparison(o: BenchOptions, cleanups: Cleanups, log: (line: string) => void): Promise<ClusterComparison> {
  const errors: string[] = [];
  const server: BenchServer = await withTimeout('starting PostgreSQL', 90_000, openBenchServer(o.databaseUrl, log));
  cleanups.push(once(() => server.release()));
  const flags = podFlags(o);

  log(`run 1 of 2: one pod (${server.origin})`);
  const single = await oneRun(server, async (url) => {
    const pod = await startPod({ databaseUrl: url, flags });
    return { pods: [{ name: 'pod', pod }], stop: () => pod.stop() };
  });

  log(`run 2 of 2: ${o.cluster} pods, private Redis`);
  let hop: HopFigures | undefined;
  const cluster = await oneRun(
    server,
    async (url) => {
      const c = await startBenchCluster({ size: o.cluster, databaseUrl: url, leaseMs: o.leaseMs, flags }, log);
      const view = openRegistryView(c.redis.url, c.prefix);
      return { pods: c.pods, stop: async () => (view.close(), await c.stop()), view };
    },
    (view) => {
      let owners = new Map<number, string | null>();
      return {
        async beforeTraffic(_members: readonly Member[], channels: readonly number[]) {
          owners = await view.owners(channels);
          return (m: Member) => {
            const owner = owners.get(m.channel);
            return owner ? (owner === m.pod ? 'owner' : 'other') : 'unknown';
          };
        },
        async afterTraffic(w: WorkloadResult) {
          const now = await view.owners(w.pop.channels);
          const ownerChanged = [...now].filter(([ch, p]) => owners.get(ch) !== p).length;
          const onOwner = w.tr.ackMsByGroup.get('owner')?.summary() ?? emptySummary();
          const onOther = w.tr.ackMsByGroup.get('other')?.summary() ?? emptySummary();
          hop = {
            onOwner,
            onOther,
            diffP50Ms: onOther.p50 - onOwner.p50,
            diffP99Ms: onOther.p99 - onOwner.p99,
            unknownOwner: [...owners.values()].filter((p) => !p).length,
            ownerChanged,
          };
          return [...owners.values()];
        },
      };
    },
  );

  const r = (a: number, b: number): number => a / b;
  return {
    mode: 'cluster',
    config: { clients: o.clients, channels: o.channels, rate: o.rate, durationSec: o.durationSec, bodyChars: o.bodyChars, perClientCap: o.perClientCap, pods: o.cluster, leaseMs: o.leaseMs, database: server.origin, podFlags: flags },
    single,
    cluster,
    ratios: {
      connectP95: r(cluster.connect.connectMs.p95, single.connect.connectMs.p95),
      ackP50: r(cluster.traffic.ackMs.p50, single.traffic.ackMs.p50),
      ackP99: r(cluster.traffic.ackMs.p99, single.traffic.ackMs.p99),
      persistP99: r(cluster.persistMs.p99, single.persistMs.p99),
      deliveredPerSec: r(cluster.traffic.deliveredPerSec, single.traffic.deliveredPerSec),
    },
    hop: hop!,
    errors,
  };

  /** One run on a fresh database: start the pods, the workload, stop everything it started. */
  async function oneRun<V>(
    srv: BenchServer,
    startPods: (url: string) => Promise<{ pods: NamedPod[]; stop(): Promise<void>; view?: V }>,
    split?: (view: V) => WorkloadHooks & { afterTraffic(w: WorkloadResult): Promise<(string | null)[]> },
  ): Promise<RunSide> {
    const db = await srv.fresh();
    const releaseDb = once(() => db.release());
    cleanups.push(releaseDb);
    const started = await startPods(db.url);
    const stopPods = once(() => started.stop());
    cleanups.push(stopPods);
    const hooks = split && started.view !== undefined ? split(started.view) : undefined;
    const w = await runWorkload(o, started.pods, db.url, `b${randomBytes(3).toString('hex')}`, cleanups, errors, log, hooks ?? {});
    const owners = hooks ? await hooks.afterTraffic(w) : [];
    await closeAll(w.members);
    const exited = started.pods.map((p) => p.pod.exited());
    const stopAt = Date.now();
    await stopPods();
    await releaseDb();
    return side(w, started.pods, exited, owners, db.origin, stopAt);
  }
}

function side(w: WorkloadResult, pods: NamedPod[], exited: ({ code: number | null; signal: NodeJS.Signals | null } | null)[], owners: (string | null)[], database: string, stopAt: number): RunSide {
  const perPod: PodFigures[] = pods.map((p, i) => {
    const v = writeView(w.after[i]!, w.before[i]);
    const e = exited[i];
    return {
      name: p.name,
      persistMs: { p50: v.persistMs.p50, p99: v.persistMs.p99, count: v.persistMs.count },
      committedInTraffic: v.committed - (sample(w.before[i]!, 'tertulia_messages_committed_total') || 0),
      peakRssMiB: w.memory[i]!.peakRssMiB,
      eventLoopLagP99Ms: v.eventLoopLagP99Ms,
      batchMean: v.batchMean,
      ...(owners.length ? { channelsOwned: owners.filter((o) => o === p.name).length } : {}),
      log: p.pod.logSummary(),
      firstLog: p.pod.firstLogLines(3).map((l) => l.slice(0, 400)),
      exited: e ? `code ${e.code} signal ${e.signal}` : null,
    };
  });
  const worst = (k: 'p50' | 'p99'): number => Math.max(...perPod.map((p) => (Number.isFinite(p.persistMs[k]) ? p.persistMs[k] : -Infinity)));
  const c = w.conn;
  return {
    pods: pods.length,
    database,
    connect: { ok: c.members.length, failed: c.failures.toObject(), connectMs: c.connectMs.summary(), subscribeMs: c.subscribeMs.summary(), seconds: w.connectSec },
    traffic: trafficSummary(w.tr),
    clientEvents: { serverErrors: c.serverErrors.toObject(), disconnects: c.disconnects.toObject() },
    persistMs: { p50: worst('p50'), p99: worst('p99') },
    committedInTraffic: perPod.reduce((s, p) => s + p.committedInTraffic, 0),
    cpuPercent: w.cpuPercent,
    dbActivity: w.dbActivity,
    timeline: { trafficStart: w.trafficEpochMs.start, trafficEnd: w.trafficEpochMs.end, stopAt },
    perPod,
  };
}

function emptySummary(): Summary {
  return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
}
