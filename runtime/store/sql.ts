/**
 * The thin SQL layer the store runs on: MikroORM's connection (its knex pool,
 * query logging and transaction handling) without the unit of work. Parameters
 * are `?` placeholders that MikroORM inlines as escaped literals, so every
 * statement travels as one simple-protocol query: one round trip, and one
 * message for the embedded PGlite socket to queue.
 */
import type { Transaction } from '@mikro-orm/core';
import type { AbstractSqlConnection } from '@mikro-orm/postgresql';
import { StoreError } from '../ports.js';
import type { Orm } from './orm.js';

export type Row = Record<string, unknown>;

interface PgConnection {
  query(q: { name?: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}

interface PoolClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(conn: PgConnection): unknown;
}
export type Tx = Transaction;

/** Constraint names whose violation means "that name is taken". */
const NAME_CONSTRAINTS = new Set(['users_name_key', 'channels_name_key']);

export class Sql {
  private readonly connection: AbstractSqlConnection;

  constructor(orm: Orm) {
    this.connection = orm.em.getConnection();
  }

  /** Rows of one statement, inside `tx` when given. */
  async query<T extends Row = Row>(sql: string, params: unknown[] = [], tx?: Tx): Promise<T[]> {
    try {
      return await this.connection.execute<T[]>(sql, params, 'all', tx);
    } catch (err) {
      throw translate(err);
    }
  }

  /**
   * One statement as a named prepared statement on a pooled connection, with
   * real bind parameters: PostgreSQL plans it once per connection instead of
   * on every call. For the hot path only; its text must not vary per call.
   */
  async prepared<T extends Row = Row>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const client = this.connection.getKnex().client as unknown as PoolClient;
    let conn: PgConnection;
    try {
      conn = await client.acquireConnection();
    } catch (err) {
      throw translate(err);
    }
    try {
      return (await conn.query({ name, text, values })).rows as T[];
    } catch (err) {
      // Another session of a shared backend (the embedded PGlite) prepared it already.
      if ((err as { code?: string }).code === '42P05') {
        try {
          return (await conn.query({ text, values })).rows as T[];
        } catch (again) {
          throw translate(again);
        }
      }
      throw translate(err);
    } finally {
      client.releaseConnection(conn);
    }
  }

  /** First row or null. */
  async one<T extends Row = Row>(sql: string, params: unknown[] = [], tx?: Tx): Promise<T | null> {
    const rows = await this.query<T>(sql, params, tx);
    return rows[0] ?? null;
  }

  /** Runs `fn` in one transaction: commit on return, rollback on throw. */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.connection.transactional(fn);
    } catch (err) {
      throw translate(err);
    }
  }
}

/**
 * Maps driver errors the caller can act on to StoreError; others stay faults.
 * Idempotent, since a failure inside `transaction` passes through both layers.
 */
export function translate(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; constraint?: string; name?: string; message?: string };
  if (e.code === '23505' && e.constraint && NAME_CONSTRAINTS.has(e.constraint)) {
    return new StoreError('conflict', 'name taken', { cause: err });
  }
  if (e.code === '23505') return new StoreError('conflict', `duplicate key (${e.constraint ?? '?'})`, { cause: err });
  if (e.code === '23503') return new StoreError('not_found', `referenced row missing (${e.constraint ?? '?'})`, { cause: err });
  if (isUnavailable(e)) return new StoreError('unavailable', e.message ?? 'database unavailable', { cause: err });
  return err;
}

function isUnavailable(e: { code?: string; name?: string; message?: string }): boolean {
  if (e.name === 'KnexTimeoutError') return true; // no pooled connection in time
  // node-postgres reports a dropped connection without a code.
  if (/Connection terminated|not queryable/i.test(e.message ?? '')) return true;
  const code = e.code ?? '';
  // 08: connection exceptions; 57P0x: server shutting down or crash recovery.
  if (code.startsWith('08') || code.startsWith('57P0')) return true;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code);
}

/** Bigint columns arrive as strings; every id and seq fits a JS number. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** ms since the epoch as SQL, for a timestamptz column or expression. */
export function epochMs(column: string): string {
  return `(extract(epoch from ${column}) * 1000)::float8`;
}

/** A ms timestamp as a parameter value for `?::timestamptz`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `(?, ?, ?), (?, ?, ?)` for `rows` tuples of `width` placeholders. */
export function tuples(rows: number, width: number): string {
  const one = `(${new Array<string>(width).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(one).join(', ');
}
