/**
 * Routes comedy's logging into pino. Without it comedy builds winston console
 * loggers and prints its own chatter to stdout.
 */
import { format } from 'node:util';
import type { Logger } from 'pino';

/** The shape comedy's Logger.setImplementation() checks for. */
export interface ComedyLogImpl {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** comedy's numeric levels (lib/utils/logger.js). */
export const ComedyLevel = { Silent: 1, Error: 2, Warn: 3, Info: 4, Debug: 5 } as const;

/**
 * comedy's info lines ("Using programmatic actor configuration", actor
 * created/destroyed) are noise for us, so both its debug and info go to debug.
 * Arguments are printf-joined the way comedy's winston transport would.
 */
export function comedyLogAdapter(log: Logger): ComedyLogImpl {
  return {
    debug: (...a) => log.debug(format(...a)),
    info: (...a) => log.debug(format(...a)),
    warn: (...a) => log.warn(format(...a)),
    error: (...a) => log.error(format(...a)),
  };
}

/**
 * The level to set on comedy's own logger so it does not even format lines
 * pino would drop; comedy checks its level before calling the adapter.
 */
export function comedyLevelFor(log: Logger): number {
  if (log.isLevelEnabled('debug')) return ComedyLevel.Debug;
  if (log.isLevelEnabled('warn')) return ComedyLevel.Warn;
  if (log.isLevelEnabled('error')) return ComedyLevel.Error;
  return ComedyLevel.Silent;
}
