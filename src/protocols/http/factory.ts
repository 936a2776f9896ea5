/**
 * The factory of the `http` protocol: resolves the service's limits, loads the
 * handler (a function, or a module named by the `handler` service option), and
 * runs the timeout sweep shared by its connections.
 */
import { realClock } from '../../shared/protocol/clock.js';
import { InvalidOptionError, ModuleLoadError } from '../../shared/protocol/errors.js';
import { Factory } from '../../shared/protocol/factory.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { resolveHttpLimits, type HttpLimits } from './limits.js';
import { HttpProtocol, type HttpHandler, type HttpService } from './protocol.js';
import type { HttpRequest } from './request.js';
import { timeoutSweep, type TimeoutSweep } from './timeouts.js';
import { importModule, moduleUrl } from '../../shared/config/loader.js';

/** How to build an {@link HttpFactory} from code. */
export interface HttpFactoryInit {
  /** The handler; or set the `handler` service option to a module path. */
  handler?: HttpHandler;
  /** Module of processors the handler may offload to. */
  processors?: string | URL;
  /** Limits and other service options (as the config file's `options`). */
  options?: Record<string, unknown>;
}

/**
 * Serves HTTP/1.1 with a handler:
 *
 * ```ts
 * export default new HttpFactory({ handler: (req) => ({ body: `hello ${req.path}\n` }) });
 * ```
 *
 * Service options: every {@link HttpLimits} field, and `handler`: a module
 * path (relative to the working directory) whose default export is the
 * handler and whose optional `processors` export names its processors module.
 */
export class HttpFactory extends Factory<HttpProtocol> implements HttpService {
  override protocol = HttpProtocol;
  /** Answers each request; the `handler` service option, when set, replaces it in `startFactory`. */
  handler: HttpHandler;
  private resolvedLimits: HttpLimits | undefined;
  private currentSweep: TimeoutSweep | undefined;
  private fields: string | undefined;
  private log: Logger | undefined;

  constructor(init: HttpFactoryInit = {}) {
    super();
    this.handler = init.handler ?? notFound;
    if (init.processors !== undefined) this.processors = init.processors;
    if (init.options) this.options = init.options;
  }

  /** The resolved limits (service options over the defaults). */
  get limits(): HttpLimits {
    return (this.resolvedLimits ??= resolveHttpLimits(this.options));
  }

  /** @internal */
  get sweep(): TimeoutSweep {
    return (this.currentSweep ??= timeoutSweep(this.limits, () => this.reactor?.clock ?? realClock));
  }

  /** @internal */
  get keepAliveFields(): string {
    return (this.fields ??= `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.limits.keepAliveTimeout)}\r\n`);
  }

  /**
   * Validates the limits and loads the `handler` module, if the service names one.
   * @throws InvalidOptionError for a bad limit; ModuleLoadError for a handler module that cannot be used.
   */
  override async startFactory(): Promise<void> {
    this.resolvedLimits = resolveHttpLimits(this.options);
    // Built from the limits: rebuild them from the options as merged now.
    this.fields = undefined;
    this.currentSweep = undefined;
    const spec = this.options.handler;
    if (spec === undefined) return;
    if (typeof spec !== 'string' || spec.length === 0) throw new InvalidOptionError('options.handler must be a module path');
    const module = await importHandler(spec);
    const handler = module.default;
    if (typeof handler !== 'function') throw new ModuleLoadError(`handler module '${spec}' must default-export a function (request) => response`);
    this.handler = handler as HttpHandler;
    if (typeof module.processors === 'string' || module.processors instanceof URL) this.processors = module.processors;
  }

  /** @internal A handler threw or rejected: its request was answered 500. */
  handlerFailed(error: unknown, request: HttpRequest): void {
    (this.log ??= createLogger({ role: 'http', protocol: this.protocolName })).warn(
      { err: error, method: request.method, url: request.url },
      'http handler failed; answered 500',
    );
  }
}

function notFound(): { status: number; body: string } {
  return { status: 404, body: 'Not Found\n' };
}

/** Imports a handler module (a path relative to the working directory, or a file URL). */
async function importHandler(spec: string): Promise<Record<string, unknown>> {
  try {
    return await importModule(moduleUrl(spec).href);
  } catch (error) {
    throw new ModuleLoadError(`cannot load handler module '${spec}': ${(error as Error).message}`, { cause: error });
  }
}
