/**
 * The single-pod bench (`npm run bench` without --cluster/--failover): one
 * pod on a fresh database, the workload, an optional --max ramp, then the raw
 * INSERT ceiling on the same server.
 */
import { randomBytes } from 'node:crypto';
import { measureCeiling, type CeilingResult } from './ceiling.js';
import { withTimeout } from './concurrency.js';
import { closeAll } from './connect.js';
import { openBenchDatabase, type BenchDatabase } from './database.js';
import type { BenchOptions } from './options.js';
import { startPod, type Pod } from './pod.js';
import { rampToCeiling } from './ramp.js';
import { bars, type BenchSummary } from './report.js';
import { sample, writeView } from './scrape.js';
import type { TrafficResult } from './traffic.js';
import { arrivalModel, podFlags, runWorkload } from './workload.js';

export async function runSingle(o: BenchOptions, cleanups: (() => Promise<void>)[], log: (line: string) => void): Promise<BenchSummary> {
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
  const w = await runWorkload(o, [{ name: 'pod', pod }], db.url, tag, cleanups, errors, log);
  const { tr, conn } = w;
  const max = o.max ? await rampToCeiling(w.members, w.sink, w.base, o.rate, log) : undefined;

  await closeAll(w.members);
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
  const view = writeView(w.after[0]!, w.before[0]);
  const partial: Omit<BenchSummary, 'bars'> = {
    config: { clients: o.clients, channels: o.channels, rate: o.rate, durationSec: o.durationSec, bodyChars: o.bodyChars, perClientCap: o.perClientCap, database: db.origin, podFlags: flags, arrivals: arrivalModel(o) },
    setup: { seconds: w.setupSec, users: w.pop.users.length, channels: w.pop.channels.length },
    connect: { ok: conn.members.length, failed: conn.failures.toObject(), connectMs: conn.connectMs.summary(), stepsMs: { tcp: conn.stepsMs.tcp.summary(), hello: conn.stepsMs.hello.summary(), auth: conn.stepsMs.auth.summary() }, subscribeMs: conn.subscribeMs.summary(), seconds: w.connectSec, benchLoopLagMs: w.connectLoopLagMs },
    traffic: trafficSummary(w.tr),
    clientEvents: { serverErrors: conn.serverErrors.toObject(), disconnects: conn.disconnects.toObject() },
    pod: {
      ...view,
      steadyPersistMs: w.afterWarmUp[0] ? writeView(w.after[0]!, w.afterWarmUp[0]).persistMs : null,
      committedInTraffic: view.committed - (sample(w.before[0]!, 'tertulia_messages_committed_total') || 0),
      ...w.memory[0]!,
      log: pod.logSummary(),
      exited: exitedEarly ? `code ${exitedEarly.code} signal ${exitedEarly.signal}` : null,
    },
    cpuPercent: w.cpuPercent,
    dbActivity: w.dbActivity,
    ceiling,
    ratio: { ackedPerSec, toOneConnection: ackedPerSec / (ceiling.find((c) => c.connections === 1)?.rowsPerSec ?? NaN), toBest: ackedPerSec / best },
    ...(max ? { max } : {}),
    errors,
  };
  if (Object.keys(partial.pod.log).length) errors.push(`pod log lines (first 5): ${pod.firstLogLines(5).join(' | ').slice(0, 1500)}`);
  return { ...partial, bars: bars(partial) };
}

export function trafficSummary(tr: TrafficResult): BenchSummary['traffic'] {
  return {
    windowSec: tr.windowSec,
    scheduled: tr.scheduled,
    sent: tr.sent,
    skippedAtCap: tr.skippedAtCap,
    skippedDisconnected: tr.skippedDisconnected,
    acked: tr.acked,
    ackedPerSec: tr.ackedInWindow / tr.windowSec,
    refused: tr.refused.toObject(),
    ackMs: tr.ackMs.summary(),
    steadyAckMs: tr.steadyAckMs.summary(),
    delivered: tr.delivered,
    deliveredPerSec: tr.deliveredInWindow / tr.windowSec,
    expectedDeliveries: tr.expectedDeliveries,
    deliveryMs: tr.deliveryMs.summary(),
    benchLoopLagMs: tr.benchLoopLagMs,
  };
}
