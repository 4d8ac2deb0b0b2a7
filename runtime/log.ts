import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger, JSON on stderr so stdout stays free for machine-readable
 * output; children carry connection, user and channel ids.
 */
export function createLogger(level: string, name = 'tertulia'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
