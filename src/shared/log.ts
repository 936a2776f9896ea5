import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: pino, JSON lines on stdout, level from `SKEIN_LOG_LEVEL`
 * (default `info`). `role` is `primary` or `worker`; workers add their slot.
 */
export function createLogger(bindings: Record<string, unknown>): Logger {
  return pino({
    level: process.env.SKEIN_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
