import { fileURLToPath } from 'node:url';
import { readConfigFile } from './shared/config/config-file.js';
import { InvalidOptionError } from './shared/protocol/errors.js';
import { isFactory, type Factory } from './shared/protocol/factory.js';
import { execArgvFor, ownModule } from './shared/config/loader.js';
import { normalizeService, OPTION_SPECS, resolveOptions, type ServerOptions, type ServiceConfig } from './shared/config/options.js';
import type { RunningServer } from './master/server.js';
import type { ServerOptionFields } from './shared/config/serve-options.js';
import { isSkeinWorker, runWorker } from './worker/main.js';

export type { RunningServer };

/**
 * Options of {@link serve}: the command line's, as an object (numbers in their units: seconds, bytes, MiB),
 * and what to serve.
 */
export interface ServeOptions extends ServerOptionFields {
  /** A factory object: workers run the calling script and use this factory. */
  factory?: Factory;
  /** A built-in protocol name or a module path (instead of `factory`). */
  protocol?: string;
  /** Endpoint strings for the protocol (default `tcp:9000`). */
  listen?: string | string[];
  /** Short for `listen: 'tcp:PORT'`. */
  port?: number;
  /** Options handed to the factory (`factory.options`). */
  protocolOptions?: Record<string, unknown>;
  /** Several services in one server (instead of `factory`/`protocol`). */
  services?: Array<Partial<ServiceConfig>>;
  /** A JSON config file (lower precedence than these options and the environment). */
  config?: string;
  /** Drain and exit on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
}

const WORKER_ENTRY = fileURLToPath(ownModule('./worker/entry', import.meta.url));

/**
 * Runs a server on every core from the user's own script, as `skein serve`
 * does: the calling process becomes the primary and forks the workers.
 *
 * With `factory`, workers run the calling script again and `serve()` there
 * runs the worker side with that factory (it resolves `undefined` in workers).
 *
 * @throws InvalidOptionError for a bad option; rejects when the server cannot start.
 */
export async function serve(opts: ServeOptions = {}): Promise<RunningServer | undefined> {
  const name = opts.services?.[0]?.name ?? (opts.factory ? 'default' : undefined);
  if (isSkeinWorker()) {
    const factories = new Map<string, Factory>();
    if (opts.factory) factories.set(name ?? 'default', opts.factory);
    await runWorker(factories);
    return undefined;
  }
  const options = resolveServeOptions(opts);
  return startServing(options, { ...(opts.factory ? { script: process.argv[1]! } : {}), handleSignals: opts.handleSignals ?? true });
}

/**
 * Starts the primary for resolved options (`skein serve` and `serve()` both
 * come here). Workers run skein's worker entry, or `script` (the user's own,
 * for `serve({ factory })`), with tsx's loader when a module is TypeScript.
 */
export async function startServing(options: ServerOptions, how: { readonly script?: string; readonly handleSignals: boolean }): Promise<RunningServer> {
  // The primary's logger and the workers' (which inherit the environment) read these.
  process.env.SKEIN_LOG_LEVEL = options.logLevel;
  process.env.SKEIN_LOG_FORMAT = options.logFormat;
  // The primary's code is loaded only where a primary starts: a worker whose protocol module imports
  // `skein` does not load it at each start (about 15 ms of CPU, paid again at every rolling reload).
  const { startServer } = await import('./master/server.js');
  return startServer({
    options,
    exec: how.script ?? WORKER_ENTRY,
    execArgv: execArgvFor(options.services.map((s) => s.protocol)),
    handleSignals: how.handleSignals,
  });
}

/** Merges `serve()` options with the environment and a config file. */
export function resolveServeOptions(opts: ServeOptions): ServerOptions {
  if (opts.factory !== undefined && !isFactory(opts.factory)) {
    throw new InvalidOptionError('options.factory must be a skein Factory');
  }
  const listen = opts.port !== undefined ? [`tcp:${opts.port}`] : typeof opts.listen === 'string' ? [opts.listen] : opts.listen;
  let services: ServiceConfig[] | undefined;
  if (opts.services) services = opts.services.map((s, i) => normalizeService(s, `options.services[${i}]`));
  else if (opts.factory || opts.protocol || listen) {
    services = [
      normalizeService(
        {
          ...(opts.factory ? { name: 'default', protocol: 'factory' } : { protocol: opts.protocol ?? 'processed' }),
          ...(listen ? { listen } : {}),
          ...(opts.protocolOptions ? { options: opts.protocolOptions } : {}),
        },
        'options',
      ),
    ];
  }
  const api: Record<string, unknown> = {};
  for (const key of Object.keys(OPTION_SPECS) as Array<keyof typeof OPTION_SPECS>) if (opts[key] !== undefined) api[key] = opts[key];
  return resolveOptions({
    api,
    env: process.env,
    ...(opts.config ? { config: readConfigFile(opts.config) } : {}),
    ...(services ? { services } : {}),
  });
}
