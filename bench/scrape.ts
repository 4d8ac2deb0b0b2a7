/**
 * What the bench reads from the pod besides its own clients: the Prometheus
 * endpoint (persist latency is measured inside the pod, where the client's
 * view cannot see it) and the kernel's view of the process (CPU, RSS), which
 * stays readable even when the pod's event loop is too busy to answer HTTP.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { loopDelayMs } from './stats.js';

/** Parsed samples: "name{labels}" → value. */
export type Scrape = Map<string, number>;

export function fetchMetrics(host: string, port: number, timeoutMs = 5000): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/metrics', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(parseProm(body)));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`/metrics did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function parseProm(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** One sample, or NaN; `labels` as written by prom-client, e.g. 'quantile="0.99"'. */
export function sample(s: Scrape, name: string, labels = ''): number {
  return s.get(labels ? `${name}{${labels}}` : name) ?? NaN;
}

/** What the pod reports about its own writes, as of one scrape. */
export interface PodWriteView {
  persistMs: { p50: number; p90: number; p99: number; p999: number; count: number };
  committed: number;
  refused: Record<string, number>;
  slowConsumers: number;
  batchMean: number;
  eventLoopLagP99Ms: number;
}

/**
 * The q-quantile of a histogram over the interval between two scrapes (the
 * bucket counts' difference), interpolated linearly inside its bucket as
 * PromQL's histogram_quantile does; NaN without observations.
 */
export function histogramQuantile(after: Scrape, before: Scrape | undefined, name: string, q: number): number {
  const buckets: { le: number; n: number }[] = [];
  for (const [k, v] of after) {
    const m = /_bucket\{le="([^"]+)"\}$/.exec(k);
    if (!m || !k.startsWith(`${name}_bucket{`)) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    buckets.push({ le, n: v - (before?.get(k) ?? 0) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + ((b.le - prevLe) * (rank - prevN)) / Math.max(1, b.n - prevN);
    }
    prevLe = b.le;
    prevN = b.n;
  }
  return prevLe;
}

/** The pod's figures as of `s`; persist latency over the interval since `before` when given. */
export function writeView(s: Scrape, before?: Scrape): PodWriteView {
  const q = (p: string): number => histogramQuantile(s, before, 'tertulia_persist_latency_seconds', Number(p)) * 1000;
  const refused: Record<string, number> = {};
  for (const [k, v] of s) {
    const m = /^tertulia_writes_refused_total\{reason="(\w+)"\}$/.exec(k);
    if (m) refused[m[1]!] = v;
  }
  return {
    persistMs: {
      p50: q('0.5'),
      p90: q('0.9'),
      p99: q('0.99'),
      p999: q('0.999'),
      count: sample(s, 'tertulia_persist_latency_seconds_count') - (before ? sample(before, 'tertulia_persist_latency_seconds_count') || 0 : 0),
    },
    committed: sample(s, 'tertulia_messages_committed_total'),
    refused,
    slowConsumers: sample(s, 'tertulia_slow_consumers_total'),
    batchMean: sample(s, 'tertulia_commit_batch_messages_sum') / sample(s, 'tertulia_commit_batch_messages_count'),
    // prom-client samples with a 10 ms timer and reports whole intervals, like loopDelayMs corrects for.
    eventLoopLagP99Ms: loopDelayMs(sample(s, 'nodejs_eventloop_lag_p99_seconds') * 1e9),
  };
}

/** CPU seconds and resident memory of a process, from /proc (Linux only; NaN elsewhere). */
export function procStat(pid: number): { cpuSec: number; rssMiB: number } {
  try {
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return { cpuSec: ticks / 100, rssMiB: rssKiB / 1024 };
  } catch {
    return { cpuSec: NaN, rssMiB: NaN };
  }
}

/** Samples a process's resident memory every `everyMs` until stopped: peak and end. */
export function watchRss(pid: number, everyMs = 500): { stop(): { peakRssMiB: number; endRssMiB: number } } {
  let peak = procStat(pid).rssMiB;
  const timer = setInterval(() => {
    const r = procStat(pid).rssMiB;
    if (r > peak) peak = r;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const end = procStat(pid).rssMiB;
      return { peakRssMiB: Math.max(peak, end), endRssMiB: end };
    },
  };
}
