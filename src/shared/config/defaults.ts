/**
 * The one typed defaults object. Every default skein applies, on the command
 * line, in `serve()`, in a single-process reactor or on the client side, comes
 * from here; a default that depends on another option is a function below it.
 */

/** The connection-distribution policies (`--balance`). */
export const BALANCE_POLICIES = ['round-robin', 'shared-socket', 'least-connections', 'client-hash'] as const;
/** One of {@link BALANCE_POLICIES}. */
export type BalancePolicy = (typeof BALANCE_POLICIES)[number];

/** What a full pool queue does to a new task (`--pool-overload`). */
export const POOL_OVERLOAD_POLICIES = ['pause', 'reject'] as const;
/** One of {@link POOL_OVERLOAD_POLICIES}. */
export type PoolOverload = (typeof POOL_OVERLOAD_POLICIES)[number];

/** Log levels, most severe first (`--log-level`); `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log formats (`--log-format`): one JSON object per line, or one readable line per record. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Every default skein applies, by option name (the values, with their units, in the comments below). */
export const DEFAULTS: Readonly<{
  /** Metrics/health HTTP port; 0 turns the endpoint off. */
  metricsPort: number;
  /** Metrics/health HTTP address. */
  metricsHost: string;
  /** Scrape deadline, in seconds. */
  metricsTimeout: number;
  /** How long a scrape waits for a worker before using its last report (it is then marked stale), in seconds. */
  metricsWorkerWait: number;
  /** Drain budget, in seconds. */
  shutdownTimeout: number;
  /** Seconds before an idle pool thread exits. */
  poolIdleTimeout: number;
  /** Full pool queue: pause reading, or reject the task. */
  poolOverload: PoolOverload;
  /** Seconds a cancelled task may keep running before its thread is terminated. */
  poolAbortGrace: number;
  /** MiB of heap (V8's old generation) one pool thread may use before it is stopped and its task fails. */
  poolThreadMemory: number;
  /** Seconds an offloaded task may run on its thread before it is cancelled. */
  poolTaskTimeout: number;
  /** Worker deaths within the window that stop the server. */
  crashLoopDeaths: number;
  /** Crash-loop window, in seconds. */
  crashLoopWindow: number;
  /** Unsent bytes that pause reading. */
  highWaterMark: number;
  /** Unsent bytes below which reading resumes. */
  lowWaterMark: number;
  /** Protocol of the default service. */
  protocol: string;
  /** Endpoint of the default service. */
  listen: string;
  /** Round-robin (node:cluster), least-connections or client-hash. */
  balance: BalancePolicy;
  /** Worker processes allowed per core: the default `--max-workers` is this × cores. */
  workersPerCore: number;
  /** Seconds a worker's event loop may be stuck before it takes no new connections. */
  heartbeatTimeout: number;
  /** Seconds after which such a worker is replaced (at least twice the heartbeat timeout). */
  heartbeatKillTimeout: number;
  /** Fatal, error, warn, info (default), debug, trace or silent. */
  logLevel: LogLevel;
}> = Object.freeze({
  metricsPort: 9100, // 0 turns the endpoint off
  metricsHost: '127.0.0.1',
  metricsTimeout: 5, // seconds: below Prometheus' default 10 s scrape timeout
  metricsWorkerWait: 0.1, // seconds: a stuck worker costs a scrape no more than this
  shutdownTimeout: 10, // seconds
  poolIdleTimeout: 30, // seconds the pool may sit idle before its threads exit
  poolOverload: 'pause',
  poolAbortGrace: 10, // seconds a cancelled task may keep running before its thread is terminated
  poolThreadMemory: 512, // MiB of heap per pool thread (V8's own default is about a quarter of the host's memory, up to 4 GiB)
  poolTaskTimeout: 60, // seconds a task may run on its thread before it is cancelled (then the abort grace applies)
  crashLoopDeaths: 5, // worker deaths …
  crashLoopWindow: 10, // … within this many seconds stop the server
  highWaterMark: 64 * 1024, // bytes of unsent output that pause reading
  lowWaterMark: 16 * 1024, // bytes below which reading resumes (at most a quarter of the high mark)
  protocol: 'processed',
  listen: 'tcp:9000',
  balance: 'round-robin',
  workersPerCore: 4, // the default --max-workers is this × cores
  heartbeatTimeout: 5, // seconds: a worker whose event loop is stuck this long takes no new connections
  heartbeatKillTimeout: 30, // seconds: … and is replaced after this long (at least twice the heartbeat timeout)
  logLevel: 'info', // the format defaults to pretty on a terminal, JSON otherwise
});

/** The most workers `--workers` and SIGTTIN may ask for, unless `--max-workers` says otherwise. */
export function defaultMaxWorkers(cores: number): number {
  return DEFAULTS.workersPerCore * cores;
}

/** Seconds without a heartbeat before a worker is killed: the default, or twice the heartbeat timeout if that is longer. */
export function defaultHeartbeatKillTimeout(heartbeatTimeout: number): number {
  return Math.max(DEFAULTS.heartbeatKillTimeout, 2 * heartbeatTimeout);
}

/** Pool threads per worker: the cores shared between the workers, at least one. */
export function defaultPoolThreads(workers: number, cores: number): number {
  return Math.max(1, Math.floor(cores / workers));
}

/** Tasks that may wait for a pool thread: threads². */
export function defaultPoolMaxQueue(threads: number): number {
  return threads * threads;
}

/** The low-water mark for a given high one: the default, or a quarter of the high mark if that is lower. */
export function defaultLowWaterMark(highWaterMark: number): number {
  return Math.max(1, Math.min(DEFAULTS.lowWaterMark, Math.floor(highWaterMark / 4)));
}
