/**
 * Prometheus metrics and the health endpoint. One registry per pod so tests
 * that run several pods in one process do not collide.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WriteMetrics } from './ports.js';

/** The cluster side's figures, read at scrape time. */
export interface ClusterSample {
  followAgain: ReadonlyMap<string, number>;
  pushesDropped: number;
  owedTips: number;
  followed: number;
}

/** Seconds; fine around the 50 ms objective. */
export const PERSIST_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.125, 0.15,
  0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10,
];

export class PodMetrics implements WriteMetrics {
  readonly registry = new Registry();
  // A histogram, not a summary: buckets add up across pods (a summary's
  // quantiles do not), and an observation is a bucket increment where a
  // summary's t-digest was a tenth of the allocations on the write path.
  private readonly persist = new Histogram({
    name: 'tertulia_persist_latency_seconds',
    help: 'Time from a write reaching its channel to its commit',
    buckets: PERSIST_BUCKETS,
    registers: [this.registry],
  });
  private readonly batch = new Histogram({
    name: 'tertulia_commit_batch_messages',
    help: 'Messages per group commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  private readonly committed = new Counter({
    name: 'tertulia_messages_committed_total',
    help: 'Messages committed',
    registers: [this.registry],
  });
  private readonly refused = new Counter({
    name: 'tertulia_writes_refused_total',
    help: 'Writes refused, by reason (busy, fenced, error)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  /** Read at scrape time; set by the composition root. */
  sample: () => { connections: number; channels: number; users: number; snapshotLag: number; deliveryGapMs: number } = () => ({
    connections: 0,
    channels: 0,
    users: 0,
    snapshotLag: 0,
    deliveryGapMs: 0,
  });
  /** Read at scrape time; set by the composition root. */
  clusterSample: () => ClusterSample = () => ({ followAgain: new Map(), pushesDropped: 0, owedTips: 0, followed: 0 });
  // Counters kept by the cluster side; exposed as counters by adding what is new since the last scrape.
  private readonly seen = new Map<string, number>();
  private readonly followAgain: Counter<'reason'> = new Counter({
    name: 'tertulia_follow_again_total',
    help: 'Channels this pod followed again at their owner, by why (owner_gone, link_up, moved, rejoined, tip)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
    collect: (): void => {
      for (const [reason, n] of this.clusterSample().followAgain) this.advance(this.followAgain, `follow:${reason}`, n, { reason });
    },
  });
  private readonly pushesDropped: Counter = new Counter({
    name: 'tertulia_peer_pushes_dropped_total',
    help: 'Deliveries to other pods dropped because their link was congested or down (re-announced by tips)',
    registers: [this.registry],
    collect: (): void => this.advance(this.pushesDropped, 'dropped', this.clusterSample().pushesDropped),
  });
  private readonly actors: Gauge<'kind'> = new Gauge({
    name: 'tertulia_actors',
    help: 'Live actors by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: (): void => {
      const s = this.sample();
      this.actors.set({ kind: 'channel' }, s.channels);
      this.actors.set({ kind: 'user' }, s.users);
    },
  });
  readonly slowConsumers = new Counter({
    name: 'tertulia_slow_consumers_total',
    help: 'Connections closed because they did not read fast enough',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges of one value, read from the samples at scrape time.
    const gauges: [name: string, help: string, read: () => number][] = [
      ['tertulia_connections', 'Open client connections', () => this.sample().connections],
      ['tertulia_delivery_gap_ms', 'Time kept now between a connection\'s writes that carry deliveries (grows with the event loop\'s load)', () => this.sample().deliveryGapMs],
      ['tertulia_snapshot_lag_messages', 'Committed messages of channels active here that no history segment holds yet', () => this.sample().snapshotLag],
      ['tertulia_followed_channels', 'Channels followed by connections on this pod', () => this.clusterSample().followed],
      ['tertulia_owed_tips', 'Channels and pods whose missed deliveries have not been re-announced yet', () => this.clusterSample().owedTips],
    ];
    for (const [name, help, read] of gauges) {
      const gauge: Gauge = new Gauge({ name, help, registers: [this.registry], collect: (): void => gauge.set(read()) });
    }
  }

  committedBatch(size: number, waitedMs: number[]): void {
    this.batch.observe(size);
    this.committed.inc(size);
    for (const ms of waitedMs) this.persist.observe(ms / 1000);
  }

  private advance<L extends string>(counter: Counter<L>, key: string, total: number, labels?: Partial<Record<L, string>>): void {
    const delta = total - (this.seen.get(key) ?? 0);
    if (delta <= 0) return;
    this.seen.set(key, total);
    if (labels) counter.inc(labels, delta);
    else counter.inc(delta);
  }

  writeRefused(reason: 'busy' | 'fenced' | 'error'): void {
    this.refused.inc({ reason });
  }
}

/** Serves /metrics, /healthz and /readyz on a loopback or pod address. */
export async function serveMetrics(
  metrics: PodMetrics,
  host: string,
  port: number,
  ready: () => boolean,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (req.url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503).end(ok ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
