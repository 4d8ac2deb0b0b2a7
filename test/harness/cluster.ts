/**
 * A cluster of real pods as child processes (`node bin/tertulia.js server`)
 * sharing a private Redis and a private PostgreSQL database, with helpers to
 * kill, freeze and thaw pods by PID.
 */
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startService, type Service } from './process.js';
import { startRedis, type PrivateRedis } from './redis.js';
import type { PrivatePostgres } from './postgres.js';
import { usePostgres } from './server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLUSTER_SECRET = 'test-cluster-secret-0123456789';

export interface PodProcess {
  name: string;
  port: number;
  metricsPort: number;
  pid: number;
  service: Service;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  alive(): boolean;
}

export interface TestCluster {
  redis: PrivateRedis;
  databaseUrl: string;
  pods: PodProcess[];
  /** Starts one more pod named `name`. */
  add(name: string, extra?: string[]): Promise<PodProcess>;
  /** Sends `signal` to a pod's process. */
  signal(pod: PodProcess, signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  size: number;
  leaseMs?: number;
  extra?: string[];
}

/**
 * One cluster per test file, on a fresh database of the file's private
 * PostgreSQL: started before the tests, stopped after. Call it where
 * `usePostgres` would go; the returned function gives the running cluster.
 */
export function useCluster(
  test: { before: (fn: () => Promise<void>) => void; after: { always: (fn: () => Promise<void>) => void } },
  opts: ClusterOptions,
): () => TestCluster {
  const postgres = usePostgres(test);
  let cluster: TestCluster | undefined;
  test.before(async () => {
    cluster = await startCluster(await postgres(), opts);
  });
  test.after.always(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster;
  };
}

export async function startCluster(pg: PrivatePostgres, opts: ClusterOptions): Promise<TestCluster> {
  const redis = await startRedis();
  const databaseUrl = await pg.createDatabase();
  const leaseMs = opts.leaseMs ?? 1500;
  const blobDir = mkdtempSync(path.join(tmpdir(), 'tertulia-cluster-blobs-'));
  const pods: PodProcess[] = [];
  const add = async (name: string, extra: string[] = []) => {
    const pod = await startPodProcess(name, [
      '--redis-url', redis.url,
      '--redis-prefix', `t${process.pid}:`,
      '--cluster-secret', CLUSTER_SECRET,
      '--lease-ms', String(leaseMs),
      '--membership-check-ms', String(Math.max(50, Math.floor(leaseMs / 6))),
      '--ask-timeout-ms', '3000',
      '--scrypt-cost', '1024',
      '--blob-dir', blobDir,
      '--send-rate-per-sec', '10000',
      '--send-burst', '10000',
      ...(opts.extra ?? []),
      ...extra,
    ], databaseUrl);
    pods.push(pod);
    return pod;
  };
  // One at a time: the first pod runs the migrations the others then find done.
  for (let i = 0; i < opts.size; i++) await add(`pod-${i}`);
  return {
    redis,
    databaseUrl,
    pods,
    add,
    signal(pod, signal) {
      if (pod.alive()) process.kill(pod.pid, signal);
    },
    async stop() {
      for (const p of pods) if (p.alive()) process.kill(p.pid, 'SIGCONT');
      await Promise.all(pods.map((p) => p.service.stop('SIGKILL')));
      await redis.stop();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

async function startPodProcess(name: string, flags: string[], databaseUrl: string): Promise<PodProcess> {
  const args = [
    path.join(ROOT, 'bin/tertulia.js'), 'server',
    '--pod-name', name, '--port', '0', '--peer-port', '0', '--metrics-port', '0',
    '--log-level', process.env.TERTULIA_TEST_LOG ?? 'warn',
    ...flags,
  ];
  const service = startService(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    reapSignal: 'SIGKILL',
  });
  let exitedFlag = false;
  const exited = new Promise<void>((r) => service.child.once('exit', () => {
    exitedFlag = true;
    r();
  }));
  const listening = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`pod ${name} did not start:\n${service.output()}`)), 30_000);
    service.child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).listening);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`pod ${name} exited at start:\n${service.output()}`));
    });
  });
  return {
    name,
    port: listening.port,
    metricsPort: listening.metricsPort,
    pid: service.child.pid!,
    service,
    exited,
    alive: () => !exitedFlag,
  };
}
