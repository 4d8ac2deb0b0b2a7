/**
 * The embedded default database: PGlite (PostgreSQL compiled to WASM) kept in
 * a data directory and served on a loopback port by pglite-socket, so the
 * stock MikroORM PostgreSQL driver and the same migrations run unchanged.
 *
 * Connections: PGlite is one backend, and pglite-socket 0.2.17 accepts
 * `maxConnections` clients (default 1) but runs them all on that backend. It
 * keeps an explicit transaction's statements together, yet interleaves the
 * messages of other clients' implicit transactions between them, and all
 * clients share one session (SET, prepared statements). So the pool gets ONE
 * connection (EMBEDDED_POOL_SIZE); the server allows one spare so a pool that
 * replaces a dropped connection is not refused while the old one is released.
 */
import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** Pool size for a store on the embedded database. */
export const EMBEDDED_POOL_SIZE = 1;

export interface EmbeddedDatabase {
  /** postgresql://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** The pool size a store on this database must use. */
  poolSize: number;
  /** Stops serving and closes PGlite, flushing its files. Close the store first. */
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Directory holding the database files; created if missing. */
  dataDir: string;
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
}

export async function openEmbedded(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  fs.mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: options.port ?? 0,
    maxConnections: EMBEDDED_POOL_SIZE + 1,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const port = Number(server.getServerConn().split(':').pop());
  let closed = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    poolSize: EMBEDDED_POOL_SIZE,
    async close() {
      if (closed) return;
      closed = true;
      await server.stop();
      await db.close();
    },
  };
}
