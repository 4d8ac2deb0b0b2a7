/** The --failover table: each round, the spread of failover times against the lease, and the history check. */
import { table } from './cluster-report.js';
import type { FailoverSummary } from './failover.js';

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const tally = (t: Record<string, number>): string => (Object.keys(t).length ? Object.entries(t).map(([k, v]) => `${k}×${v}`).join(', ') : 'none');

export function renderFailoverTable(s: FailoverSummary): string {
  const c = s.config;
  const f = s.failoverMs;
  const h = s.history;
  const out = [
    `failover: ${c.rounds} rounds on ${c.pods} pods, lease ${c.leaseMs} ms, membership check ${c.membershipCheckMs} ms; sender on ${s.senderPod}, one send every ${c.sendEveryMs} ms (≤ ${c.sendCap} in flight)`,
    `database: ${c.database}`,
    '',
    ...table([
      ['round', 'killed', 'pid', 'kill → first ack (ms)', 'first reply of any send (ms)', 'served by', 'restart → stable (ms)'],
      ...s.rounds.map((r) => [String(r.round), r.victim, String(r.victimPid), f0(r.failoverMs), f0(r.firstAnyAckMs), r.takenOverBy ?? '-', f0(r.restabilizeMs)]),
    ]),
    '',
    ...table([
      ['kill → first ack of a send issued after the kill', 'ms', '× lease'],
      ['min', f0(f.min), (f.min / c.leaseMs).toFixed(2)],
      ['p50', f0(f.p50), (f.p50 / c.leaseMs).toFixed(2)],
      ['max', f0(f.max), (f.max / c.leaseMs).toFixed(2)],
      ['mean', f0(f.mean), (f.mean / c.leaseMs).toFixed(2)],
      ['lease', f0(c.leaseMs), '1.00'],
    ]),
    `  rounds measured: ${f.count} of ${c.rounds}`,
    '',
    `sends: ${f0(s.sends.issued)} issued, ${f0(s.sends.acked)} acked, ${f0(s.sends.skippedAtCap)} ticks skipped at the in-flight cap; errors: ${tally(s.sends.errors)}`,
    `history check: ${h.ok ? 'OK' : 'FAILED'} — ${f0(h.historyLength)} messages, last seq ${f0(h.lastSeq)}, gaps ${h.gaps}, repeated seqs ${h.repeatedSeqs}, ` +
      `duplicate cmids ${h.duplicateCmids}, duplicate bodies ${h.duplicateBodies}; acked ${f0(h.acked)}: missing or wrong at their seq ${h.ackedMissing}, ` +
      `not exactly once ${h.ackedNotOnce}; stored but never acked ${h.storedUnacked}`,
  ];
  for (const [pod, logged] of Object.entries(s.podLogs)) if (Object.keys(logged).length) out.push(`${pod} logged: ${tally(logged)}`);
  for (const e of s.errors) out.push(`problem: ${e}`);
  return out.join('\n') + '\n';
}
