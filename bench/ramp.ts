/**
 * --max: after the main phase, offer more and more until the pod no longer
 * keeps up, on the same connected clients. A step is sustained when nearly
 * everything offered is acked inside the window with few refusals and a
 * bounded ack p99; the best sustained acked rate is the pod's ceiling here
 * (or the load generator's, when the bench's own event loop is the one late).
 */
import type { Member } from './connect.js';
import type { StepSummary } from './report.js';
import { runTraffic, type DeliverySink, type TrafficOptions } from './traffic.js';

const STEP_SEC = 8;
const GROWTH = 1.5;
const MAX_STEPS = 6;
const ACK_P99_LIMIT_MS = 1000;

export async function rampToCeiling(
  members: readonly Member[],
  sink: DeliverySink,
  base: Omit<TrafficOptions, 'rate' | 'durationSec' | 'tag'>,
  startRate: number,
  log: (line: string) => void,
): Promise<{ steps: StepSummary[]; sustainableAckedPerSec: number | null }> {
  const steps: StepSummary[] = [];
  let best: number | null = null;
  let rate = startRate;
  for (let i = 0; i < MAX_STEPS; i++, rate = Math.round(rate * GROWTH)) {
    log(`--max step ${i + 1}: offering ${rate} msg/s for ${STEP_SEC} s`);
    const r = await runTraffic(members, sink, { ...base, rate, durationSec: STEP_SEC, tag: `m${i}-` });
    const ackedPerSec = r.ackedInWindow / r.windowSec;
    const ackMs = r.ackMs.summary();
    const sustained = ackedPerSec >= 0.95 * rate && r.refused.total <= 0.01 * r.sent && ackMs.p99 < ACK_P99_LIMIT_MS;
    steps.push({
      offered: rate,
      ackedPerSec,
      deliveredPerSec: r.deliveredInWindow / r.windowSec,
      ackMs,
      refused: r.refused.toObject(),
      skipped: r.skippedAtCap + r.skippedDisconnected,
      sustained,
    });
    if (!sustained) break;
    best = Math.max(best ?? 0, ackedPerSec);
  }
  return { steps, sustainableAckedPerSec: best };
}
