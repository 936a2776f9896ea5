import { availableParallelism } from 'node:os';
import { parseEndpoint } from '../net/endpoint.js';
import { InvalidOptionError } from '../protocol/errors.js';

/** The connection-distribution policies (`--balance`). */
export const BALANCE_POLICIES = ['round-robin', 'least-connections', 'client-hash'] as const;
export type BalancePolicy = (typeof BALANCE_POLICIES)[number];

/**
 * Server options: one table, one typed defaults object, merged once and frozen.
 * Precedence: command-line flag > `SKEIN_*` environment variable > config file > default.
 */

/** One service: a protocol served on one or more endpoints. */
export interface ServiceConfig {
  /** Name used in logs and the `protocol` metric label (defaults to the protocol's name). */
  readonly name: string;
  /** Built-in protocol name (`processed`, `lines`, …) or a module path (.js, .mjs, .ts). */
  readonly protocol: string;
  /** Endpoint strings (`tcp:9000`, `unix:/path`, …). */
  readonly listen: readonly string[];
  /** Protocol-specific options, handed to the factory as `factory.options`. */
  readonly options: Readonly<Record<string, unknown>>;
}

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
  readonly poolOverload: 'pause' | 'reject'; // what a full pool queue does to a new task
  readonly shutdownDelay: number | undefined; // seconds not ready but still serving, before a shutdown drains
  readonly balance: BalancePolicy; // how connections are spread over workers
  readonly heartbeatTimeout: number; // seconds without a worker heartbeat before it is not ready
  readonly heartbeatKillTimeout: number; // seconds without a heartbeat before the worker is killed and replaced
}

type Kind = 'count' | 'natural' | 'seconds' | 'port' | 'string' | 'bytes';

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly doc: string;
  /** For string options: the values allowed. */
  readonly choices?: readonly string[];
}

/** The option table: flag, environment variable and config key of every scalar option. */
export const OPTION_SPECS = {
  workers: { flag: 'workers', env: 'SKEIN_WORKERS', kind: 'count', doc: 'worker processes' },
  maxWorkers: { flag: 'max-workers', env: 'SKEIN_MAX_WORKERS', kind: 'count', doc: 'most workers --workers and SIGTTIN may ask for (default 4 × cores)' },
  poolThreads: { flag: 'pool-threads', env: 'SKEIN_POOL_THREADS', kind: 'count', doc: 'piscina threads per worker' },
  poolMaxQueue: { flag: 'pool-max-queue', env: 'SKEIN_POOL_MAX_QUEUE', kind: 'count', doc: 'queued tasks per worker before backpressure' },
  poolIdleTimeout: { flag: 'pool-idle-timeout', env: 'SKEIN_POOL_IDLE_TIMEOUT', kind: 'seconds', doc: 'seconds before an idle pool thread exits' },
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
  lowWaterMark: { flag: 'low-water-mark', env: 'SKEIN_LOW_WATER_MARK', kind: 'bytes', doc: 'unsent bytes below which reading resumes' },
  metricsToken: { flag: 'metrics-token', env: 'SKEIN_METRICS_TOKEN', kind: 'string', doc: 'bearer token required by /metrics (prefer the env variable)' },
  poolOverload: { flag: 'pool-overload', env: 'SKEIN_POOL_OVERLOAD', kind: 'string', choices: ['pause', 'reject'], doc: 'full pool queue: pause reading, or reject the task' },
  balance: { flag: 'balance', env: 'SKEIN_BALANCE', kind: 'string', choices: BALANCE_POLICIES, doc: 'round-robin (node:cluster), least-connections or client-hash' },
  heartbeatTimeout: { flag: 'heartbeat-timeout', env: 'SKEIN_HEARTBEAT_TIMEOUT', kind: 'seconds', doc: 'seconds a worker\'s event loop may miss its heartbeat before the worker is not ready' },
  heartbeatKillTimeout: { flag: 'heartbeat-kill-timeout', env: 'SKEIN_HEARTBEAT_KILL_TIMEOUT', kind: 'seconds', doc: 'seconds without a heartbeat before the worker is killed and replaced' },
  shutdownDelay: { flag: 'shutdown-delay', env: 'SKEIN_SHUTDOWN_DELAY', kind: 'seconds', doc: 'on SIGTERM, seconds /readyz is 503 while still serving, before draining' },
} as const satisfies Record<string, OptionSpec>;

export type ScalarOptionName = keyof typeof OPTION_SPECS;

/** Defaults that do not depend on other options. */
export const DEFAULTS = Object.freeze({
  metricsPort: 9100,
  metricsHost: '127.0.0.1',
  workersPerCore: 4, // the default --max-workers is this × cores
  metricsTimeout: 5, // seconds: below Prometheus' default 10 s scrape timeout
  metricsWorkerWait: 0.1, // seconds: a stuck worker costs a scrape no more than this
  shutdownTimeout: 10, // seconds
  poolIdleTimeout: 30, // seconds
  crashLoopDeaths: 5,
  crashLoopWindow: 10, // seconds
  heartbeatTimeout: 5, // seconds: a worker whose event loop is stuck this long takes no new connections
  heartbeatKillTimeout: 30, // seconds: … and is replaced after this long
  highWaterMark: 64 * 1024, // bytes
  lowWaterMark: 16 * 1024, // bytes
  protocol: 'processed',
  listen: 'tcp:9000',
  poolOverload: 'pause',
  balance: 'round-robin',
});

/** Where a raw value came from, for error messages. */
export type OptionSource = 'flag' | 'env' | 'config' | 'api';

function describe(name: ScalarOptionName, source: OptionSource): string {
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
export function parseOptionValue(name: ScalarOptionName, raw: unknown, source: OptionSource): number | string {
  const spec: OptionSpec = OPTION_SPECS[name];
  const where = describe(name, source);
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
    case 'bytes':
      if (!Number.isInteger(n) || n < 0) throw new InvalidOptionError(`${where} must be a non-negative integer (got ${shown})`);
      return n;
    case 'port':
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidOptionError(`${where} must be a port number 0-65535 (got ${shown})`);
      return n;
    case 'seconds':
      if (!Number.isFinite(n) || n <= 0) throw new InvalidOptionError(`${where} must be a positive number of seconds (got ${shown})`);
      return n;
  }
}

/** The options as given, by source, before merging. */
export interface OptionLayers {
  readonly flags?: Partial<Record<ScalarOptionName, string>>;
  readonly env?: NodeJS.ProcessEnv;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly api?: Readonly<Record<string, unknown>>;
  readonly services?: readonly ServiceConfig[];
}

/** Validates a service entry (from a config file or `serve()`), filling in its name. */
export function normalizeService(raw: unknown, where: string): ServiceConfig {
  if (typeof raw !== 'object' || raw === null) throw new InvalidOptionError(`${where} must be an object`);
  const entry = raw as Record<string, unknown>;
  const protocol = entry.protocol ?? DEFAULTS.protocol;
  if (typeof protocol !== 'string' || protocol.length === 0) {
    throw new InvalidOptionError(`${where}.protocol must be a protocol name or module path`);
  }
  const listenRaw = entry.listen ?? [DEFAULTS.listen];
  const listen = typeof listenRaw === 'string' ? [listenRaw] : listenRaw;
  if (!Array.isArray(listen) || listen.length === 0 || !listen.every((e) => typeof e === 'string')) {
    throw new InvalidOptionError(`${where}.listen must be an endpoint string or a non-empty array of them`);
  }
  for (const e of listen as string[]) {
    try {
      parseEndpoint(e);
    } catch (error) {
      throw new InvalidOptionError(`${where}.listen: ${(error as Error).message}`);
    }
  }
  const options = entry.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`${where}.options must be an object`);
  }
  const name = entry.name ?? defaultServiceName(protocol);
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new InvalidOptionError(`${where}.name must be a simple name (letters, digits, _ . -)`);
  }
  return Object.freeze({ name, protocol, listen: Object.freeze([...(listen as string[])]), options: Object.freeze({ ...options }) });
}

/** `processed` for a built-in, `echo` for `./protocols/echo.ts`. */
export function defaultServiceName(protocol: string): string {
  const base = protocol.split(/[\\/]/).pop() ?? protocol;
  return base.replace(/\.(m?js|ts|mts|cjs)$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'service';
}

/**
 * Merges option layers into frozen {@link ServerOptions}.
 * @throws InvalidOptionError naming the first bad option.
 */
export function resolveOptions(layers: OptionLayers): ServerOptions {
  const out: Record<string, unknown> = {};
  const config = layers.config ?? {};
  for (const key of Object.keys(config)) {
    if (key === 'services') continue;
    if (!(key in OPTION_SPECS)) {
      throw new InvalidOptionError(`config key '${key}' is not an option (known: ${[...Object.keys(OPTION_SPECS), 'services'].join(', ')})`);
    }
  }
  const sources: Partial<Record<ScalarOptionName, OptionSource>> = {};
  for (const name of Object.keys(OPTION_SPECS) as ScalarOptionName[]) {
    const spec = OPTION_SPECS[name];
    const flag = layers.flags?.[name];
    const env = layers.env?.[spec.env];
    const api = layers.api?.[name];
    if (flag !== undefined) out[name] = parseOptionValue(name, flag, (sources[name] = 'flag'));
    else if (api !== undefined) out[name] = parseOptionValue(name, api, (sources[name] = 'api'));
    else if (env !== undefined && env !== '') out[name] = parseOptionValue(name, env, (sources[name] = 'env'));
    else if (config[name] !== undefined) out[name] = parseOptionValue(name, config[name], (sources[name] = 'config'));
  }
  const workers = (out.workers as number | undefined) ?? availableParallelism();
  const maxWorkers = (out.maxWorkers as number | undefined) ?? DEFAULTS.workersPerCore * availableParallelism();
  if (workers > maxWorkers) {
    // Each worker is a process with its own heap: a typo must not fork thousands of them.
    const given = out.maxWorkers === undefined ? `${DEFAULTS.workersPerCore} × ${availableParallelism()} cores` : describe('maxWorkers', sources.maxWorkers!);
    throw new InvalidOptionError(
      `${describe('workers', sources.workers!)} must be at most ${maxWorkers} (${given}; raise --max-workers to allow more) (got ${workers})`,
    );
  }
  const poolThreads = (out.poolThreads as number | undefined) ?? Math.max(1, Math.floor(availableParallelism() / workers));
  const highWaterMark = (out.highWaterMark as number | undefined) ?? DEFAULTS.highWaterMark;
  const lowWaterMark = (out.lowWaterMark as number | undefined) ?? Math.min(DEFAULTS.lowWaterMark, Math.floor(highWaterMark / 4));
  if (lowWaterMark > highWaterMark) {
    throw new InvalidOptionError(`low-water-mark (${lowWaterMark}) must not exceed high-water-mark (${highWaterMark})`);
  }
  const heartbeatTimeout = (out.heartbeatTimeout as number | undefined) ?? DEFAULTS.heartbeatTimeout;
  const heartbeatKillTimeout = (out.heartbeatKillTimeout as number | undefined) ?? Math.max(DEFAULTS.heartbeatKillTimeout, 2 * heartbeatTimeout);
  if (heartbeatKillTimeout <= heartbeatTimeout) {
    throw new InvalidOptionError(`heartbeat-kill-timeout (${heartbeatKillTimeout}) must exceed heartbeat-timeout (${heartbeatTimeout})`);
  }
  let services = layers.services;
  if (!services || services.length === 0) {
    const raw = config.services;
    if (raw !== undefined) {
      if (!Array.isArray(raw) || raw.length === 0) throw new InvalidOptionError(`config key 'services' must be a non-empty array`);
      services = raw.map((s, i) => normalizeService(s, `services[${i}]`));
    } else {
      services = [normalizeService({}, 'service')];
    }
  }
  const metricsTimeout = (out.metricsTimeout as number | undefined) ?? DEFAULTS.metricsTimeout;
  const metricsWorkerWait = (out.metricsWorkerWait as number | undefined) ?? Math.min(DEFAULTS.metricsWorkerWait, metricsTimeout);
  if (metricsWorkerWait > metricsTimeout) {
    throw new InvalidOptionError(`metrics-worker-wait (${metricsWorkerWait} s) must not exceed metrics-timeout (${metricsTimeout} s)`);
  }
  const balance = (out.balance as BalancePolicy | undefined) ?? DEFAULTS.balance;
  if (balance !== 'round-robin') checkBalanceCombinations(balance, services, out.maxConnectionsPerIp !== undefined);
  const names = new Set<string>();
  for (const s of services) {
    if (names.has(s.name)) throw new InvalidOptionError(`two services are named '${s.name}': give one a distinct name`);
    names.add(s.name);
  }
  return Object.freeze({
    workers,
    maxWorkers,
    poolThreads,
    poolMaxQueue: (out.poolMaxQueue as number | undefined) ?? poolThreads * poolThreads,
    poolIdleTimeout: (out.poolIdleTimeout as number | undefined) ?? DEFAULTS.poolIdleTimeout,
    metricsPort: (out.metricsPort as number | undefined) ?? DEFAULTS.metricsPort,
    metricsHost: (out.metricsHost as string | undefined) ?? DEFAULTS.metricsHost,
    metricsTimeout,
    metricsWorkerWait,
    shutdownTimeout: (out.shutdownTimeout as number | undefined) ?? DEFAULTS.shutdownTimeout,
    idleTimeout: out.idleTimeout as number | undefined,
    maxConnections: out.maxConnections as number | undefined,
    maxConnectionsPerWorker: out.maxConnectionsPerWorker as number | undefined,
    maxConnectionsPerIp: out.maxConnectionsPerIp as number | undefined,
    maxWorkerRss: out.maxWorkerRss as number | undefined,
    crashLoopDeaths: (out.crashLoopDeaths as number | undefined) ?? DEFAULTS.crashLoopDeaths,
    crashLoopWindow: (out.crashLoopWindow as number | undefined) ?? DEFAULTS.crashLoopWindow,
    highWaterMark,
    lowWaterMark,
    metricsToken: out.metricsToken as string | undefined,
    services: Object.freeze([...services]),
    poolOverload: (out.poolOverload as 'pause' | 'reject' | undefined) ?? DEFAULTS.poolOverload,
    shutdownDelay: out.shutdownDelay as number | undefined,
    balance,
    heartbeatTimeout,
    heartbeatKillTimeout,
  });
}

/**
 * The primary accepts for `least-connections` and `client-hash` and sees only the
 * socket's address. Behind a PROXY endpoint that is the proxy's, so hashing or
 * limiting by client address there would be wrong: refuse those combinations.
 */
function checkBalanceCombinations(balance: BalancePolicy, services: readonly ServiceConfig[], perIp: boolean): void {
  for (const service of services) {
    for (const text of service.listen) {
      if (!parseEndpoint(text).proxy) continue;
      if (balance === 'client-hash') {
        throw new InvalidOptionError(
          `--balance client-hash cannot be combined with the PROXY endpoint '${text}': the primary sees the proxy's address, not the client's (use least-connections or round-robin)`,
        );
      }
      if (perIp) {
        throw new InvalidOptionError(
          `--max-connections-per-ip with --balance ${balance} cannot be combined with the PROXY endpoint '${text}': the primary sees the proxy's address (use --balance round-robin, where workers limit by the real client address)`,
        );
      }
    }
  }
}
