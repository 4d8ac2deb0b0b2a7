import { ConfigError, loadConfig, parseFlags, type Config } from '../config.js';

/** Loads config from flags and environment; prints every problem and exits 2 on failure. */
export function configFrom(args: string[]): Readonly<Config> {
  const { flags } = parseFlags(args);
  try {
    return loadConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
}
