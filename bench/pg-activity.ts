/**
 * Samples what the pod's database connections are doing during traffic. It
 * tells apart a slow database ("active") from a pod that holds a transaction
 * open while its own event loop gets round to the next statement ("idle in
 * transaction"), and shows whether the pool is the queue ("idle" near zero).
 */
import pg from 'pg';

export interface ActivityShare {
  samples: number;
  /** Mean number of the pod's connections in each state per sample. */
  meanByState: Record<string, number>;
  /** Wait events seen on active backends, counted over all samples. */
  waits: Record<string, number>;
}

export async function watchActivity(url: string, everyMs = 200): Promise<{ stop(): Promise<ActivityShare> }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  const states = new Map<string, number>();
  const waits = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await c.query<{ state: string | null; wait: string | null }>(
        `select state, case when state = 'active' then wait_event_type || ':' || wait_event end as wait
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
      );
      samples++;
      for (const r of rows) {
        const s = r.state ?? 'unknown';
        states.set(s, (states.get(s) ?? 0) + 1);
        if (r.wait) waits.set(r.wait, (waits.get(r.wait) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })().catch(() => {});
  return {
    async stop() {
      stopped = true;
      await loop;
      await c.end().catch(() => {});
      const mean = Object.fromEntries([...states].map(([k, v]) => [k, Math.round((10 * v) / Math.max(1, samples)) / 10]));
      return { samples, meanByState: mean, waits: Object.fromEntries([...waits].sort((a, b) => b[1] - a[1]).slice(0, 6)) };
    },
  };
}
