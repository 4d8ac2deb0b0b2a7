/**
 * `tertulia <command>`: server, migrate, restore, chat. Flags and TERTULIA_*
 * environment variables configure every command the same way.
 */
import { SETTINGS } from '../config.js';

const USAGE = `usage: tertulia <command> [flags]

commands:
  server            run one pod (embedded PGlite in --data-dir unless DATABASE_URL is set)
  cluster --pods N  N local pods for development (needs DATABASE_URL; starts a Redis unless TERTULIA_REDIS_URL)
  migrate           apply database migrations and exit
  restore --from <dir | gs://bucket/prefix> [--resume] [--api-endpoint URL] [--concurrency N]
                    rebuild an empty database from history segments (migrates first;
                    --resume finishes an interrupted restore; --api-endpoint for a GCS emulator)
  snapshot --all    write every channel's pending history segments to the blob store now
  chat [host:port]  interactive terminal client (default 127.0.0.1:7600)
  help              this text

server flags (each also read from the environment variable shown):
${SETTINGS.map((s) => `  --${s.flag.padEnd(22)} ${s.env}${s.def === null ? '' : ` (default ${s.def})`}`).join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'server':
      return (await import('./server.js')).runServer(rest);
    case 'cluster':
      return (await import('./cluster.js')).runCluster(rest);
    case 'snapshot':
      return (await import('./snapshot.js')).runSnapshot(rest);
    case 'migrate':
      return (await import('./migrate.js')).runMigrate(rest);
    case 'restore':
      return (await import('./restore.js')).runRestore(rest);
    case 'chat':
      return (await import('./chat.js')).runChat(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`tertulia: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
