/**
 * Where the machine's two cores went during traffic: the pod, this load
 * generator, and PostgreSQL (postmaster plus its backends). When the three
 * add up to ~200 %, latencies measure contention for cores, not the pod alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { procStat } from './scrape.js';

/** The postmaster's PID when the server runs on this machine, found through one backend's parent; else null. */
export async function localPostmaster(url: string): Promise<number | null> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ pid: number }>('select pg_backend_pid() as pid');
    const ppid = parentOf(rows[0]!.pid);
    return ppid !== null && commOf(ppid).startsWith('postgres') ? ppid : null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

/** CPU seconds of a process and all its children (one level: PostgreSQL's backends). */
export function treeCpuSec(root: number): number {
  let total = procStat(root).cpuSec;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (parentOf(Number(entry)) === root) total += procStat(Number(entry)).cpuSec || 0;
  }
  return total;
}

/** Starts a CPU stopwatch over the three parties (the pods summed); stop() gives percent of one core each. */
export function cpuWatch(podPids: number | readonly number[], postmaster: number | null): { stop(): { pod: number; bench: number; postgres: number } } {
  const pids = typeof podPids === 'number' ? [podPids] : podPids;
  const podCpu = (): number => pids.reduce((sum, pid) => sum + procStat(pid).cpuSec, 0);
  const t0 = performance.now();
  const pod0 = podCpu();
  const bench0 = process.cpuUsage();
  const pg0 = postmaster === null ? NaN : treeCpuSec(postmaster);
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const b = process.cpuUsage(bench0);
      return {
        pod: (100 * (podCpu() - pod0)) / wall,
        bench: (100 * (b.user + b.system)) / 1e6 / wall,
        postgres: postmaster === null ? NaN : (100 * (treeCpuSec(postmaster) - pg0)) / wall,
      };
    },
  };
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
