import { pino, type DestinationStream, type Logger } from 'pino';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './config/defaults.js';
import { InvalidOptionError } from './protocol/errors.js';
import { prettyLine } from './log-pretty.js';

export type { Logger };

/** How the process logs. */
export interface LogSettings {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

/**
 * The log settings from the environment: `SKEIN_LOG_LEVEL` (default `info`) and
 * `SKEIN_LOG_FORMAT` (default `pretty` when stdout is a terminal, `json` otherwise).
 * The primary sets both for itself and its workers from `--log-level` and `--log-format`.
 * @throws InvalidOptionError naming the variable, for a value that is not a level or format.
 */
export function logSettings(env: NodeJS.ProcessEnv = process.env, isTTY: boolean = process.stdout.isTTY === true): LogSettings {
  const level = env.SKEIN_LOG_LEVEL || 'info';
  const format = env.SKEIN_LOG_FORMAT || (isTTY ? 'pretty' : 'json');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidOptionError(`SKEIN_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${level}')`);
  }
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidOptionError(`SKEIN_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')} (got '${format}')`);
  }
  return { level: level as LogLevel, format: format as LogFormat };
}

/** Writes each JSON record pino produces as one readable line. */
function prettyDestination(out: NodeJS.WritableStream, colors: boolean): DestinationStream {
  return { write: (record: string) => void out.write(prettyLine(record, colors)) };
}

/**
 * The process logger: pino, on stdout, as JSON lines or pretty lines (see
 * {@link logSettings}). `role` is `primary` or `worker`; workers add their slot.
 */
export function createLogger(bindings: Record<string, unknown>, settings: LogSettings = logSettings()): Logger {
  const options = {
    level: settings.level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (settings.format === 'json') return pino(options);
  return pino(options, prettyDestination(process.stdout, process.stdout.isTTY === true && !process.env.NO_COLOR));
}
