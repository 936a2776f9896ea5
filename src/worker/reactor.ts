import type { Server, Socket } from 'node:net';
import type { Address } from '../shared/protocol/address.js';
import { realClock, type Clock, type DelayedCall } from '../shared/protocol/clock.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../shared/net/endpoint.js';
import { listen, type BoundAddress } from '../shared/net/listen.js';
import type { Factory } from '../shared/protocol/factory.js';
import type { BoundEndpoint } from '../shared/ipc.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { OffloadRequest, ReactorServices } from '../shared/protocol/services.js';
import { Connection } from './connection.js';
import { WorkerMetrics } from './metrics.js';
import { OffloadPool } from './pool/offload-pool.js';
import { DEFAULTS, defaultLowWaterMark } from '../shared/config/defaults.js';
import { resolvePoolSettings, type PoolSettings, type ReactorSettings } from '../shared/config/option-table.js';
import type { WaterMarks } from '../shared/net/socket-transport.js';
import { Preamble } from './preamble.js';
import type { ProtocolStats } from './stats.js';

/**
 * Tunables of one reactor. All optional; defaults are the server's (`DEFAULTS`),
 * and the pool's come from `resolvePoolSettings` (one thread per core, queue threads², `pause`).
 */
export interface ReactorOptions extends Partial<Omit<ReactorSettings, 'pool'>> {
  readonly pool?: Partial<PoolSettings>;
  readonly log?: Logger;
  readonly clock?: Clock;
}

interface Listener {
  /** Absent for an adopted listener: the primary accepts and passes sockets in. */
  readonly server: Server | undefined;
  readonly factory: Factory;
  readonly service: string;
  /** Runs a new socket through the endpoint's preamble and into a protocol. */
  readonly onSocket: (raw: Socket) => void;
}

/** How long aborted sockets get to report 'close' before the reactor stops anyway. */
const CLOSE_GRACE_MS = 1000;

/**
 * The reactor: owns listeners and sockets, runs one protocol per connection,
 * and lends factories a clock and the offload pool. One per worker process
 * (or one per process with `listenTCP` / `reactor.run()`).
 */
export class Reactor implements ReactorServices {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  private readonly listeners: Listener[] = [];
  private readonly connections = new Set<Connection>();
  /** Sockets accepted whose PROXY header or TLS handshake is still under way. */
  private readonly inPreamble = new Set<Socket>();
  private readonly perIp = new Map<string, number>();
  private readonly pool: OffloadPool;
  private readonly marks: WaterMarks;
  private idleSweep: DelayedCall | undefined;
  private draining = false;
  /** Past the drain deadline: what is left is closed, and new sockets are refused. */
  private closingAll = false;
  private stopped: Promise<void> | undefined;
  /** When a drain gives up waiting for connections (epoch ms). */
  private drainDeadline: number | undefined;
  private wakeDrain: (() => void) | undefined;
  private resolveRun: (() => void) | undefined;

  constructor(private readonly options: ReactorOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.log = options.log ?? createLogger({ role: 'reactor' });
    const high = options.highWaterMark ?? DEFAULTS.highWaterMark;
    this.marks = Object.freeze({ high, low: options.lowWaterMark ?? defaultLowWaterMark(high) });
    this.pool = new OffloadPool(resolvePoolSettings(options.pool), this.log, (protocol, seconds) =>
      this.metrics.offloadDuration.observe({ protocol }, seconds),
    );
    this.metrics = new WorkerMetrics(this.pool, { runtime: options.metrics ?? true });
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** True once `drain` or `stop` began. */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Starts `factory` (once) and listens on `endpoint`.
   * @throws ListenError when the address is in use or cannot be bound.
   */
  async listen(endpoint: string | Endpoint, factory: Factory, service = factory.protocolName): Promise<BoundEndpoint> {
    const { onSocket } = await this.prepare(endpoint, factory, service);
    let server: Server;
    let bound: BoundAddress;
    try {
      ({ server, bound } = await listen(endpoint, onSocket));
    } catch (error) {
      await factory.doStop();
      throw error;
    }
    server.on('error', (error) => this.log.error({ err: error, endpoint: bound.endpoint }, 'listener error'));
    this.listeners.push({ server, factory, service, onSocket });
    this.startIdleSweep();
    return { service, ...bound };
  }

  /**
   * Starts `factory` (once) for an endpoint that someone else accepts on (the
   * primary, under `--balance least-connections` or `client-hash`): sockets
   * arrive through {@link Reactor.adopt} with this listener's index. Twisted's
   * `adoptStreamConnection`.
   */
  async register(endpoint: string | Endpoint, factory: Factory, service = factory.protocolName): Promise<number> {
    const { onSocket } = await this.prepare(endpoint, factory, service);
    this.listeners.push({ server: undefined, factory, service, onSocket });
    this.startIdleSweep();
    return this.listeners.length - 1;
  }

  /**
   * Runs an accepted socket exactly as if listener `index` had accepted it:
   * its preamble (PROXY header, TLS), limits, then a protocol; first bytes included.
   */
  adopt(index: number, socket: Socket): void {
    const listener = this.listeners[index];
    if (!listener) {
      this.log.error({ listener: index }, 'adopted a socket for an unknown listener; closed');
      socket.destroy();
      return;
    }
    listener.onSocket(socket);
  }

  private async prepare(endpoint: string | Endpoint, factory: Factory, service: string) {
    const parsed = typeof endpoint === 'string' ? parseEndpoint(endpoint) : endpoint;
    const text = typeof endpoint === 'string' ? endpoint : formatEndpoint(endpoint);
    if (factory.protocolName === 'unknown') factory.protocolName = service;
    await factory.doStart(this);
    const stats = this.metrics.service(service);
    if (factory.processors !== undefined) this.pool.register(service);
    const preamble = new Preamble(parsed, text, this.log, stats);
    const onSocket = (raw: Socket) => {
      // A socket error before the protocol exists must never reach the process.
      raw.on('error', () => {});
      if (this.closingAll) {
        stats.reject('shutting_down');
        raw.destroy();
        return;
      }
      // A connection that reaches us while we drain (handed over just before the listener
      // closed, its request perhaps already sent) is served and drained like the others:
      // its protocol hears `drain()` as soon as it exists. So is one whose preamble
      // (PROXY header, TLS handshake) finishes during a drain.
      this.inPreamble.add(raw);
      raw.once('close', () => this.inPreamble.delete(raw));
      preamble.run(raw, (socket, peer) => {
        this.inPreamble.delete(raw);
        this.accept(socket, factory, stats, peer);
      });
    };
    return { parsed, text, onSocket };
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
   * asks each protocol to close at a safe point, and waits for connections to
   * end (offloaded work finishes and its replies go out). Whatever is still open
   * after `timeoutMs` is closed with `connectionLost(ShutdownError)`. Called
   * again while draining, it can only bring the deadline forward (0: now).
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + Math.max(0, timeoutMs);
    if (this.drainDeadline === undefined || deadline < this.drainDeadline) this.drainDeadline = deadline;
    this.wakeDrain?.();
    if (this.stopped) return this.stopped;
    this.draining = true;
    this.stopped = (async () => {
      // Not `close(callback)`: its callback waits for every connection to end.
      for (const l of this.listeners) l.server?.close();
      for (const l of this.listeners) {
        try {
          await l.factory.doStop();
        } catch (error) {
          this.log.error({ err: error, protocol: l.service }, 'stopFactory failed');
        }
      }
      for (const connection of this.connections) {
        try {
          connection.driver.protocol.drain();
        } catch (error) {
          this.log.warn({ err: error, protocol: connection.protocol.factory?.protocolName }, 'protocol drain hook threw');
        }
      }
      await this.connectionsEnded();
      this.closingAll = true;
      for (const connection of this.connections) connection.transport.shutdown();
      for (const raw of this.inPreamble) raw.destroy();
      // Sockets report 'close' (and protocols hear connectionLost) on a later turn.
      this.drainDeadline = Date.now() + CLOSE_GRACE_MS;
      await this.connectionsEnded();
      this.idleSweep?.cancel();
      await this.pool.close();
      this.resolveRun?.();
    })();
    return this.stopped;
  }

  /** Resolves when every connection has ended or the drain deadline passed. */
  private connectionsEnded(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        const open = this.connections.size + this.inPreamble.size;
        if (open > 0 && Date.now() < (this.drainDeadline ?? 0)) return;
        clearInterval(poll);
        this.wakeDrain = undefined;
        resolve();
      };
      const poll = setInterval(check, 20);
      this.wakeDrain = check;
      check();
    });
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

  private accept(socket: Socket, factory: Factory, stats: ProtocolStats, peer: Address): void {
    socket.on('error', () => {});
    const limit = this.options.maxConnections;
    if (limit && this.connections.size >= limit.limit) {
      stats.reject(limit.reason);
      socket.destroy();
      return;
    }
    const ip = peer.type === 'UNIX' ? '' : peer.host;
    const perIp = this.options.maxConnectionsPerIp;
    if (perIp !== undefined && (this.perIp.get(ip) ?? 0) >= perIp) {
      stats.reject('max_connections_per_ip');
      socket.destroy();
      return;
    }
    let protocol;
    try {
      protocol = factory.buildProtocol(peer);
    } catch (error) {
      stats.error('SKEIN_ERR_PROTOCOL_CALLBACK');
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
    if (perIp !== undefined) this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const connection = new Connection(
      socket,
      peer,
      protocol,
      stats,
      this.marks,
      this.log,
      this.clock,
      (c) => {
        this.connections.delete(c);
        if (perIp !== undefined) {
          const n = (this.perIp.get(ip) ?? 1) - 1;
          if (n === 0) this.perIp.delete(ip);
          else this.perIp.set(ip, n);
        }
      },
      this.options.metrics ?? true,
    );
    this.connections.add(connection);
    connection.start();
    // Its preamble finished after a drain began: it hears the drain now.
    if (this.draining && !connection.driver.isLost) {
      try {
        protocol.drain();
      } catch (error) {
        this.log.warn({ err: error, protocol: stats.protocol }, 'protocol drain hook threw');
      }
    }
  }

  /**
   * One timer for all connections, on the reactor clock (a fake clock drives it
   * in tests): closes those with no bytes read or flushed for `idleTimeout`.
   */
  private startIdleSweep(): void {
    const idle = this.options.idleTimeout;
    if (idle === undefined || this.idleSweep) return;
    const every = Math.max(0.05, Math.min(1, idle / 4)); // seconds: closes within idle + every
    const sweep = () => {
      const now = this.clock.seconds();
      for (const c of this.connections) if (c.idleFor(now) > idle) c.timeOut();
      this.idleSweep = this.clock.callLater(every, sweep);
    };
    this.idleSweep = this.clock.callLater(every, sweep);
  }
}
