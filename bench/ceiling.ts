/**
 * The database's own ceiling on this machine: raw `pg` multi-row INSERTs into
 * a table shaped like `messages` (same columns, primary key and idempotency
 * index, via LIKE ... INCLUDING ALL), on the same server the pod used. It is
 * a table of its own so the pod's data and seqs are untouched.
 */
import pg from 'pg';
import { inParallel } from './concurrency.js';

export interface CeilingResult {
  connections: number;
  batchRows: number;
  seconds: number;
  rows: number;
  rowsPerSec: number;
}

const TABLE = 'bench_ceiling_messages';

export async function measureCeiling(
  url: string,
  o: { connections: number; batchRows: number; seconds: number; bodyChars: number },
): Promise<CeilingResult> {
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`drop table if exists ${TABLE}`);
    await admin.query(`create table ${TABLE} (like messages including all)`);
    const body = 'x'.repeat(o.bodyChars);
    const placeholders = Array.from({ length: o.batchRows }, (_, i) => {
      const b = i * 5;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, now())`;
    }).join(', ');
    const sql = `insert into ${TABLE} (channel_id, seq, sender_id, client_msg_id, body, ts) values ${placeholders}`;
    const end = performance.now() + o.seconds * 1000;
    const t0 = performance.now();
    const counts = await inParallel(Array.from({ length: o.connections }, (_, i) => i + 1), o.connections, async (channel) => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {});
      await c.connect();
      let seq = 0;
      try {
        while (performance.now() < end) {
          const params: unknown[] = [];
          for (let i = 0; i < o.batchRows; i++) {
            seq++;
            params.push(channel, seq, channel, `c${seq}`, body);
          }
          // Named, so it is parsed once: this is the best case the pod is compared with.
          await c.query({ name: 'bench_ceiling_insert', text: sql, values: params });
        }
      } finally {
        await c.end().catch(() => {});
      }
      return seq;
    });
    const seconds = (performance.now() - t0) / 1000;
    const rows = counts.reduce((a, b) => a + b, 0);
    return { connections: o.connections, batchRows: o.batchRows, seconds, rows, rowsPerSec: rows / seconds };
  } finally {
    await admin.query(`drop table if exists ${TABLE}`).catch(() => {});
    await admin.end().catch(() => {});
  }
}
