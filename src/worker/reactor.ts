import type { Socket } from 'node:net';
import type { Address } from '../shared/protocol/address.js';
import { realClock, type Clock } from '../shared/protocol/clock.js';
import type { Endpoint } from '../shared/net/endpoint.js';
import type { WaterMarks } from '../shared/net/socket-transport.js';
import { DEFAULTS, defaultLowWaterMark } from '../shared/config/defaults.js';
import { resolvePoolSettings, type PoolSettings, type ReactorSettings } from '../shared/config/option-table.js';
import { ProtocolCallbackError } from '../shared/protocol/errors.js';
import type { Factory } from '../shared/protocol/factory.js';
import type { BoundEndpoint } from '../shared/ipc.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { OffloadRequest, ReactorServices } from '../shared/protocol/services.js';
import { Admission } from './admission.js';
import { Connection, type ConnectionOwner } from './connection.js';
import { Listeners } from './listeners.js';
import { WorkerMetrics } from './metrics.js';
import { OpenConnections } from './open-connections.js';
import { OffloadPool } from './pool/offload-pool.js';
import type { ProtocolStats } from './stats.js';
import { ignoreError } from '../shared/net/ignore-error.js';

/**
 * Tunables of one reactor. All optional; defaults are the server's (`DEFAULTS`),
 * and the pool's come from `resolvePoolSettings` (one thread per core, queue threads², `pause`).
 */
export interface ReactorOptions extends Partial<Omit<ReactorSettings, 'pool'>> {
  /** The offload pool's sizing and policy (defaults: one thread per core, a queue of threads², `pause`). */
  readonly pool?: Partial<PoolSettings>;
  /** Where the reactor logs (default: a pino logger on stdout). */
  readonly log?: Logger;
  /** The clock timers run on (default: the real one; tests pass a fake). */
  readonly clock?: Clock;
  /** @internal Called just before each listener binds (a worker tells its primary, which may hold the port). */
  readonly beforeBind?: (endpoint: Endpoint) => void;
}

/** How long aborted sockets get to report 'close' before the reactor stops anyway. */
const CLOSE_GRACE_MS = 1000;

/**
 * The reactor: owns listeners and sockets, runs one protocol per connection,
 * and lends factories a clock and the offload pool. One per worker process
 * (or one per process with `listenTCP` / `reactor.run()`). Its jobs live
 * beside it: listening and preambles (listeners.ts), admission limits
 * (admission.ts), what is open, the idle sweep and the wait for a drain
 * (open-connections.ts), one connection (connection.ts).
 */
export class Reactor implements ReactorServices {
  /** The clock timers run on. */
  readonly clock: Clock;
  /** Where the reactor logs. */
  readonly log: Logger;
  /** @internal The worker's plain counters, copied into prom-client when a scrape collects. */
  readonly metrics: WorkerMetrics;
  private readonly listeners: Listeners;
  private readonly open: OpenConnections;
  private readonly admission: Admission;
  /** Hears each connection close: one object per reactor, not a closure per connection. */
  private readonly owner: ConnectionOwner = {
    connectionClosed: (connection) => {
      this.open.delete(connection);
      this.admission.leave(connection.transport.getPeer());
    },
  };
  private readonly pool: OffloadPool;
  private readonly marks: WaterMarks;
  private readonly timeMessages: boolean;
  private draining = false;
  /** Past the drain deadline: what is left is closed, and new sockets are refused. */
  private closingAll = false;
  private stopped: Promise<void> | undefined;
  /** When a drain gives up waiting for connections (epoch ms). */
  private drainDeadline = Infinity;
  private resolveRun: (() => void) | undefined;

  constructor(options: ReactorOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.log = options.log ?? createLogger({ role: 'reactor' });
    const high = options.highWaterMark ?? DEFAULTS.highWaterMark;
    this.marks = Object.freeze({ high, low: options.lowWaterMark ?? defaultLowWaterMark(high) });
    this.timeMessages = options.metrics ?? true;
    this.metrics = new WorkerMetrics({ runtime: this.timeMessages });
    this.pool = new OffloadPool(resolvePoolSettings(options.pool), this.log, this.metrics.observeOffload);
    this.metrics.watchPool(this.pool);
    this.admission = new Admission(options.maxConnections, options.maxConnectionsPerIp);
    this.open = new OpenConnections(options.idleTimeout, this.clock);
    this.listeners = new Listeners({
      log: this.log,
      services: this,
      beforeBind: options.beforeBind ?? (() => {}),
      stats: (service) => this.metrics.service(service),
      usesPool: (service) => this.pool.register(service),
      isClosing: () => this.closingAll,
      preambleStarted: (raw) => this.open.preambleStarted(raw),
      preambleEnded: (raw) => this.open.preambleEnded(raw),
      accept: (socket, factory, stats, peer) => this.accept(socket, factory, stats, peer),
    });
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.open.size;
  }

  /** True once `drain` or `stop` began. */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Starts `factory` (once) and listens on `endpoint`.
   * @throws ListenError when the address is in use or cannot be bound.
   */
  listen(endpoint: string | Endpoint, factory: Factory, service = factory.protocolName): Promise<BoundEndpoint> {
    return this.listeners.listen(endpoint, factory, service);
  }

  /**
   * Starts `factory` (once) for an endpoint that someone else accepts on (the
   * primary, under `--balance least-connections` or `client-hash`): sockets
   * arrive through {@link Reactor.adopt} with this listener's index. Twisted's
   * `adoptStreamConnection`.
   */
  register(endpoint: string | Endpoint, factory: Factory, service = factory.protocolName): Promise<number> {
    return this.listeners.register(endpoint, factory, service);
  }

  /**
   * Runs an accepted socket exactly as if listener `index` had accepted it:
   * its preamble (PROXY header, TLS), limits, then a protocol; first bytes included.
   */
  adopt(index: number, socket: Socket): void {
    this.listeners.adopt(index, socket);
  }

  /**
   * Runs one offloaded task on the pool. While the pool queue is full the
   * task waits and its connection stops reading (policy `pause`), or it
   * rejects with OffloadOverloadError (policy `reject`).
   */
  offload(request: OffloadRequest): Promise<unknown> {
    return this.pool.run(request);
  }

  /**
   * Drains: stops accepting (closing a listener in a cluster worker also stops
   * the primary handing it connections), calls each factory's `stopFactory`,
   * asks each protocol to close at a safe point (its `drain` hook), and waits
   * for connections to end (offloaded work finishes and its replies go out).
   * Whatever is still open after `timeoutMs` is closed with
   * `connectionLost(ShutdownError)`. Called again while draining, it can only
   * bring the deadline forward (0: now).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.drainDeadline = Math.min(this.drainDeadline, Date.now() + Math.max(0, timeoutMs));
    this.open.hurry(this.drainDeadline);
    if (this.stopped) return this.stopped;
    this.draining = true;
    this.stopped = (async () => {
      this.listeners.close();
      await this.listeners.stopFactories();
      for (const connection of this.open) connection.drain();
      await this.open.ended(this.drainDeadline);
      this.closingAll = true;
      this.open.closeAll();
      // Sockets report 'close' (and protocols hear connectionLost) on a later turn.
      await this.open.ended(Date.now() + CLOSE_GRACE_MS);
      this.open.stopSweep();
      await this.pool.close();
      this.resolveRun?.();
    })();
    return this.stopped;
  }

  /** Resolves when the reactor stops (Twisted's `reactor.run()`). */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.resolveRun = resolve;
      if (this.stopped) void this.stopped.then(resolve);
    });
  }

  /** Stops at once: closes listeners and every connection with `ShutdownError`. */
  stop(): Promise<void> {
    return this.drain(0);
  }

  /** A socket through its preamble: admission limits, then the factory's protocol, then a Connection. */
  private accept(socket: Socket, factory: Factory, stats: ProtocolStats, peer: Address): void {
    socket.on('error', ignoreError);
    const refusal = this.admission.refusal(peer, this.open.size);
    if (refusal) {
      stats.reject(refusal);
      socket.destroy();
      return;
    }
    let protocol;
    try {
      protocol = factory.buildProtocol(peer);
    } catch (error) {
      stats.error(ProtocolCallbackError.code);
      this.log.warn({ err: error, protocol: stats.protocol }, 'buildProtocol threw; connection refused');
      socket.destroy();
      return;
    }
    if (!protocol) {
      stats.reject('refused_by_factory');
      socket.destroy();
      return;
    }
    protocol.factory ??= factory;
    this.admission.enter(peer);
    const connection = new Connection(socket, peer, protocol, stats, this.marks, this.log, this.clock, this.timeMessages, this.owner);
    this.open.add(connection);
    connection.start();
    // Its preamble finished after a drain began: it hears the drain now.
    if (this.draining) connection.drain();
  }
}
