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
  type PoolOverload,
} from './defaults.js';
import { OPTION_SPECS, optionName, parseOptionValue, type OptionValue, type ScalarOptionName } from './option-table.js';
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
  readonly workers: number; // processes
  readonly maxWorkers: number; // the most --workers and SIGTTIN may reach (default 4 × cores)
  readonly poolThreads: number; // piscina threads per worker
  readonly poolMaxQueue: number; // queued tasks per worker before backpressure
  readonly poolIdleTimeout: number; // seconds before an idle pool thread exits
  readonly metricsPort: number; // 0 turns the endpoint off
  readonly metricsHost: string;
  readonly metricsTimeout: number; // seconds, scrape deadline
  readonly metricsWorkerWait: number; // seconds a scrape waits for each worker before answering from its last report
  readonly shutdownTimeout: number; // seconds, drain budget
  readonly idleTimeout: number | undefined; // seconds
  readonly maxConnections: number | undefined; // whole server
  readonly maxConnectionsPerWorker: number | undefined;
  readonly maxConnectionsPerIp: number | undefined;
  readonly maxWorkerRss: number | undefined; // MiB
  readonly crashLoopDeaths: number; // deaths …
  readonly crashLoopWindow: number; // … within this many seconds stop the server
  readonly highWaterMark: number; // bytes of unsent output that pause reading
  readonly lowWaterMark: number; // bytes below which reading resumes
  readonly metricsToken: string | undefined; // bearer token /metrics requires (none: open)
  readonly services: readonly ServiceConfig[];
  readonly poolOverload: PoolOverload; // what a full pool queue does to a new task
  readonly shutdownDelay: number | undefined; // seconds not ready but still serving, before a shutdown drains
  readonly balance: BalancePolicy; // how connections are spread over workers
  readonly heartbeatTimeout: number; // seconds without a worker heartbeat before it is not ready
  readonly heartbeatKillTimeout: number; // seconds without a heartbeat before the worker is killed and replaced
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
