/**
 * Opens MikroORM on PostgreSQL (a real server or the embedded PGlite socket)
 * and brings the schema up to date with the hand-written migrations.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from './entities.js';
import { migrationsList } from './migrations/index.js';

export interface OrmOptions {
  /** postgresql://user[:password]@host:port/database */
  url: string;
  /** Most connections the pool opens. */
  poolSize: number;
  /** Log every SQL statement (debugging only). */
  debug?: boolean;
}

export type Orm = MikroORM;

/** Opens the ORM; does not touch the schema. */
export async function openOrm(options: OrmOptions): Promise<Orm> {
  return MikroORM.init({
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    // knex's default pool is min 2, which is above the embedded server's limit.
    pool: {
      min: Math.min(1, options.poolSize),
      max: options.poolSize,
      // The append statement is prepared once per connection; left to itself
      // PostgreSQL keeps re-planning it (its generic plan looks costlier on
      // paper), which measured at twice the cost of running it.
      afterCreate: (conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) =>
        conn.query('set plan_cache_mode = force_generic_plan', (err) => done(err, conn)),
    },
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      // The snapshot is a file written next to the migrations, for generating
      // new ones; a server must never write into its install directory.
      snapshot: false,
      silent: true,
    },
    discovery: { warnWhenNoEntities: false },
    debug: options.debug ?? false,
    // The store never uses the global EntityManager's identity map.
    allowGlobalContext: true,
  });
}

/** Applies pending migrations; returns the names applied. */
export async function migrateOrm(orm: Orm): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

/** Opens the ORM and applies pending migrations, as a server does at start. */
export async function openMigratedOrm(options: OrmOptions): Promise<Orm> {
  const orm = await openOrm(options);
  try {
    await migrateOrm(orm);
  } catch (err) {
    await orm.close(true);
    throw err;
  }
  return orm;
}

/** `tertulia migrate`: applies pending migrations to the database at `url` and closes. */
export async function migrate(url: string): Promise<string[]> {
  const orm = await openOrm({ url, poolSize: 1 });
  try {
    return await migrateOrm(orm);
  } finally {
    await orm.close(true);
  }
}
