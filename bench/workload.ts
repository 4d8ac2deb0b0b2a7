/**
 * The measured workload, on one pod or several: setup (unmeasured, through the
 * first pod), connect (round-robin over the pods), open-loop traffic, and what
 * the pods and the machine did meanwhile. The caller owns the pods and the
 * database; the connected clients are handed back (and to `cleanups`) so a
 * --max ramp can reuse them before they are closed.
 */
import { withTimeout } from './concurrency.js';
import { closeAll, connectAll, type ConnectResult, type Member, type Target } from './connect.js';
import { cpuWatch, localPostmaster } from './cpu.js';
import type { BenchOptions } from './options.js';
import { watchActivity, type ActivityShare } from './pg-activity.js';
import type { Pod } from './pod.js';
import { fetchMetrics, sample, watchRss, writeView, type Scrape } from './scrape.js';
import { populate, type Population } from './setup.js';
import { loopMonitor } from './stats.js';
import { DeliverySink, runTraffic, warmUpMs, type TrafficOptions, type TrafficResult } from './traffic.js';

export const ACK_TIMEOUT_MS = 10_000;

/** Flags that keep the pod's guards from being what is measured; registration is setup, so hashing is cheap. */
export function podFlags(o: BenchOptions): string[] {
  const perClient = Math.ceil(o.rate / o.clients);
  const sendRate = String(Math.min(1_000_000, Math.max(1000, perClient * 20)));
  return ['--log-level', 'warn', '--scrypt-cost', '1024', '--send-rate-per-sec', sendRate, '--send-burst', sendRate];
}

export interface NamedPod {
  name: string;
  pod: Pod;
}

export interface WorkloadResult {
  setupSec: number;
  pop: Population;
  conn: ConnectResult;
  connectSec: number;
  connectLoopLagMs: { p50: number; p99: number; max: number };
  tr: TrafficResult;
  cpuPercent: { pod: number; bench: number; postgres: number };
  dbActivity: ActivityShare;
  /** Per pod, in the order given. */
  memory: { peakRssMiB: number; endRssMiB: number }[];
  before: Scrape[];
  /** Scraped at the end of the traffic phase's warm-up (empty if traffic ended first). */
  afterWarmUp: Scrape[];
  after: Scrape[];
  members: Member[];
  sink: DeliverySink;
  base: Omit<TrafficOptions, 'rate' | 'durationSec' | 'tag'>;
  /** Wall-clock (epoch ms) of the traffic window, to place the pods' log lines. */
  trafficEpochMs: { start: number; end: number };
}

export interface WorkloadHooks {
  /** Called after connect, before traffic: may return a grouping of senders for the ack latency. */
  beforeTraffic?: (members: readonly Member[], channels: readonly number[]) => Promise<TrafficOptions['group']>;
}

export async function runWorkload(
  o: BenchOptions,
  pods: readonly NamedPod[],
  databaseUrl: string,
  tag: string,
  cleanups: (() => Promise<void>)[],
  errors: string[],
  log: (line: string) => void,
  hooks: WorkloadHooks = {},
): Promise<WorkloadResult> {
  const first = pods[0]!.pod;
  let t = performance.now();
  log(`setup: registering ${o.clients} users, ${o.channels} channels`);
  const pop = await withTimeout('setup', 180_000, populate(first.host, first.port, o.clients, o.channels, tag));
  const setupSec = (performance.now() - t) / 1000;

  const sink = new DeliverySink();
  const targets: Target[] = pods.map((p) => ({ name: p.name, host: p.pod.host, port: p.pod.port }));
  log(`connect: ${o.clients} clients ${arrivalModel(o)} over ${targets.length} pod(s)`);
  t = performance.now();
  const connectLag = loopMonitor();
  const conn = await withTimeout(
    'connect',
    120_000,
    connectAll(targets, pop, { wave: o.wave, arrivalsPerSec: o.arrivals, requestTimeoutMs: ACK_TIMEOUT_MS }, { message: sink.handler }),
  );
  const connectSec = (performance.now() - t) / 1000;
  const connectLoopLagMs = connectLag.stop();
  cleanups.push(() => closeAll(conn.members));
  if (conn.members.length === 0) throw new Error(`no client connected: ${JSON.stringify(conn.failures.toObject())}`);

  const group = await hooks.beforeTraffic?.(conn.members, pop.channels);
  const postmaster = await localPostmaster(databaseUrl);
  const before = await Promise.all(pods.map((p) => scrapeOr(p, errors)));
  const rss = pods.map((p) => watchRss(p.pod.pid));
  const cpu = cpuWatch(pods.map((p) => p.pod.pid), postmaster);
  const activity = await watchActivity(databaseUrl);
  const base: Omit<TrafficOptions, 'rate' | 'durationSec' | 'tag'> = {
    perClientCap: o.perClientCap,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    bodyChars: o.bodyChars,
    progress: log,
  };
  log(`traffic: offering ${o.rate} msg/s for ${o.durationSec} s over ${conn.members.length} clients`);
  const trafficStart = Date.now();
  // The pods' figures once warm-up is over: what is left after is their steady state.
  let warm: Promise<Scrape[]> = Promise.resolve([]);
  const warmTimer = setTimeout(() => (warm = Promise.all(pods.map((p) => scrapeOr(p, errors)))), warmUpMs(o.durationSec));
  const timeline = o.timeline ? watchTimeline(pods, log) : null;
  const tr = await withTimeout(
    'traffic',
    o.durationSec * 1000 + ACK_TIMEOUT_MS + 30_000,
    runTraffic(conn.members, sink, { ...base, rate: o.rate, durationSec: o.durationSec, tag: 't-', ...(group ? { group } : {}) }),
  );
  const trafficEnd = Date.now();
  clearTimeout(warmTimer);
  await timeline?.stop();
  const afterWarmUp = await warm;
  const cpuPercent = cpu.stop();
  const dbActivity = await activity.stop();
  const memory = rss.map((r) => r.stop());
  const after = await Promise.all(pods.map((p) => scrapeOr(p, errors)));
  return { setupSec, pop, conn, connectSec, connectLoopLagMs, tr, cpuPercent, dbActivity, memory, before, afterWarmUp, after, members: conn.members, sink, base, trafficEpochMs: { start: trafficStart, end: trafficEnd } };
}

/** A failed scrape is reported, not fatal: the client-side figures still stand. */
async function scrapeOr(p: NamedPod, errors: string[]): Promise<Scrape> {
  try {
    return await fetchMetrics(p.pod.host, p.pod.metricsPort);
  } catch (err) {
    errors.push(`scrape of ${p.name} /metrics failed: ${(err as Error).message}`);
    return new Map();
  }
}

/** How clients reach the pods in the connect phase, in words. */
export function arrivalModel(o: Pick<BenchOptions, 'arrivals' | 'wave'>): string {
  return o.arrivals > 0 ? `arriving at ${o.arrivals.toLocaleString('en-US')}/s` : `in waves of ${o.wave}`;
}

/** Logs every pod's persist latency, commits and event-loop lag over each second, scraping /metrics once a second. */
function watchTimeline(pods: readonly NamedPod[], log: (line: string) => void): { stop(): Promise<void> } {
  let last: Scrape[] | null = null;
  let busy: Promise<void> = Promise.resolve();
  const t0 = performance.now();
  const tick = async (): Promise<void> => {
    const now = await Promise.all(pods.map((p) => fetchMetrics(p.pod.host, p.pod.metricsPort).catch(() => new Map() as Scrape)));
    if (last) {
      const t = ((performance.now() - t0) / 1000).toFixed(0);
      const parts = pods.map((p, i) => {
        const v = writeView(now[i]!, last![i]);
        const commits = v.committed - (sample(last![i]!, 'tertulia_messages_committed_total') || 0);
        return `${p.name} persist p50 ${v.persistMs.p50.toFixed(1)} p99 ${v.persistMs.p99.toFixed(1)} ms, ${commits} committed, loop lag p99 ${v.eventLoopLagP99Ms.toFixed(1)} ms, delivery gap ${(sample(now[i]!, 'tertulia_delivery_gap_ms') || 0).toFixed(0)} ms`;
      });
      log(`  t=${t}s ${parts.join(' | ')}`);
    }
    last = now;
  };
  const timer = setInterval(() => (busy = busy.then(tick)), 1000);
  busy = tick();
  return {
    stop: async () => {
      clearInterval(timer);
      await busy;
    },
  };
}
