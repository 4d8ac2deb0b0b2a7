import { startNode } from '../node.js';
import { createLogger } from '../log.js';
import { configFrom } from './config-from.js';

/** Runs one pod until SIGTERM/SIGINT, then drains and exits. */
export async function runServer(args: string[]): Promise<number> {
  const cfg = configFrom(args);
  const log = createLogger(cfg.logLevel);
  const node = await startNode(cfg, log);
  // Machine-readable line for scripts and tests that start a pod on port 0.
  process.stdout.write(JSON.stringify({ listening: { host: node.host, port: node.port, metricsPort: node.metricsPort } }) + '\n');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'draining');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  // The drain waits up to drainMs for clients; commits and the database get a little more.
  const hardStop = setTimeout(() => {
    log.error('drain took too long; exiting');
    process.exit(1);
  }, cfg.drainMs + 10_000);
  hardStop.unref();
  await node.stop();
  return 0;
}
