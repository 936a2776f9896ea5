/**
 * Every option's names, by layer, in one place: its flag, its environment
 * variable and its config key (the table), and the names the reactor and the
 * offload pool take it under ({@link reactorSettings}). Adding an option is a
 * row here, a default in `defaults.ts` and a field of `ServerOptions`.
 */
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../protocol/errors.js';
import { BALANCE_POLICIES, DEFAULTS, defaultPoolMaxQueue, LOG_FORMATS, LOG_LEVELS, POOL_OVERLOAD_POLICIES, type BalancePolicy, type PoolOverload } from './defaults.js';
import type { ServerOptions } from './options.js';

type Kind = 'count' | 'natural' | 'seconds' | 'port' | 'string' | 'bytes';

/** The longest delay Node's timers accept: 2^31-1 ms, about 24.8 days. */
export const MAX_TIMER_SECONDS = 2_147_483;

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly doc: string;
  /** For string options: the values allowed. */
  readonly choices?: readonly string[];
  /** The default in words, where it is computed rather than a value of DEFAULTS (which the docs show otherwise). */
  readonly defaultText?: string;
}

/** The option table: flag, environment variable and config key (the property name) of every scalar option. */
export const OPTION_SPECS = {
  workers: { flag: 'workers', env: 'SKEIN_WORKERS', kind: 'count', doc: 'worker processes', defaultText: '`os.availableParallelism()`' },
  maxWorkers: {
    flag: 'max-workers',
    env: 'SKEIN_MAX_WORKERS',
    kind: 'count',
    doc: 'the most workers --workers and SIGTTIN may ask for: a typo such as --workers 99999 is refused instead of forking',
    defaultText: '4 × cores',
  },
  poolThreads: { flag: 'pool-threads', env: 'SKEIN_POOL_THREADS', kind: 'count', doc: 'piscina threads per worker', defaultText: 'max(1, floor(cores ÷ workers))' },
  poolMaxQueue: { flag: 'pool-max-queue', env: 'SKEIN_POOL_MAX_QUEUE', kind: 'count', doc: 'queued tasks per worker before backpressure', defaultText: 'poolThreads²' },
  poolIdleTimeout: { flag: 'pool-idle-timeout', env: 'SKEIN_POOL_IDLE_TIMEOUT', kind: 'seconds', doc: 'seconds the pool may sit idle before its threads exit' },
  poolThreadMemory: {
    flag: 'pool-thread-memory',
    env: 'SKEIN_POOL_THREAD_MEMORY',
    kind: 'count',
    doc: 'MiB of heap one pool thread may use: a task that needs more fails (OffloadThreadError) and its thread is replaced, the worker goes on',
  },
  poolTaskTimeout: {
    flag: 'pool-task-timeout',
    env: 'SKEIN_POOL_TASK_TIMEOUT',
    kind: 'seconds',
    doc: 'seconds a task may run on a pool thread before it is cancelled (OffloadTimeoutError); one that ignores its signal loses its thread',
  },
  metricsPort: { flag: 'metrics-port', env: 'SKEIN_METRICS_PORT', kind: 'port', doc: 'metrics/health HTTP port (0: off)' },
  metricsHost: { flag: 'metrics-host', env: 'SKEIN_METRICS_HOST', kind: 'string', doc: 'metrics/health HTTP address' },
  metricsTimeout: { flag: 'metrics-timeout', env: 'SKEIN_METRICS_TIMEOUT', kind: 'seconds', doc: 'scrape deadline' },
  metricsWorkerWait: {
    flag: 'metrics-worker-wait',
    env: 'SKEIN_METRICS_WORKER_WAIT',
    kind: 'seconds',
    doc: 'how long a scrape waits for a worker before using its last report (it is then marked stale)',
  },
  shutdownTimeout: { flag: 'shutdown-timeout', env: 'SKEIN_SHUTDOWN_TIMEOUT', kind: 'seconds', doc: 'drain budget' },
  idleTimeout: { flag: 'idle-timeout', env: 'SKEIN_IDLE_TIMEOUT', kind: 'seconds', doc: 'close connections idle that long' },
  maxConnections: { flag: 'max-connections', env: 'SKEIN_MAX_CONNECTIONS', kind: 'count', doc: 'connections, whole server' },
  maxConnectionsPerWorker: { flag: 'max-connections-per-worker', env: 'SKEIN_MAX_CONNECTIONS_PER_WORKER', kind: 'count', doc: 'connections per worker' },
  maxConnectionsPerIp: { flag: 'max-connections-per-ip', env: 'SKEIN_MAX_CONNECTIONS_PER_IP', kind: 'count', doc: 'connections per client IP' },
  maxWorkerRss: { flag: 'max-worker-rss', env: 'SKEIN_MAX_WORKER_RSS', kind: 'count', doc: 'MiB of RSS above which a worker is recycled' },
  crashLoopDeaths: { flag: 'crash-loop-deaths', env: 'SKEIN_CRASH_LOOP_DEATHS', kind: 'count', doc: 'worker deaths within the window that stop the server' },
  crashLoopWindow: { flag: 'crash-loop-window', env: 'SKEIN_CRASH_LOOP_WINDOW', kind: 'seconds', doc: 'crash-loop window' },
  highWaterMark: { flag: 'high-water-mark', env: 'SKEIN_HIGH_WATER_MARK', kind: 'bytes', doc: 'unsent bytes that pause reading' },
  lowWaterMark: { flag: 'low-water-mark', env: 'SKEIN_LOW_WATER_MARK', kind: 'bytes', doc: 'unsent bytes below which reading resumes', defaultText: 'min(16384, highWaterMark ÷ 4)' },
  metricsToken: { flag: 'metrics-token', env: 'SKEIN_METRICS_TOKEN', kind: 'string', doc: 'bearer token required by /metrics (prefer the env variable)' },
  poolOverload: { flag: 'pool-overload', env: 'SKEIN_POOL_OVERLOAD', kind: 'string', choices: POOL_OVERLOAD_POLICIES, doc: 'full pool queue: pause reading, or reject the task' },
  balance: { flag: 'balance', env: 'SKEIN_BALANCE', kind: 'string', choices: BALANCE_POLICIES, doc: 'round-robin (node:cluster), shared-socket (workers accept), least-connections or client-hash' },
  logLevel: { flag: 'log-level', env: 'SKEIN_LOG_LEVEL', kind: 'string', choices: LOG_LEVELS, doc: 'fatal, error, warn, info (default), debug, trace or silent' },
  logFormat: { flag: 'log-format', env: 'SKEIN_LOG_FORMAT', kind: 'string', choices: LOG_FORMATS, doc: 'json, or pretty (one line per record; the default on a terminal)', defaultText: '`pretty` when stdout is a terminal, `json` otherwise' },
  shutdownDelay: { flag: 'shutdown-delay', env: 'SKEIN_SHUTDOWN_DELAY', kind: 'seconds', doc: 'on SIGTERM, seconds /readyz is 503 while still serving, before draining' },
  heartbeatTimeout: {
    flag: 'heartbeat-timeout',
    env: 'SKEIN_HEARTBEAT_TIMEOUT',
    kind: 'seconds',
    doc: "seconds a worker's event loop may miss its heartbeat before the worker is not ready",
  },
  heartbeatKillTimeout: {
    flag: 'heartbeat-kill-timeout',
    env: 'SKEIN_HEARTBEAT_KILL_TIMEOUT',
    kind: 'seconds',
    doc: 'seconds without a heartbeat before the worker is killed and replaced',
    defaultText: 'max(30, 2 × heartbeat timeout)',
  },
} as const satisfies Record<string, OptionSpec>;

export type ScalarOptionName = keyof typeof OPTION_SPECS;

/** The type of a parsed option: a number, a string, or one of its choices. */
export type OptionValue<K extends ScalarOptionName> = (typeof OPTION_SPECS)[K] extends { readonly choices: readonly (infer C)[] }
  ? C
  : (typeof OPTION_SPECS)[K]['kind'] extends 'string'
    ? string
    : number;

/** Where a raw value came from, for error messages. */
export type OptionSource = 'flag' | 'env' | 'config' | 'api';

/** The option's name as the user wrote it in `source`. */
export function optionName(name: ScalarOptionName, source: OptionSource): string {
  const spec = OPTION_SPECS[name];
  switch (source) {
    case 'flag':
      return `--${spec.flag}`;
    case 'env':
      return spec.env;
    case 'config':
      return `config key '${name}'`;
    case 'api':
      return `options.${name}`;
  }
}

/**
 * Parses one raw option value (a string from a flag or the environment, or a
 * JSON value from a config file).
 * @throws InvalidOptionError naming the option as the user wrote it.
 */
export function parseOptionValue<K extends ScalarOptionName>(name: K, raw: unknown, source: OptionSource): OptionValue<K> {
  return parseRaw(OPTION_SPECS[name], raw, optionName(name, source)) as OptionValue<K>;
}

function parseRaw(spec: OptionSpec, raw: unknown, where: string): number | string {
  const shown = typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw);
  if (spec.kind === 'string') {
    if (typeof raw !== 'string' || raw.length === 0) throw new InvalidOptionError(`${where} must be a non-empty string (got ${shown})`);
    if (spec.choices && !spec.choices.includes(raw)) throw new InvalidOptionError(`${where} must be one of ${spec.choices.join(', ')} (got ${shown})`);
    return raw;
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  switch (spec.kind) {
    case 'count':
      if (!Number.isSafeInteger(n) || n < 1) throw new InvalidOptionError(`${where} must be a positive integer (got ${shown})`);
      return n;
    case 'natural':
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidOptionError(`${where} must be a non-negative integer (got ${shown})`);
      return n;
    case 'bytes':
      if (!Number.isSafeInteger(n) || n < 1) throw new InvalidOptionError(`${where} must be a positive number of bytes (got ${shown})`);
      return n;
    case 'port':
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidOptionError(`${where} must be a port number 0-65535 (got ${shown})`);
      return n;
    case 'seconds':
      if (!Number.isFinite(n) || n <= 0) throw new InvalidOptionError(`${where} must be a positive number of seconds (got ${shown})`);
      // Node's timers take at most 2^31-1 ms; beyond it they fire after 1 ms (TimeoutOverflowWarning).
      if (n > MAX_TIMER_SECONDS) throw new InvalidOptionError(`${where} must be at most ${MAX_TIMER_SECONDS} seconds, the longest timer Node keeps (got ${shown})`);
      return n;
  }
}

/** Sizing and policy of one offload pool, in the pool's names. */
export interface PoolSettings {
  /** Threads of the pool. */
  readonly threads: number;
  /** Tasks that may wait for a thread; beyond it the overload policy applies. */
  readonly maxQueue: number;
  /** An idle thread exits after this many seconds. */
  readonly idleTimeoutSeconds: number;
  /** `pause`: stop reading from the caller's connection until the queue has room; `reject`: fail with OffloadOverloadError. */
  readonly overload: PoolOverload;
  /** A cancelled task still running after this long has its thread terminated (and replaced). */
  readonly abortGraceSeconds: number;
  /** MiB of heap (V8's old generation) a thread may use; past it the thread stops and its task fails. */
  readonly threadMemoryMb: number;
  /** A task still running after this long is cancelled with OffloadTimeoutError (then `abortGraceSeconds` applies). */
  readonly taskTimeoutSeconds: number;
}

/** The smallest `--pool-thread-memory` accepted, MiB: below it a thread may not even load its processors. */
export const MIN_POOL_THREAD_MEMORY = 16;

/** Fills a pool's settings from the defaults (threads: one per core). */
export function resolvePoolSettings(given: Partial<PoolSettings> = {}): PoolSettings {
  const threads = given.threads ?? availableParallelism();
  return Object.freeze({
    threads,
    maxQueue: given.maxQueue ?? defaultPoolMaxQueue(threads),
    idleTimeoutSeconds: given.idleTimeoutSeconds ?? DEFAULTS.poolIdleTimeout,
    overload: given.overload ?? DEFAULTS.poolOverload,
    abortGraceSeconds: given.abortGraceSeconds ?? DEFAULTS.poolAbortGrace,
    threadMemoryMb: given.threadMemoryMb ?? DEFAULTS.poolThreadMemory,
    taskTimeoutSeconds: given.taskTimeoutSeconds ?? DEFAULTS.poolTaskTimeout,
  });
}

/** A limit on open connections, and the rejection reason counted when it bites. */
export interface ConnectionLimit {
  /** Open connections allowed. */
  readonly limit: number;
  /** The `reason` label of `skein_connections_rejected_total` for a connection refused by it. */
  readonly reason: 'max_connections' | 'max_connections_per_worker';
}

/** The settings of one reactor, in its own names. */
export interface ReactorSettings {
  /** Unsent bytes of a connection above which reading from it pauses. */
  readonly highWaterMark: number;
  /** Unsent bytes at or below which reading resumes. */
  readonly lowWaterMark: number;
  /** Seconds without a byte read or flushed after which a connection is closed; undefined: never. */
  readonly idleTimeout: number | undefined;
  /** Open connections this reactor accepts; undefined: no limit. */
  readonly maxConnections: ConnectionLimit | undefined;
  /** Open connections per client address; undefined: no limit. */
  readonly maxConnectionsPerIp: number | undefined;
  /** The offload pool's sizing and policy. */
  readonly pool: PoolSettings;
  /** Gather the metrics that cost something (message timings, runtime collectors): only when someone can read them. */
  readonly metrics: boolean;
}

/** The policies under which the primary accepts every connection and passes it to a worker it picks. */
export type PrimaryAcceptPolicy = Exclude<BalancePolicy, 'round-robin' | 'shared-socket'>;

/**
 * True when the primary accepts connections itself and hands them to a
 * reactor (least-connections, client-hash); false when every reactor listens
 * on a shared handle: node:cluster's primary hands connections out in turn
 * (round-robin, SCHED_RR), or each worker accepts from it (shared-socket, SCHED_NONE).
 */
export function primaryAccepts(balance: BalancePolicy): balance is PrimaryAcceptPolicy {
  return balance === 'least-connections' || balance === 'client-hash';
}

/**
 * What one reactor of a server with `options` enforces, in the reactor's names.
 * When the primary accepts, it enforces the whole-server and per-IP limits
 * itself; under round-robin each reactor takes its share of the whole-server
 * limit (rounded up) and the per-IP limit, and the lower of that share and
 * the per-worker limit applies.
 */
export function reactorSettings(
  options: Pick<
    ServerOptions,
    | 'balance'
    | 'workers'
    | 'maxConnections'
    | 'maxConnectionsPerWorker'
    | 'maxConnectionsPerIp'
    | 'highWaterMark'
    | 'lowWaterMark'
    | 'idleTimeout'
    | 'poolThreads'
    | 'poolMaxQueue'
    | 'poolIdleTimeout'
    | 'poolThreadMemory'
    | 'poolTaskTimeout'
    | 'poolOverload'
    | 'metricsPort'
  >,
): ReactorSettings {
  const adopting = primaryAccepts(options.balance);
  const share = options.maxConnections !== undefined && !adopting ? Math.ceil(options.maxConnections / options.workers) : undefined;
  const perWorker = options.maxConnectionsPerWorker;
  const maxConnections: ConnectionLimit | undefined =
    perWorker !== undefined && (share === undefined || perWorker <= share)
      ? { limit: perWorker, reason: 'max_connections_per_worker' }
      : share !== undefined
        ? { limit: share, reason: 'max_connections' }
        : undefined;
  return Object.freeze({
    highWaterMark: options.highWaterMark,
    lowWaterMark: options.lowWaterMark,
    idleTimeout: options.idleTimeout,
    maxConnections,
    maxConnectionsPerIp: adopting ? undefined : options.maxConnectionsPerIp,
    pool: resolvePoolSettings({
      threads: options.poolThreads,
      maxQueue: options.poolMaxQueue,
      idleTimeoutSeconds: options.poolIdleTimeout,
      threadMemoryMb: options.poolThreadMemory,
      taskTimeoutSeconds: options.poolTaskTimeout,
      overload: options.poolOverload,
    }),
    metrics: options.metricsPort !== 0,
  });
}
