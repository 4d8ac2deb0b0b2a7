/** The --cluster table: one pod and N pods side by side, the ratios, and the cost of a cross-pod hop. */
import { availableParallelism } from 'node:os';
import type { ClusterComparison, RunSide } from './cluster-run.js';

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const tally = (t: Record<string, number>): string => (Object.keys(t).length ? Object.entries(t).map(([k, v]) => `${k}×${v}`).join(', ') : 'none');

export function renderClusterTable(s: ClusterComparison): string {
  const c = s.config;
  const rows: string[][] = [];
  const row = (...cells: string[]): void => void rows.push(cells);
  const both = (name: string, get: (r: RunSide) => number, fmt = f1, ratio?: number): void =>
    row(name, fmt(get(s.single)), fmt(get(s.cluster)), ratio === undefined ? '' : f2(ratio));

  row('', '1 pod', `${c.pods} pods`, 'cluster ÷ single');
  both('clients connected', (r) => r.connect.ok, f0);
  both('connect p50 (ms)', (r) => r.connect.connectMs.p50);
  both('connect p95 (ms)', (r) => r.connect.connectMs.p95, f1, s.ratios.connectP95);
  both('subscribe p95 (ms)', (r) => r.connect.subscribeMs.p95);
  both('sent', (r) => r.traffic.sent, f0);
  both('acked', (r) => r.traffic.acked, f0);
  both('refused / timed out', (r) => Object.values(r.traffic.refused).reduce((a, b) => a + b, 0), f0);
  both('skipped (cap / dropped)', (r) => r.traffic.skippedAtCap + r.traffic.skippedDisconnected, f0);
  both('acked msgs/s', (r) => r.traffic.ackedPerSec, f0);
  both('ack p50 (ms)', (r) => r.traffic.ackMs.p50, f1, s.ratios.ackP50);
  both('ack p99 (ms)', (r) => r.traffic.ackMs.p99, f1, s.ratios.ackP99);
  both('ack max (ms)', (r) => r.traffic.ackMs.max);
  both('persist p50 (ms, worst pod)', (r) => r.persistMs.p50);
  both('persist p99 (ms, worst pod)', (r) => r.persistMs.p99, f1, s.ratios.persistP99);
  both('committed in traffic', (r) => r.committedInTraffic, f0);
  both('delivered msgs/s', (r) => r.traffic.deliveredPerSec, f0, s.ratios.deliveredPerSec);
  both('delivered ÷ expected (%)', (r) => (100 * r.traffic.delivered) / r.traffic.expectedDeliveries);
  both('delivery p99 (ms)', (r) => r.traffic.deliveryMs.p99);
  both('CPU pods (% of a core)', (r) => r.cpuPercent.pod, f0);
  both('CPU bench', (r) => r.cpuPercent.bench, f0);
  both('CPU postgres', (r) => r.cpuPercent.postgres, f0);
  both('bench loop delay p99 (ms)', (r) => r.traffic.benchLoopLagMs.p99);

  const h = s.hop;
  const out: string[] = [
    `cluster comparison: ${f0(c.clients)} clients, ${f0(c.channels)} channels, offered ${f0(c.rate)} msg/s for ${c.durationSec} s (open loop), body ${c.bodyChars}`,
    `database: ${c.database}; lease ${c.leaseMs} ms; machine: ${availableParallelism()} cores shared by pods, PostgreSQL, Redis and this load generator`,
    '',
    ...table(rows),
    '',
    `cross-pod hop (${c.pods}-pod run; owner read from Redis when traffic began)`,
    ...table([
      ['', 'sends', 'ack p50 (ms)', 'ack p99 (ms)'],
      ['client on the owner pod', f0(h.onOwner.count), f1(h.onOwner.p50), f1(h.onOwner.p99)],
      ['client on another pod', f0(h.onOther.count), f1(h.onOther.p50), f1(h.onOther.p99)],
      ['difference (other − owner)', '', f1(h.diffP50Ms), f1(h.diffP99Ms)],
    ]),
    `  channels without an owner at start: ${h.unknownOwner}; owner changed during traffic: ${h.ownerChanged}`,
    '',
    'per pod',
  ];
  const podRows = [['', 'persist p50', 'p99', 'count', 'committed', 'msgs/commit', 'channels', 'RSS peak MiB', 'loop lag p99']];
  for (const [label, r] of [['1 pod', s.single], [`${c.pods} pods`, s.cluster]] as const) {
    for (const p of r.perPod) {
      podRows.push([`${label}: ${p.name}`, f1(p.persistMs.p50), f1(p.persistMs.p99), f0(p.persistMs.count), f0(p.committedInTraffic), f1(p.batchMean), p.channelsOwned === undefined ? '-' : String(p.channelsOwned), f0(p.peakRssMiB), f1(p.eventLoopLagP99Ms)]);
    }
  }
  out.push(...table(podRows), '');
  for (const [label, r] of [['1 pod', s.single], [`${c.pods} pods`, s.cluster]] as const) {
    const tl = r.timeline;
    out.push(`${label}: DB connections (mean in traffic) ${tally(r.dbActivity.meanByState)}; active waits ${tally(r.dbActivity.waits)}`);
    out.push(`${label}: traffic ${tl.trafficStart}–${tl.trafficEnd} (epoch ms), pods told to stop at ${tl.stopAt}`);
    out.push(`${label}: refused ${tally(r.traffic.refused)}; client error events ${tally(r.clientEvents.serverErrors)}; drops ${tally(r.clientEvents.disconnects)}; connect failures ${tally(r.connect.failed)}`);
    for (const p of r.perPod) {
      if (Object.keys(p.log).length) out.push(`  ${p.name} logged: ${tally(p.log)}`, ...p.firstLog.map((l) => `    ${l}`));
      if (p.exited) out.push(`  ${p.name} EXITED EARLY: ${p.exited}`);
    }
  }
  for (const e of s.errors) out.push(`problem: ${e}`);
  return out.join('\n') + '\n';
}

/** Left column left-aligned, the others right-aligned. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '  ' + r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}
