/**
 * `npm run bench`: one pod in a child process against PostgreSQL, N clients
 * in this process (bench/single.ts). With --cluster N, the same workload on one
 * pod and then on N pods, side by side (bench/cluster-run.ts); with
 * --failover K, K SIGKILL rounds on a 3-pod cluster (bench/failover.ts); both
 * may be given. Every phase has a deadline and a watchdog bounds the whole
 * run; only the processes started here are stopped, by their PIDs. Progress
 * goes to stderr, the tables (and --json) to stdout.
 */
import { renderClusterTable } from './cluster-report.js';
import { runClusterComparison } from './cluster-run.js';
import { renderFailoverTable } from './failover-report.js';
import { runFailover } from './failover.js';
import { parseOptions, type BenchOptions } from './options.js';
import { renderTable } from './report.js';
import { runSingle } from './single.js';

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Output {
  text: string;
  json: unknown;
}

function budgetMs(o: BenchOptions): number {
  if (!o.cluster && !o.failover) return 360_000 + o.durationSec * 1000 + (o.max ? 6 * 25_000 : 0);
  let ms = 60_000;
  if (o.cluster) ms += 2 * (300_000 + o.durationSec * 1000);
  if (o.failover) ms += 180_000 + o.failover * (30_000 + 60_000 + 70_000);
  return ms;
}

async function main(o: BenchOptions): Promise<Output[]> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err) => log(`cleanup: ${(err as Error).message}`));
  };
  const budget = budgetMs(o);
  const watchdog = setTimeout(() => {
    log(`watchdog: run exceeded ${budget / 1000} s; stopping what it started`);
    void cleanup().finally(() => process.exit(3));
  }, budget);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping what the run started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const out: Output[] = [];
  try {
    if (!o.cluster && !o.failover) {
      const s = await runSingle(o, cleanups, log);
      out.push({ text: renderTable(s), json: s });
    }
    if (o.cluster) {
      const s = await runClusterComparison(o, cleanups, log);
      out.push({ text: renderClusterTable(s), json: s });
      await cleanup();
    }
    if (o.failover) {
      const s = await runFailover(o, cleanups, log);
      out.push({ text: renderFailoverTable(s), json: s });
    }
    return out;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
}

let opts: BenchOptions;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
main(opts).then(
  (outputs) => {
    process.stdout.write(outputs.map((x) => x.text).join('\n'));
    if (opts.json) process.stdout.write(JSON.stringify(outputs.length === 1 ? outputs[0]!.json : outputs.map((x) => x.json)) + '\n');
    process.exit(0);
  },
  (err) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
