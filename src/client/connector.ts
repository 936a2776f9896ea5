import { connect as netConnect, type Socket } from 'node:net';
import { addressFrom, type Address } from '../shared/protocol/address.js';
import { realClock, type Clock, type DelayedCall } from '../shared/protocol/clock.js';
import { ConnectError, ConnectTimeoutError, InvalidOptionError, NoProcessorError } from '../shared/protocol/errors.js';
import { START, STOP, type Factory } from '../shared/protocol/factory.js';
import type { Protocol } from '../shared/protocol/protocol.js';
import type { ReactorServices } from '../shared/protocol/services.js';
import type { SocketTransport, WaterMarks } from '../shared/net/socket-transport.js';
import { attachProtocol } from '../shared/net/attach.js';
import type { ClientFactory, Connector, ConnectorState } from './client-factory.js';

/** Options of {@link connectTCP}. */
export interface ConnectOptions {
  /** Seconds an attempt may take before it fails with `ConnectTimeoutError` (Twisted's default: 30). */
  readonly timeout?: number;
  /** Local address to bind before connecting. */
  readonly localAddress?: string;
  /** Unsent bytes above which reading pauses, and below which it resumes. */
  readonly waterMarks?: WaterMarks;
}

type ClientHooks = Partial<Pick<ClientFactory, 'startedConnecting' | 'clientConnectionFailed' | 'clientConnectionLost' | 'clock'>>;

/**
 * Connects `factory` to `host`:`port`. Twisted's `reactor.connectTCP`.
 *
 * Resolves with the protocol once its `connectionMade` ran. Rejects with the
 * reason of the last failure once the factory stops trying: a plain
 * `ClientFactory` after the first failed attempt, a `ReconnectingClientFactory`
 * after `maxRetries` or `stopTrying()`. `factory` may also be a plain `Factory`.
 *
 * @throws InvalidOptionError (synchronously) for a bad port or timeout.
 */
export function connectTCP<P extends Protocol>(host: string, port: number, factory: Factory<P>, options: ConnectOptions = {}): Promise<P> {
  return new TcpConnector(host, port, factory, options).start();
}

/** Twisted's `tcp.Connector`: owns one outgoing socket at a time and tells the factory what happens to it. */
export class TcpConnector<P extends Protocol = Protocol> implements Connector {
  state: ConnectorState = 'disconnected';
  private readonly hooks: ClientHooks;
  private readonly clock: Clock;
  private readonly timeout: number;
  private socket: Socket | undefined;
  private transport: SocketTransport | undefined;
  private timeoutCall: DelayedCall | undefined;
  private retryCall: DelayedCall | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private factoryStarted = false;
  private settled = false;
  private resolveFirst: ((protocol: P) => void) | undefined;
  private rejectFirst: ((reason: Error) => void) | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly factory: Factory<P>,
    private readonly options: ConnectOptions = {},
  ) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidOptionError(`port must be an integer 1-65535 (got ${port})`);
    const timeout = options.timeout ?? 30;
    if (!(timeout > 0)) throw new InvalidOptionError(`options.timeout must be a positive number of seconds (got ${timeout})`);
    this.timeout = timeout;
    this.hooks = factory as ClientHooks;
    this.clock = this.hooks.clock ?? realClock;
  }

  /** Starts the first attempt; resolves with the first connected protocol. */
  start(): Promise<P> {
    const first = new Promise<P>((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
    this.connect();
    return first;
  }

  getDestination(): Address {
    return addressFrom(this.host, this.port);
  }

  connect(): void {
    if (this.state !== 'disconnected') return;
    this.cancelRetry();
    this.state = 'connecting';
    const started = this.startFactory();
    this.callHook(() => this.hooks.startedConnecting?.call(this.factory, this));
    void Promise.resolve(started).then(
      () => {
        if (this.state === 'connecting' && !this.socket) this.openSocket();
      },
      (error: unknown) => this.attemptFailed(new ConnectError(`startFactory failed: ${String(error)}`, { cause: error })),
    );
  }

  connectAfter(seconds: number, clock: Clock): DelayedCall {
    this.cancelRetry();
    const call = clock.callLater(seconds, () => {
      this.cancelRetry();
      this.connect();
    });
    this.retryCall = call;
    // Real-clock timers are unref'd so they never keep a finished process
    // alive; a scheduled reconnect is work the user asked for, so hold the
    // event loop open until it runs or is cancelled.
    if (clock === realClock) this.keepAlive = setInterval(() => {}, 1 << 30);
    return call;
  }

  stopConnecting(): void {
    if (this.state === 'connecting') {
      this.attemptFailed(new ConnectError(`connection attempt to ${this.host}:${this.port} cancelled`));
    } else if (this.retryCall) {
      this.cancelRetry();
      this.finishIfIdle(new ConnectError(`stopped trying to connect to ${this.host}:${this.port}`));
    }
  }

  disconnect(): void {
    if (this.state === 'connected') this.transport?.loseConnection();
    else this.stopConnecting();
  }

  private openSocket(): void {
    const socket = netConnect({
      host: this.host,
      port: this.port,
      allowHalfOpen: true,
      ...(this.options.localAddress ? { localAddress: this.options.localAddress } : {}),
    });
    this.socket = socket;
    let failure: Error | undefined;
    socket.on('error', (error) => (failure ??= error));
    socket.once('close', () => {
      if (this.socket === socket && this.state === 'connecting') {
        const why = failure ? `: ${(failure as NodeJS.ErrnoException).code ?? failure.message}` : '';
        this.attemptFailed(new ConnectError(`cannot connect to ${this.host}:${this.port}${why}`, { cause: failure }));
      }
    });
    socket.once('connect', () => this.connected(socket));
    this.timeoutCall = this.clock.callLater(this.timeout, () => {
      if (this.socket === socket && this.state === 'connecting') {
        this.attemptFailed(new ConnectTimeoutError(`connecting to ${this.host}:${this.port} took longer than ${this.timeout} s`));
      }
    });
  }

  private connected(socket: Socket): void {
    this.timeoutCall?.cancel();
    let protocol: P | null;
    try {
      protocol = this.factory.buildProtocol(addressFrom(socket.remoteAddress, socket.remotePort, socket.remoteFamily));
    } catch (error) {
      this.attemptFailed(new ConnectError(`buildProtocol threw: ${String(error)}`, { cause: error }));
      return;
    }
    if (!protocol) {
      this.attemptFailed(new ConnectError(`the factory refused the connection to ${this.host}:${this.port}`));
      return;
    }
    protocol.factory ??= this.factory as unknown as Factory;
    this.state = 'connected';
    // A callback failure aborts the connection; its reason reaches connectionLost and clientConnectionLost.
    const { transport, driver } = attachProtocol(socket, protocol, {
      ...(this.options.waterMarks ? { marks: this.options.waterMarks } : {}),
      events: {
        callbackFailed: () => {},
        socketClosed: () => {
          const reason = driver.failed ?? transport.lostReason();
          this.socket = undefined;
          this.transport = undefined;
          this.state = 'disconnected';
          this.callHook(() => this.hooks.clientConnectionLost?.call(this.factory, this, reason));
          this.finishIfIdle(reason);
        },
      },
    });
    this.transport = transport;
    driver.connect();
    if (!driver.failed && !this.settled) {
      this.settled = true;
      this.resolveFirst?.(protocol);
    }
  }

  private attemptFailed(reason: Error): void {
    if (this.state !== 'connecting') return;
    this.timeoutCall?.cancel();
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.state = 'disconnected';
    this.callHook(() => this.hooks.clientConnectionFailed?.call(this.factory, this, reason));
    this.finishIfIdle(reason);
  }

  /** After a failure or a loss: when the factory arranged no new attempt, give up (reject, stop the factory). */
  private finishIfIdle(reason: Error): void {
    if (this.state !== 'disconnected' || this.retryCall?.active()) return;
    if (!this.settled) {
      this.settled = true;
      this.rejectFirst?.(reason);
    }
    if (this.factoryStarted) {
      this.factoryStarted = false;
      void Promise.resolve(this.factory[STOP]()).catch(() => {});
    }
  }

  private startFactory(): void | Promise<void> {
    if (this.factoryStarted) return;
    this.factoryStarted = true;
    return this.factory[START](clientServices(this.clock));
  }

  private cancelRetry(): void {
    this.retryCall?.cancel();
    this.retryCall = undefined;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  /** A throwing factory callback must not crash the process from a socket event: it rejects a pending connect instead. */
  private callHook(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (!this.settled) {
        this.settled = true;
        this.rejectFirst?.(error instanceof Error ? error : new ConnectError(`a client factory callback threw: ${String(error)}`, { cause: error }));
      } else {
        process.emitWarning(`skein client factory callback threw: ${String(error)}`);
      }
    }
  }
}

/** What a client factory's protocols get as their reactor: the clock, and no offload pool. */
function clientServices(clock: Clock): ReactorServices {
  return {
    clock,
    offload: (request) => Promise.reject(new NoProcessorError(`cannot offload '${request.task}': no offload pool on the client side`)),
  };
}
