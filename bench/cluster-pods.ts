/**
 * A bench cluster: a private redis-server on a free loopback port and pods
 * started as child processes with the cluster flags the test harness uses,
 * each named (pod-0, pod-1, …) so a killed one can be restarted under its name.
 * Only the PIDs started here are ever signalled.
 */
import { randomBytes } from 'node:crypto';
import { startRedis, type PrivateRedis } from '../test/harness/redis.js';
import { startPod, type Pod } from './pod.js';
import type { NamedPod } from './workload.js';

export interface BenchCluster {
  redis: PrivateRedis;
  prefix: string;
  /** The pods currently running, by name (a restarted pod replaces its entry). */
  pods: NamedPod[];
  /** Every pod process ever started here, for the log summary and cleanup. */
  started: NamedPod[];
  /** Starts a pod named `name` (replacing a dead one of that name). */
  start(name: string): Promise<NamedPod>;
  stop(): Promise<void>;
}

export async function startBenchCluster(o: { size: number; databaseUrl: string; leaseMs: number; flags: string[] }, log: (line: string) => void): Promise<BenchCluster> {
  const redis = await startRedis();
  const prefix = `bench${process.pid}:`;
  const secret = randomBytes(24).toString('base64url');
  const pods: NamedPod[] = [];
  const started: NamedPod[] = [];
  const start = async (name: string): Promise<NamedPod> => {
    const pod: Pod = await startPod({
      databaseUrl: o.databaseUrl,
      flags: [
        ...o.flags,
        '--pod-name', name,
        '--peer-port', '0',
        '--redis-url', redis.url,
        '--redis-prefix', prefix,
        '--cluster-secret', secret,
        '--lease-ms', String(o.leaseMs),
        '--membership-check-ms', String(Math.max(50, Math.floor(o.leaseMs / 6))),
      ],
    });
    const named = { name, pod };
    started.push(named);
    const i = pods.findIndex((p) => p.name === name);
    if (i >= 0) pods[i] = named;
    else pods.push(named);
    log(`${name}: pid ${pod.pid}, clients on ${pod.host}:${pod.port}`);
    return named;
  };
  const cluster: BenchCluster = {
    redis,
    prefix,
    pods,
    started,
    start,
    async stop() {
      // All at once: one by one, each drain would hand its channels to the next pod to stop.
      await Promise.all(started.map((p) => p.pod.stop().catch(() => {})));
      await redis.stop();
    },
  };
  try {
    // One at a time: the first pod runs the migrations the others then find done.
    for (let i = 0; i < o.size; i++) await start(`pod-${i}`);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
