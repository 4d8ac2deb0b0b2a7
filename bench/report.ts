/**
 * The end of a run: one plain summary object (printed as JSON with --json) and
 * a table for people, with the two bars of the SLO beside their figures. A
 * benchmark reports; it never fails the process because a bar was missed.
 */
import { availableParallelism } from 'node:os';
import type { ActivityShare } from './pg-activity.js';
import type { CeilingResult } from './ceiling.js';
import type { PodWriteView } from './scrape.js';
import type { Summary } from './stats.js';

export interface StepSummary {
  offered: number;
  ackedPerSec: number;
  deliveredPerSec: number;
  ackMs: Summary;
  refused: Record<string, number>;
  skipped: number;
  sustained: boolean;
}

export interface BenchSummary {
  config: { clients: number; channels: number; rate: number; durationSec: number; bodyChars: number; perClientCap: number; database: string; podFlags: string[]; arrivals: string };
  setup: { seconds: number; users: number; channels: number };
  connect: {
    ok: number;
    failed: Record<string, number>;
    connectMs: Summary;
    /** TCP, then the hello reply, then the auth reply (lean client only). */
    stepsMs?: { tcp: Summary; hello: Summary; auth: Summary };
    subscribeMs: Summary;
    seconds: number;
    benchLoopLagMs: { p50: number; p99: number; max: number };
  };
  traffic: {
    windowSec: number;
    scheduled: number;
    sent: number;
    skippedAtCap: number;
    skippedDisconnected: number;
    acked: number;
    ackedPerSec: number;
    refused: Record<string, number>;
    ackMs: Summary;
    steadyAckMs: Summary;
    delivered: number;
    deliveredPerSec: number;
    expectedDeliveries: number;
    deliveryMs: Summary;
    benchLoopLagMs: { p50: number; p99: number; max: number };
  };
  clientEvents: { serverErrors: Record<string, number>; disconnects: Record<string, number> };
  /** `steadyPersistMs`: persist latency after the traffic phase's warm-up (null if it was not scraped). */
  pod: PodWriteView & { steadyPersistMs: PodWriteView['persistMs'] | null; committedInTraffic: number; peakRssMiB: number; endRssMiB: number; log: Record<string, number>; exited: string | null };
  /** Percent of one core during the traffic phase (the machine has two). */
  cpuPercent: { pod: number; bench: number; postgres: number };
  dbActivity: ActivityShare;
  ceiling: CeilingResult[];
  ratio: { ackedPerSec: number; toOneConnection: number; toBest: number };
  max?: { steps: StepSummary[]; sustainableAckedPerSec: number | null };
  bars: { name: string; value: number; limit: number; pass: boolean; note?: string }[];
  errors: string[];
}

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const ms = (s: Summary, keys: (keyof Summary)[] = ['p50', 'p95', 'p99', 'max']): string =>
  keys.map((k) => `${k} ${f1(s[k])}`).join('  ') + ' ms';
const lag = (l: { p50: number; p99: number; max: number }): string => `p50 ${f1(l.p50)}  p99 ${f1(l.p99)}  max ${f1(l.max)} ms`;
const tally = (t: Record<string, number>): string => (Object.keys(t).length ? Object.entries(t).map(([k, v]) => `${k}×${v}`).join(', ') : 'none');

export function renderTable(s: BenchSummary): string {
  const rows: [string, string][] = [];
  const section = (title: string): void => void rows.push([`— ${title}`, '']);
  const row = (k: string, v: string): void => void rows.push([k, v]);
  const t = s.traffic;
  section('setup (not measured)');
  row('users / channels', `${f0(s.setup.users)} / ${f0(s.setup.channels)} in ${f1(s.setup.seconds)} s`);
  row('database', s.config.database);
  section('connect (TCP + hello + auth)');
  row('clients connected', `${f0(s.connect.ok)} of ${f0(s.config.clients)} ${s.config.arrivals}, in ${f1(s.connect.seconds)} s; failed: ${tally(s.connect.failed)}`);
  row('connect latency', ms(s.connect.connectMs));
  const st = s.connect.stepsMs;
  if (st && st.tcp.count > 0) {
    row('  of which TCP / hello / auth', `p50 ${f1(st.tcp.p50)} / ${f1(st.hello.p50)} / ${f1(st.auth.p50)}  p95 ${f1(st.tcp.p95)} / ${f1(st.hello.p95)} / ${f1(st.auth.p95)} ms`);
  }
  row('subscribe latency', ms(s.connect.subscribeMs));
  row('bench event-loop delay', lag(s.connect.benchLoopLagMs));
  section(`traffic (offered ${f0(s.config.rate)} msg/s for ${s.config.durationSec} s, open loop)`);
  row('sends scheduled / sent', `${f0(t.scheduled)} / ${f0(t.sent)}; skipped at cap ${f0(t.skippedAtCap)}, client dropped ${f0(t.skippedDisconnected)}`);
  row('acked', `${f0(t.acked)}; refused or timed out: ${tally(t.refused)}`);
  row('acked msgs/s (in window)', f0(t.ackedPerSec));
  row('ack latency (send → ack)', ms(t.ackMs));
  row('  after warm-up', ms(t.steadyAckMs));
  row('delivered msgs/s (in window)', f0(t.deliveredPerSec));
  row('delivered / expected', `${f0(t.delivered)} / ${f0(t.expectedDeliveries)} (acked × subscribers of the channel)`);
  row('delivery latency (send → msg)', ms(t.deliveryMs));
  row('bench event-loop delay', lag(t.benchLoopLagMs));
  row('client error events / drops', `${tally(s.clientEvents.serverErrors)} / ${tally(s.clientEvents.disconnects)}`);
  section('pod (from its /metrics and /proc)');
  const p = s.pod;
  const quantiles = (q: PodWriteView['persistMs']): string => `p50 ${f1(q.p50)}  p90 ${f1(q.p90)}  p99 ${f1(q.p99)}  p99.9 ${f1(q.p999)} ms`;
  row('persist latency (pod)', quantiles(p.persistMs));
  if (p.steadyPersistMs) row('  after warm-up', quantiles(p.steadyPersistMs));
  row('committed in traffic', `${f0(p.committedInTraffic)}; mean batch ${f1(p.batchMean)} msgs`);
  row('writes refused / slow consumers', `${tally(p.refused)} / ${f0(p.slowConsumers)}`);
  row('pod RSS', `peak ${f0(p.peakRssMiB)} MiB, end ${f0(p.endRssMiB)} MiB`);
  const c = s.cpuPercent;
  row('CPU in traffic (% of one core)', `pod ${f0(c.pod)}, bench ${f0(c.bench)}, postgres ${f0(c.postgres)} (machine: ${availableParallelism()} cores)`);
  row('pod DB connections (mean)', `${tally(s.dbActivity.meanByState)}; active waits: ${tally(s.dbActivity.waits)}`);
  row('pod event-loop lag p99', `${f1(p.eventLoopLagP99Ms)} ms`);
  row('pod warnings/errors logged', tally(p.log));
  if (p.exited) row('pod exited early', p.exited);
  section('ceiling (raw pg multi-row INSERT, same server)');
  for (const k of s.ceiling) row(`${k.connections} connection(s), ${k.batchRows} rows/INSERT`, `${f0(k.rowsPerSec)} rows/s`);
  row('acked ÷ ceiling (1 conn / best)', `${f1(100 * s.ratio.toOneConnection)} % / ${f1(100 * s.ratio.toBest)} %`);
  row('', `the pod was offered ${f0(s.config.rate)} msg/s: this is delivered load over ceiling, not the pod's maximum`);
  if (s.max) {
    section('--max ramp');
    for (const st of s.max.steps) {
      row(`offered ${f0(st.offered)}`, `acked ${f0(st.ackedPerSec)}/s, ack p99 ${f1(st.ackMs.p99)} ms, refused ${tally(st.refused)}, skipped ${f0(st.skipped)} ${st.sustained ? 'ok' : 'NOT sustained'}`);
    }
    row('sustainable acked msgs/s', s.max.sustainableAckedPerSec === null ? 'none of the steps' : f0(s.max.sustainableAckedPerSec));
  }
  section('bars');
  for (const b of s.bars) row(b.name, `${f1(b.value)} ms  ${b.pass ? 'PASS' : 'FAIL'}${b.note ? `  (${b.note})` : ''}`);
  for (const e of s.errors) row('problem', e);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => (v === '' ? `\n${k}` : `  ${k.padEnd(width)}  ${v}`)).join('\n') + '\n';
}

export function bars(s: Pick<BenchSummary, 'connect' | 'pod' | 'config'>): BenchSummary['bars'] {
  const persist = s.pod.persistMs.p99;
  return [
    { name: 'connect p95 < 50 ms', value: s.connect.connectMs.p95, limit: 50, pass: s.connect.connectMs.p95 < 50, note: `${f0(s.config.clients)} clients ${s.config.arrivals}` },
    {
      name: 'persist p99 < 50 ms at 5,000 msgs/s offered',
      value: persist,
      limit: 50,
      pass: persist < 50 && s.config.rate >= 5000,
      note: [
        ...(s.config.rate < 5000 ? [`only ${f0(s.config.rate)} msg/s offered in this run`] : []),
        ...(s.pod.steadyPersistMs ? [`after warm-up ${f1(s.pod.steadyPersistMs.p99)} ms`] : []),
      ].join('; ') || undefined,
    },
  ];
}
