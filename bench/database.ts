/**
 * The PostgreSQL the run uses: a private server started for it (and stopped
 * after), or a server the caller names, on which a fresh database is created
 * (and dropped after) so earlier runs' rows do not skew the figures.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startPostgres } from '../test/harness/postgres.js';

export interface BenchDatabase {
  url: string;
  /** Where it came from, for the report. */
  origin: string;
  release(): Promise<void>;
}

export async function openBenchDatabase(given: string | null, log: (line: string) => void): Promise<BenchDatabase> {
  if (!given) {
    const server = await startPostgres();
    return { url: server.url, origin: `private PostgreSQL on 127.0.0.1:${server.port} (fsync=off, synchronous_commit=off)`, release: () => server.stop() };
  }
  const name = `tertulia_bench_${randomBytes(4).toString('hex')}`;
  try {
    await onServer(given, (c) => c.query(`create database ${name}`));
  } catch (err) {
    log(`could not create a fresh database (${(err as Error).message}); using the given one as it is`);
    return { url: given, origin: 'given database (not fresh)', release: async () => {} };
  }
  const url = new URL(given);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    origin: `fresh database ${name} on ${url.host}`,
    release: () => onServer(given, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

/** One PostgreSQL server for several runs, each on a fresh database of its own. */
export interface BenchServer {
  origin: string;
  fresh(): Promise<BenchDatabase>;
  release(): Promise<void>;
}

export async function openBenchServer(given: string | null, log: (line: string) => void): Promise<BenchServer> {
  if (given) return { origin: `server ${new URL(given).host}`, fresh: () => openBenchDatabase(given, log), release: async () => {} };
  const server = await startPostgres();
  const origin = `private PostgreSQL on 127.0.0.1:${server.port} (fsync=off, synchronous_commit=off)`;
  return {
    origin,
    async fresh() {
      const url = await server.createDatabase();
      const name = new URL(url).pathname.slice(1);
      return { url, origin: `fresh database ${name} on ${origin}`, release: () => onServer(url.replace(/\/[^/]*$/, '/postgres'), (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}) };
    },
    release: () => server.stop(),
  };
}

async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}
