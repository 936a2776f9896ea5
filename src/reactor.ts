import type { Endpoint } from './shared/net/endpoint.js';
import type { Factory } from './shared/protocol/factory.js';
import type { BoundEndpoint } from './shared/ipc.js';
import { Reactor, type ReactorOptions } from './worker/reactor.js';

export { Reactor, type ReactorOptions };

let instance: Reactor | undefined;

/** The process's reactor, created on first use (importing skein starts nothing). */
function current(): Reactor {
  return (instance ??= new Reactor());
}

/**
 * The single-process reactor, for development and tests: Twisted's last two lines.
 *
 * ```ts
 * await listenTCP(9000, new MyFactory());
 * await reactor.run();
 * ```
 */
export const reactor = {
  /** Listens on an endpoint string (`tcp:9000`) or object. */
  listen(endpoint: string | Endpoint, factory: Factory): Promise<BoundEndpoint> {
    return current().listen(endpoint, factory);
  },
  /** Resolves when the reactor is stopped. */
  run(): Promise<void> {
    return current().run();
  },
  /** Closes listeners and connections (`connectionLost` gets a ShutdownError). */
  stop(): Promise<void> {
    const r = instance;
    instance = undefined;
    return r ? r.stop() : Promise.resolve();
  },
  /** Stops accepting and lets connections finish for up to `timeoutSeconds`. */
  drain(timeoutSeconds: number): Promise<void> {
    const r = instance;
    instance = undefined;
    return r ? r.drain(timeoutSeconds * 1000) : Promise.resolve();
  },
};

/** Listens on TCP `port` (0: any free port) with `factory` in this process. Twisted's `reactor.listenTCP`. */
export function listenTCP(port: number, factory: Factory, options: { interface?: string; backlog?: number } = {}): Promise<BoundEndpoint> {
  return current().listen({ kind: options.interface?.includes(':') ? 'tcp6' : 'tcp', port, ...(options.interface ? { host: options.interface } : {}), ...(options.backlog ? { backlog: options.backlog } : {}) }, factory);
}

/** Listens on an endpoint string in this process. */
export function listen(endpoint: string | Endpoint, factory: Factory): Promise<BoundEndpoint> {
  return current().listen(endpoint, factory);
}
