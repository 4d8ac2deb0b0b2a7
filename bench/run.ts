/**
 * `npm run bench`: one pod in a child process against PostgreSQL, N clients
 * in this process. Phases: setup (unmeasured), connect, open-loop traffic,
 * optional --max ramp, then the raw INSERT ceiling on the same server.
 * Every phase has a deadline and a watchdog bounds the whole run; only the
 * processes started here are stopped, by their PIDs. Progress goes to stderr,
 * the table (and --json) to stdout.
 */
import { randomBytes } from 'node:crypto';
import { measureCeiling, type CeilingResult } from './ceiling.js';
import { withTimeout } from './concurrency.js';
import { closeAll, connectAll, type ConnectResult } from './connect.js';
import { openBenchDatabase, type BenchDatabase } from './database.js';
import { watchActivity } from './pg-activity.js';
import { parseOptions, type BenchOptions } from './options.js';
import { startPod, type Pod } from './pod.js';
import { rampToCeiling } from './ramp.js';
import { bars, renderTable, type BenchSummary } from './report.js';
import { cpuWatch, localPostmaster } from './cpu.js';
import { fetchMetrics, sample, watchRss, writeView, type Scrape } from './scrape.js';
import { populate } from './setup.js';
import { loopMonitor } from './stats.js';
import { DeliverySink, runTraffic, type TrafficOptions } from './traffic.js';

const ACK_TIMEOUT_MS = 10_000;
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

/** Flags that keep the pod's guards from being what is measured; registration is setup, so hashing is cheap. */
function podFlags(o: BenchOptions): string[] {
  const perClient = Math.ceil(o.rate / o.clients);
  const sendRate = String(Math.min(1_000_000, Math.max(1000, perClient * 20)));
  return ['--log-level', 'warn', '--scrypt-cost', '1024', '--send-rate-per-sec', sendRate, '--send-burst', sendRate];
}

async function main(o: BenchOptions): Promise<BenchSummary> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err) => log(`cleanup: ${(err as Error).message}`));
  };
  const budgetMs = 360_000 + o.durationSec * 1000 + (o.max ? 6 * 25_000 : 0);
  const watchdog = setTimeout(() => {
    log(`watchdog: run exceeded ${budgetMs / 1000} s; stopping what it started`);
    void cleanup().finally(() => process.exit(3));
  }, budgetMs);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping what the run started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    return await phases(o, cleanups);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
}

async function phases(o: BenchOptions, cleanups: (() => Promise<void>)[]): Promise<BenchSummary> {
  const errors: string[] = [];
  const db: BenchDatabase = await withTimeout('starting PostgreSQL', 90_000, openBenchDatabase(o.databaseUrl, log));
  cleanups.push(() => db.release());
  log(`database: ${db.origin}`);

  const flags = podFlags(o);
  const pod: Pod = await startPod({ databaseUrl: db.url, flags });
  let podStopped = false;
  const stopPod = async (): Promise<void> => {
    if (podStopped) return;
    podStopped = true;
    await pod.stop();
  };
  cleanups.push(stopPod);
  log(`pod pid ${pod.pid} on ${pod.host}:${pod.port}, metrics on ${pod.metricsPort}`);

  const tag = `b${randomBytes(3).toString('hex')}`;
  let t = performance.now();
  log(`setup: registering ${o.clients} users, ${o.channels} channels`);
  const pop = await withTimeout('setup', 180_000, populate(pod.host, pod.port, o.clients, o.channels, tag));
  const setupSec = (performance.now() - t) / 1000;

  const sink = new DeliverySink();
  log(`connect: ${o.clients} clients in waves of ${o.wave}`);
  t = performance.now();
  const connectLag = loopMonitor();
  const conn: ConnectResult = await withTimeout(
    'connect',
    120_000,
    connectAll(pod.host, pod.port, pop, { wave: o.wave, requestTimeoutMs: ACK_TIMEOUT_MS }, { message: sink.handler }),
  );
  const connectSec = (performance.now() - t) / 1000;
  const connectLoopLagMs = connectLag.stop();
  cleanups.push(() => closeAll(conn.members));
  if (conn.members.length === 0) throw new Error(`no client connected: ${JSON.stringify(conn.failures.toObject())}`);

  const postmaster = await localPostmaster(db.url);
  const before = await scrapeOr(pod, errors);
  const rss = watchRss(pod.pid);
  const cpu = cpuWatch(pod.pid, postmaster);
  const activity = await watchActivity(db.url);
  const base: Omit<TrafficOptions, 'rate' | 'durationSec' | 'tag'> = {
    perClientCap: o.perClientCap,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    bodyChars: o.bodyChars,
    progress: log,
  };
  log(`traffic: offering ${o.rate} msg/s for ${o.durationSec} s over ${conn.members.length} clients`);
  const tr = await withTimeout(
    'traffic',
    o.durationSec * 1000 + ACK_TIMEOUT_MS + 30_000,
    runTraffic(conn.members, sink, { ...base, rate: o.rate, durationSec: o.durationSec, tag: 't-' }),
  );
  const cpuPercent = cpu.stop();
  const dbActivity = await activity.stop();
  const memory = rss.stop();
  const after = await scrapeOr(pod, errors);

  const max = o.max ? await rampToCeiling(conn.members, sink, base, o.rate, log) : undefined;

  await closeAll(conn.members);
  const exitedEarly = pod.exited();
  await stopPod();

  const ceiling: CeilingResult[] = [];
  for (const connections of [1, 4]) {
    log(`ceiling: raw INSERTs of 100 rows on ${connections} connection(s) for ${o.ceilingSec} s`);
    try {
      ceiling.push(await withTimeout('ceiling', o.ceilingSec * 1000 + 30_000, measureCeiling(db.url, { connections, batchRows: 100, seconds: o.ceilingSec, bodyChars: o.bodyChars })));
    } catch (err) {
      errors.push(`ceiling on ${connections} connection(s): ${(err as Error).message}`);
    }
  }

  const ackedPerSec = tr.ackedInWindow / tr.windowSec;
  const best = ceiling.length ? Math.max(...ceiling.map((c) => c.rowsPerSec)) : NaN;
  const view = writeView(after);
  const partial: Omit<BenchSummary, 'bars'> = {
    config: { clients: o.clients, channels: o.channels, rate: o.rate, durationSec: o.durationSec, bodyChars: o.bodyChars, perClientCap: o.perClientCap, database: db.origin, podFlags: flags },
    setup: { seconds: setupSec, users: pop.users.length, channels: pop.channels.length },
    connect: { ok: conn.members.length, failed: conn.failures.toObject(), connectMs: conn.connectMs.summary(), subscribeMs: conn.subscribeMs.summary(), seconds: connectSec, benchLoopLagMs: connectLoopLagMs },
    traffic: {
      windowSec: tr.windowSec,
      scheduled: tr.scheduled,
      sent: tr.sent,
      skippedAtCap: tr.skippedAtCap,
      skippedDisconnected: tr.skippedDisconnected,
      acked: tr.acked,
      ackedPerSec,
      refused: tr.refused.toObject(),
      ackMs: tr.ackMs.summary(),
      steadyAckMs: tr.steadyAckMs.summary(),
      delivered: tr.delivered,
      deliveredPerSec: tr.deliveredInWindow / tr.windowSec,
      expectedDeliveries: tr.expectedDeliveries,
      deliveryMs: tr.deliveryMs.summary(),
      benchLoopLagMs: tr.benchLoopLagMs,
    },
    clientEvents: { serverErrors: conn.serverErrors.toObject(), disconnects: conn.disconnects.toObject() },
    pod: {
      ...view,
      committedInTraffic: view.committed - (sample(before, 'tertulia_messages_committed_total') || 0),
      ...memory,
      log: pod.logSummary(),
      exited: exitedEarly ? `code ${exitedEarly.code} signal ${exitedEarly.signal}` : null,
    },
    cpuPercent,
    dbActivity,
    ceiling,
    ratio: { ackedPerSec, toOneConnection: ackedPerSec / (ceiling.find((c) => c.connections === 1)?.rowsPerSec ?? NaN), toBest: ackedPerSec / best },
    ...(max ? { max } : {}),
    errors,
  };
  if (Object.keys(partial.pod.log).length) errors.push(`pod log lines (first 5): ${pod.firstLogLines(5).join(' | ').slice(0, 1500)}`);
  return { ...partial, bars: bars(partial) };
}

/** A failed scrape is reported, not fatal: the client-side figures still stand. */
async function scrapeOr(pod: Pod, errors: string[]): Promise<Scrape> {
  try {
    return await fetchMetrics(pod.host, pod.metricsPort);
  } catch (err) {
    errors.push(`scrape of /metrics failed: ${(err as Error).message}`);
    return new Map();
  }
}

let opts: BenchOptions;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
main(opts).then(
  (summary) => {
    process.stdout.write(renderTable(summary));
    if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
    process.exit(0);
  },
  (err) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
