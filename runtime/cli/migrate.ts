import { migrate } from '../store/orm.js';
import { configFrom } from './config-from.js';
import { withEmbedded } from '../store/open.js';

/** Applies pending migrations to the configured database and exits. */
export async function runMigrate(args: string[]): Promise<number> {
  const cfg = configFrom(args);
  const applied = cfg.databaseUrl ? await migrate(cfg.databaseUrl) : await withEmbedded(cfg.dataDir, migrate);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  return 0;
}
