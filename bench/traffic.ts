/**
 * The measured traffic phase: an open-loop schedule. A ticker releases sends
 * at the offered rate whatever the acks are doing (a closed loop would slow
 * down with the server and hide its queueing), round-robin over the clients.
 * Only a per-client cap on unacked sends holds a send back, and that is
 * counted, so memory stays bounded and nothing is silently dropped.
 */
import type { MessageView } from '../protocol/messages.js';
import { sleep } from './concurrency.js';
import type { Member } from './connect.js';
import { Samples, Tally, errorKey, loopMonitor } from './stats.js';

export interface TrafficOptions {
  rate: number;
  durationSec: number;
  /** Unacked sends one client may have; a due send beyond it is skipped and counted. */
  perClientCap: number;
  ackTimeoutMs: number;
  bodyChars: number;
  /** Distinguishes the cmids of successive phases (--max runs several). */
  tag: string;
  /** Splits ack latency by a label of the sender (e.g. on the channel's owner pod or not); null: no group. */
  group?: (m: Member) => string | null;
  progress?: (line: string) => void;
}

export interface TrafficResult {
  offeredRate: number;
  windowSec: number;
  scheduled: number;
  sent: number;
  skippedAtCap: number;
  /** Due sends whose client had been dropped. */
  skippedDisconnected: number;
  ackedInWindow: number;
  acked: number;
  ackMs: Samples;
  /** Acks of sends made after the warm-up (the first quarter of the window, at most 5 s). */
  steadyAckMs: Samples;
  /** Ack latency per group label, when a group function was given. */
  ackMsByGroup: Map<string, Samples>;
  refused: Tally;
  deliveredInWindow: number;
  delivered: number;
  expectedDeliveries: number;
  deliveryMs: Samples;
  /** Event-loop delay of the bench process itself: when high, its own timings are inflated. */
  benchLoopLagMs: { p50: number; p99: number; max: number };
}

/** The first part of the traffic phase, reported apart: the pod's code is still being compiled, its pools and tables still growing. */
export function warmUpMs(durationSec: number): number {
  return Math.min(5000, (durationSec * 1000) / 4);
}

/** Hands 'message' events to whichever traffic phase is running. */
export class DeliverySink {
  current: ((m: MessageView) => void) | null = null;
  readonly handler = (m: MessageView): void => this.current?.(m);
}

export async function runTraffic(members: readonly Member[], sink: DeliverySink, o: TrafficOptions): Promise<TrafficResult> {
  const subscribers = new Map<number, number>();
  for (const m of members) subscribers.set(m.channel, (subscribers.get(m.channel) ?? 0) + 1);
  const r: TrafficResult = {
    offeredRate: o.rate,
    windowSec: o.durationSec,
    scheduled: 0,
    sent: 0,
    skippedAtCap: 0,
    skippedDisconnected: 0,
    ackedInWindow: 0,
    acked: 0,
    ackMs: new Samples(),
    steadyAckMs: new Samples(),
    ackMsByGroup: new Map(),
    refused: new Tally(),
    deliveredInWindow: 0,
    delivered: 0,
    expectedDeliveries: 0,
    deliveryMs: new Samples(),
    benchLoopLagMs: { p50: NaN, p99: NaN, max: NaN },
  };
  const padding = 'x'.repeat(Math.max(0, o.bodyChars - 16));
  let inWindow = true;
  let inflight = 0;
  sink.current = (m) => {
    // Bodies start with the send time; anything else (an older phase's replay) is not ours to count.
    if (!m.body.startsWith(o.tag)) return;
    r.delivered++;
    if (inWindow) r.deliveredInWindow++;
    r.deliveryMs.add(performance.now() - Number(m.body.slice(o.tag.length, m.body.indexOf(' '))));
  };

  const lag = loopMonitor();
  const t0 = performance.now();
  const warmEnd = t0 + warmUpMs(o.durationSec);
  let next = 0;
  const fire = (): void => {
    const m = members[next++ % members.length]!;
    r.scheduled++;
    if (m.client.state !== 'connected') {
      r.skippedDisconnected++;
      return;
    }
    if (m.outstanding >= o.perClientCap) {
      r.skippedAtCap++;
      return;
    }
    m.outstanding++;
    inflight++;
    r.sent++;
    const label = o.group?.(m) ?? null;
    const sentAt = performance.now();
    const body = `${o.tag}${sentAt.toFixed(3)} ${padding}`;
    m.client.request('send', { channel: m.channel, cmid: `${o.tag}${r.sent}`, body }, { timeoutMs: o.ackTimeoutMs }).then(
      () => {
        const ms = performance.now() - sentAt;
        r.ackMs.add(ms);
        if (sentAt >= warmEnd) r.steadyAckMs.add(ms);
        if (label !== null) {
          let g = r.ackMsByGroup.get(label);
          if (!g) r.ackMsByGroup.set(label, (g = new Samples()));
          g.add(ms);
        }
        r.acked++;
        if (inWindow) r.ackedInWindow++;
        r.expectedDeliveries += subscribers.get(m.channel) ?? 0;
      },
      (err: unknown) => r.refused.add(errorKey(err)),
    ).finally(() => {
      m.outstanding--;
      inflight--;
    });
  };
  const ticker = setInterval(() => {
    const due = Math.floor((o.rate * (performance.now() - t0)) / 1000) - r.scheduled;
    for (let i = 0; i < due; i++) fire();
  }, 5);
  const progress = setInterval(() => {
    o.progress?.(
      `  t=${((performance.now() - t0) / 1000).toFixed(0)}s sent=${r.sent} acked=${r.acked} inflight=${inflight} refused=${r.refused.total} skipped=${r.skippedAtCap + r.skippedDisconnected} delivered=${r.delivered}`,
    );
  }, 5000);

  await sleep(o.durationSec * 1000);
  clearInterval(ticker);
  inWindow = false;
  r.windowSec = (performance.now() - t0) / 1000;
  // Acks still owed are bounded by the ack timeout; deliveries trail the acks a little.
  const drainEnd = performance.now() + o.ackTimeoutMs + 2000;
  while (inflight > 0 && performance.now() < drainEnd) await sleep(50);
  const deliverEnd = performance.now() + 3000;
  while (r.delivered < r.expectedDeliveries && performance.now() < deliverEnd) await sleep(50);
  clearInterval(progress);
  sink.current = null;
  r.benchLoopLagMs = lag.stop();
  return r;
}
