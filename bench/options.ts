/** Command-line options of `npm run bench`. */
import { parseFlags } from '../runtime/config.js';

export interface BenchOptions {
  clients: number;
  channels: number;
  rate: number;
  durationSec: number;
  databaseUrl: string | null;
  json: boolean;
  /** Print the pods' persist latency, commits, event-loop lag and delivery gap for every second of traffic. */
  timeline: boolean;
  /** Ramp the offered rate after the main phase to find the pod's sustainable ceiling. */
  max: boolean;
  wave: number;
  /** Clients arriving per second in the connect phase; 0: in waves instead. */
  arrivals: number;
  perClientCap: number;
  bodyChars: number;
  ceilingSec: number;
  /** Pods of the cluster run; 0: no cluster comparison. */
  cluster: number;
  /** Kill-and-recover rounds of the failover measurement; 0: none. */
  failover: number;
  /** --lease-ms of the cluster pods. */
  leaseMs: number;
}

export const USAGE = `usage: npm run bench -- [flags]
  --clients N         connected users (1000)
  --channels M        channels; users join them round-robin (50)
  --rate R            offered messages/s, all clients together (5000)
  --duration S        seconds of traffic (20)
  --database-url URL  a PostgreSQL server to use (a fresh database is created on it);
                      default: a private server started for the run (DATABASE_URL also works)
  --json              print a JSON summary after the table
  --timeline          print each pod's persist p50/p99, commits, loop lag and delivery gap
                      for every second of traffic
  --max               then ramp the offered rate to find the sustainable ceiling
  --arrivals R        clients arriving per second in the connect phase, each on its own
                      schedule (1000; 0: in waves instead)
  --wave N            clients connecting at once in the connect phase, wave after wave
                      (100; with --arrivals 0)
  --cap N             unacked sends per client before a due send is skipped (32)
  --body N            message body characters (100)
  --ceiling-seconds S seconds per raw INSERT measurement (3)
  --cluster N         run the workload on one pod, then on a cluster of N pods (private
                      Redis, same PostgreSQL server, fresh database each), side by side
  --failover K        K rounds on a 3-pod cluster: SIGKILL a channel's owner under
                      traffic, time kill → first ack, restart it (alone, or after --cluster)
  --lease-ms MS       lease of the cluster pods (1500)`;

const INTS: [keyof BenchOptions, string, number, number][] = [
  ['clients', 'clients', 1000, 1],
  ['channels', 'channels', 50, 1],
  ['rate', 'rate', 5000, 1],
  ['durationSec', 'duration', 20, 1],
  ['wave', 'wave', 100, 1],
  ['arrivals', 'arrivals', 1000, 0],
  ['perClientCap', 'cap', 32, 1],
  ['bodyChars', 'body', 100, 24],
  ['ceilingSec', 'ceiling-seconds', 3, 1],
  ['cluster', 'cluster', 0, 0],
  ['failover', 'failover', 0, 0],
  ['leaseMs', 'lease-ms', 1500, 200],
];

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { flags, rest } = parseFlags(argv);
  const problems: string[] = rest.map((w) => `unexpected argument "${w}"`);
  const known = new Set([...INTS.map((i) => i[1]), 'database-url', 'json', 'max', 'timeline', 'help']);
  for (const f of flags.keys()) if (!known.has(f)) problems.push(`unknown flag --${f}`);
  if (flags.has('help')) throw new Error(USAGE);
  const out: Record<string, unknown> = {};
  for (const [key, flag, def, min] of INTS) {
    const raw = flags.get(flag);
    const n = raw === undefined ? def : Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`--${flag}: expected an integer >= ${min}, got "${raw}"`);
    out[key] = n;
  }
  const opts = {
    ...(out as Pick<BenchOptions, (typeof INTS)[number][0]>),
    databaseUrl: flags.get('database-url') ?? process.env.DATABASE_URL ?? null,
    json: flags.has('json'),
    timeline: flags.has('timeline'),
    max: flags.has('max'),
  } as BenchOptions;
  if (opts.bodyChars > 4000) problems.push('--body: at most 4000 characters');
  if (opts.channels > opts.clients) problems.push('--channels: more channels than clients leaves some empty');
  if (opts.cluster === 1 || opts.cluster > 16) problems.push('--cluster: 2 to 16 pods');
  if (opts.max && opts.cluster) problems.push('--max: only for the single-pod run, not with --cluster');
  if (opts.failover > 100) problems.push('--failover: at most 100 rounds');
  if (problems.length) throw new Error(`${problems.join('\n')}\n\n${USAGE}`);
  return opts;
}
