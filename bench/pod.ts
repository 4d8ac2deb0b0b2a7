/**
 * One Tertulia pod as a child process, so the load generator and the server
 * do not share an event loop. Started with the CLI exactly as an operator
 * would, read back from its one JSON line on stdout, stopped by its PID.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startService, type Service } from '../test/harness/process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 20_000;
const KEPT_LOG_LINES = 2000;

export interface PodOptions {
  databaseUrl: string;
  /** Extra server flags, e.g. ['--send-rate-per-sec', '100000']. */
  flags: string[];
}

export interface Pod {
  pid: number;
  host: string;
  port: number;
  metricsPort: number;
  /** Warnings and errors the pod logged (pino JSON lines on stderr), grouped by level and message. */
  logSummary(): Record<string, number>;
  /** The first few raw log lines, for a report of something unexpected. */
  firstLogLines(n: number): string[];
  /** True once the process has gone, with how it went. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** SIGTERM (drain), then SIGKILL if the drain overruns. */
  stop(): Promise<void>;
  /** SIGKILL to this PID (a process started here); resolves once it has exited. */
  kill(): Promise<void>;
}

export async function startPod(options: PodOptions): Promise<Pod> {
  // e.g. TERTULIA_BENCH_POD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the pod.
  const nodeArgs = (process.env.TERTULIA_BENCH_POD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // History segments of a bench run are thrown away with its temp directory.
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tertulia-bench-blobs-'));
  const args = [...nodeArgs, path.join(ROOT, 'bin/tertulia.js'), 'server', '--port', '0', '--metrics-port', '0', '--blob-dir', blobDir, ...options.flags];
  const service = startService(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: options.databaseUrl },
    reapSignal: 'SIGKILL',
  });
  const lines: string[] = [];
  const grouped = new Map<string, number>();
  let partial = '';
  service.child.stderr?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim()) record(line);
  });
  const record = (line: string): void => {
    if (lines.length < KEPT_LOG_LINES) lines.push(line);
    const key = logKey(line);
    grouped.set(key, (grouped.get(key) ?? 0) + 1);
  };

  const listening = await readListening(service);
  const child = service.child;
  return {
    pid: child.pid!,
    ...listening,
    logSummary: () => Object.fromEntries([...grouped].sort((a, b) => b[1] - a[1])),
    firstLogLines: (n) => lines.slice(0, n),
    exited: () => (child.exitCode === null && child.signalCode === null ? null : { code: child.exitCode, signal: child.signalCode }),
    async stop() {
      const hard = setTimeout(() => child.kill('SIGKILL'), DRAIN_TIMEOUT_MS);
      try {
        await service.stop('SIGTERM');
      } finally {
        clearTimeout(hard);
        fs.rmSync(blobDir, { recursive: true, force: true });
      }
    },
    kill: () => service.stop('SIGKILL'),
  };
}

/** Waits for `{"listening": {...}}` on stdout; kills the child if it never comes. */
function readListening(service: Service): Promise<{ host: string; port: number; metricsPort: number }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void service.stop('SIGKILL').finally(() => reject(new Error(`pod ${why}:\n${service.output().slice(-4000)}`)));
    };
    const timer = setTimeout(() => fail(`did not listen within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const onExit = (): void => fail('exited before listening');
    service.child.once('exit', onExit);
    service.child.stdout?.on('data', (chunk: Buffer) => {
      if (settled) return;
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      try {
        const { listening } = JSON.parse(buffered.slice(0, nl)) as { listening: { host: string; port: number; metricsPort: number } };
        settled = true;
        clearTimeout(timer);
        service.child.off('exit', onExit);
        resolve(listening);
      } catch {
        fail(`printed something other than its listening line: ${buffered.slice(0, 200)}`);
      }
    });
  });
}

/** "level msg" of a pino line, or the raw start of a line that is not JSON (a crash trace). */
function logKey(line: string): string {
  try {
    const o = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    const level = ({ 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[o.level ?? 0] ?? String(o.level);
    return `${level}: ${o.msg ?? ''}${o.err?.message ? ` (${o.err.message.slice(0, 120)})` : ''}`;
  } catch {
    return `raw: ${line.slice(0, 160)}`;
  }
}
