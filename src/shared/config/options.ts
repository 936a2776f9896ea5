import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../protocol/errors.js';
import {
  DEFAULTS,
  defaultHeartbeatKillTimeout,
  defaultLowWaterMark,
  defaultMaxWorkers,
  defaultPoolMaxQueue,
  defaultPoolThreads,
  type BalancePolicy,
  type LogFormat,
  type LogLevel,
  type PoolOverload,
} from './defaults.js';
import { MIN_POOL_THREAD_MEMORY, OPTION_SPECS, optionName, parseOptionValue, type OptionValue, type ScalarOptionName } from './option-table.js';
import { checkServices, normalizeService, type ServiceConfig } from './service-config.js';

export { BALANCE_POLICIES, DEFAULTS, type BalancePolicy, type PoolOverload } from './defaults.js';
export { OPTION_SPECS, parseOptionValue, type OptionSource, type ScalarOptionName } from './option-table.js';
export { defaultServiceName, normalizeService, type ServiceConfig } from './service-config.js';

/**
 * Server options: one table (option-table.ts), one typed defaults object
 * (defaults.ts), merged once here and frozen.
 * Precedence: command-line flag > `SKEIN_*` environment variable > config file > default.
 */

/** Every server option, resolved. */
export interface ServerOptions {
  /** Worker processes. */
  readonly workers: number;
  /** The most workers `--workers` and SIGTTIN may ask for (default 4 × cores). */
  readonly maxWorkers: number;
  /** Piscina threads per worker. */
  readonly poolThreads: number;
  /** Queued tasks per worker before backpressure. */
  readonly poolMaxQueue: number;
  /** Seconds before an idle pool thread exits. */
  readonly poolIdleTimeout: number;
  /** MiB of heap one pool thread may use; a task that needs more fails and its thread is replaced. */
  readonly poolThreadMemory: number;
  /** Seconds a task may run on a pool thread before it is cancelled with OffloadTimeoutError. */
  readonly poolTaskTimeout: number;
  /** Metrics/health HTTP port; 0 turns the endpoint off. */
  readonly metricsPort: number;
  /** Metrics/health HTTP address. */
  readonly metricsHost: string;
  /** Scrape deadline, in seconds. */
  readonly metricsTimeout: number;
  /** How long a scrape waits for a worker before using its last report (it is then marked stale), in seconds. */
  readonly metricsWorkerWait: number;
  /** Drain budget, in seconds. */
  readonly shutdownTimeout: number;
  /** Close connections idle that long, in seconds. */
  readonly idleTimeout: number | undefined;
  /** Connections, whole server. */
  readonly maxConnections: number | undefined;
  /** Connections per worker. */
  readonly maxConnectionsPerWorker: number | undefined;
  /** Connections per client IP. */
  readonly maxConnectionsPerIp: number | undefined;
  /** MiB of RSS above which a worker is recycled. */
  readonly maxWorkerRss: number | undefined;
  /** Worker deaths within the window that stop the server. */
  readonly crashLoopDeaths: number;
  /** Crash-loop window, in seconds. */
  readonly crashLoopWindow: number;
  /** Unsent bytes that pause reading. */
  readonly highWaterMark: number;
  /** Unsent bytes below which reading resumes. */
  readonly lowWaterMark: number;
  /** Bearer token required by /metrics (prefer the env variable). */
  readonly metricsToken: string | undefined;
  /** The services: each a protocol (module or built-in name), its endpoints and options. */
  readonly services: readonly ServiceConfig[];
  /** Full pool queue: pause reading, or reject the task. */
  readonly poolOverload: PoolOverload;
  /** On SIGTERM, seconds /readyz is 503 while still serving, before draining. */
  readonly shutdownDelay: number | undefined;
  /** Round-robin (node:cluster), least-connections or client-hash. */
  readonly balance: BalancePolicy;
  /** Fatal, error, warn, info (default), debug, trace or silent. */
  readonly logLevel: LogLevel;
  /** Json, or pretty (one line per record; the default on a terminal). */
  readonly logFormat: LogFormat;
  /** Seconds without a worker heartbeat before it is not ready. */
  readonly heartbeatTimeout: number;
  /** Seconds without a heartbeat before the worker is killed and replaced. */
  readonly heartbeatKillTimeout: number;
}

/** The options as given, by source, before merging. */
export interface OptionLayers {
  readonly flags?: Partial<Record<ScalarOptionName, string>>;
  readonly env?: NodeJS.ProcessEnv;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly api?: Readonly<Record<string, unknown>>;
  readonly services?: readonly ServiceConfig[];
}

/**
 * Merges option layers into frozen {@link ServerOptions}.
 * @throws InvalidOptionError naming the first bad option.
 */
export function resolveOptions(layers: OptionLayers): ServerOptions {
  const config = layers.config ?? {};
  for (const key of Object.keys(config)) {
    if (key === 'services') continue;
    if (!(key in OPTION_SPECS)) {
      throw new InvalidOptionError(`config key '${key}' is not an option (known: ${[...Object.keys(OPTION_SPECS), 'services'].join(', ')})`);
    }
  }
  /** The option from the first layer that sets it, parsed. */
  const given = <K extends ScalarOptionName>(name: K): OptionValue<K> | undefined => {
    const flag = layers.flags?.[name];
    if (flag !== undefined) return parseOptionValue(name, flag, 'flag');
    const api = layers.api?.[name];
    if (api !== undefined) return parseOptionValue(name, api, 'api');
    const env = layers.env?.[OPTION_SPECS[name].env];
    if (env !== undefined && env !== '') return parseOptionValue(name, env, 'env');
    if (config[name] !== undefined) return parseOptionValue(name, config[name], 'config');
    return undefined;
  };
  /** The option's name in the first layer that sets it, for messages. */
  const named = (name: ScalarOptionName): string => {
    if (layers.flags?.[name] !== undefined) return optionName(name, 'flag');
    if (layers.api?.[name] !== undefined) return optionName(name, 'api');
    const env = layers.env?.[OPTION_SPECS[name].env];
    return env !== undefined && env !== '' ? optionName(name, 'env') : optionName(name, 'config');
  };
  const workers = given('workers') ?? availableParallelism();
  const maxWorkers = given('maxWorkers') ?? defaultMaxWorkers(availableParallelism());
  if (workers > maxWorkers) {
    // Each worker is a process with its own heap: a typo must not fork thousands of them.
    const bound = given('maxWorkers') === undefined ? `${DEFAULTS.workersPerCore} × ${availableParallelism()} cores` : named('maxWorkers');
    throw new InvalidOptionError(`${named('workers')} must be at most ${maxWorkers} (${bound}; raise --max-workers to allow more) (got ${workers})`);
  }
  const heartbeatTimeout = given('heartbeatTimeout') ?? DEFAULTS.heartbeatTimeout;
  const heartbeatKillTimeout = given('heartbeatKillTimeout') ?? defaultHeartbeatKillTimeout(heartbeatTimeout);
  if (heartbeatKillTimeout <= heartbeatTimeout) {
    throw new InvalidOptionError(`heartbeat-kill-timeout (${heartbeatKillTimeout}) must exceed heartbeat-timeout (${heartbeatTimeout})`);
  }
  const poolThreads = given('poolThreads') ?? defaultPoolThreads(workers, availableParallelism());
  const poolThreadMemory = given('poolThreadMemory') ?? DEFAULTS.poolThreadMemory;
  if (poolThreadMemory < MIN_POOL_THREAD_MEMORY) {
    throw new InvalidOptionError(`${named('poolThreadMemory')} must be at least ${MIN_POOL_THREAD_MEMORY} MiB (got ${poolThreadMemory})`);
  }
  const highWaterMark = given('highWaterMark') ?? DEFAULTS.highWaterMark;
  const lowWaterMark = given('lowWaterMark') ?? defaultLowWaterMark(highWaterMark);
  if (lowWaterMark >= highWaterMark) {
    throw new InvalidOptionError(`low-water-mark (${lowWaterMark}) must be below high-water-mark (${highWaterMark})`);
  }
  const metricsTimeout = given('metricsTimeout') ?? DEFAULTS.metricsTimeout;
  const metricsWorkerWait = given('metricsWorkerWait') ?? Math.min(DEFAULTS.metricsWorkerWait, metricsTimeout);
  if (metricsWorkerWait > metricsTimeout) {
    throw new InvalidOptionError(`metrics-worker-wait (${metricsWorkerWait} s) must not exceed metrics-timeout (${metricsTimeout} s)`);
  }
  const services = layers.services?.length ? layers.services : servicesFromConfig(config.services);
  const balance = given('balance') ?? DEFAULTS.balance;
  const maxConnectionsPerIp = given('maxConnectionsPerIp');
  checkServices(services, balance, maxConnectionsPerIp !== undefined);
  return Object.freeze({
    workers,
    maxWorkers,
    poolThreads,
    poolMaxQueue: given('poolMaxQueue') ?? defaultPoolMaxQueue(poolThreads),
    poolIdleTimeout: given('poolIdleTimeout') ?? DEFAULTS.poolIdleTimeout,
    poolThreadMemory,
    poolTaskTimeout: given('poolTaskTimeout') ?? DEFAULTS.poolTaskTimeout,
    metricsPort: given('metricsPort') ?? DEFAULTS.metricsPort,
    metricsHost: given('metricsHost') ?? DEFAULTS.metricsHost,
    metricsTimeout,
    metricsWorkerWait,
    shutdownTimeout: given('shutdownTimeout') ?? DEFAULTS.shutdownTimeout,
    idleTimeout: given('idleTimeout'),
    maxConnections: given('maxConnections'),
    maxConnectionsPerWorker: given('maxConnectionsPerWorker'),
    maxConnectionsPerIp,
    maxWorkerRss: given('maxWorkerRss'),
    crashLoopDeaths: given('crashLoopDeaths') ?? DEFAULTS.crashLoopDeaths,
    crashLoopWindow: given('crashLoopWindow') ?? DEFAULTS.crashLoopWindow,
    highWaterMark,
    lowWaterMark,
    metricsToken: given('metricsToken'),
    services: Object.freeze([...services]),
    poolOverload: given('poolOverload') ?? DEFAULTS.poolOverload,
    shutdownDelay: given('shutdownDelay'),
    balance,
    logLevel: given('logLevel') ?? DEFAULTS.logLevel,
    logFormat: given('logFormat') ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    heartbeatTimeout,
    heartbeatKillTimeout,
  });
}

/** The services a config file declares, or the default service. */
function servicesFromConfig(raw: unknown): readonly ServiceConfig[] {
  if (raw === undefined) return [normalizeService({}, 'service')];
  if (!Array.isArray(raw) || raw.length === 0) throw new InvalidOptionError(`config key 'services' must be a non-empty array`);
  return raw.map((s, i) => normalizeService(s, `services[${i}]`));
}
