import { ConnectionAborted, ConnectionDone, errorCode } from '../errors.js';
import { Factory } from '../factory.js';
import type { Protocol } from '../protocol.js';
import { ProtocolDriver } from '../driver.js';
import type { ReactorServices } from '../services.js';
import type { Producer } from '../transport.js';
import { MemoryReactor } from './memory-reactor.js';
import { StringTransport } from './string-transport.js';

/** Options of {@link connectProtocol}. */
export interface ConnectProtocolOptions {
  /** The factory the protocol belongs to (default: `Factory.forProtocol` of its class). */
  readonly factory?: Factory;
  /** Reactor services lent to the factory (default: a new {@link MemoryReactor}). */
  readonly reactor?: ReactorServices;
  /** The transport (default: a new {@link StringTransport}). */
  readonly transport?: StringTransport;
}

/** How to feed bytes to {@link ProtocolHarness.receive}. */
export interface ReceiveOptions {
  /** Deliver in chunks of this many bytes (Twisted's `test_buffer` replays with 1, 2, 3 …). Default: one chunk. */
  readonly chunkSize?: number;
}

/**
 * One protocol connected to a {@link StringTransport} with the reactor's
 * lifecycle rules: `connectionMade` once, `dataReceived` only while
 * connected, `connectionLost` exactly once, a throwing callback aborts the
 * connection, and `closeWithError` is recorded as the reactor would count it.
 *
 * When the protocol closes its transport, `connectionLost` is delivered as
 * soon as the harness call in progress returns (at once when the close comes
 * from a promise or a timer run outside the harness).
 */
export class ProtocolHarness<P extends Protocol = Protocol> {
  /** The transport the protocol writes to. */
  readonly transport: StringTransport;
  /** The reactor services lent to the protocol's factory. */
  readonly reactor: ReactorServices;
  /** Codes the reactor would count in `skein_protocol_errors_total` for this connection. */
  readonly errorCodes: string[] = [];
  private readonly driver: ProtocolDriver;
  private depth = 0;
  private closePending = false;
  private lost: Error | undefined;

  constructor(
    /** The protocol under test. */
    readonly protocol: P,
    options: ConnectProtocolOptions = {},
  ) {
    this.reactor = options.reactor ?? new MemoryReactor();
    const factory = options.factory ?? protocol.factory ?? Factory.forProtocol(protocol.constructor as new () => P);
    factory.reactor ??= this.reactor;
    protocol.factory = factory as unknown as Factory;
    this.transport = options.transport ?? new StringTransport();
    const transport = this.transport;
    // Hear the protocol close its transport, without changing how StringTransport records it.
    const close = (original: () => void) => () => {
      original();
      this.transportClosed();
    };
    transport.loseConnection = close(transport.loseConnection.bind(transport));
    transport.abortConnection = close(transport.abortConnection.bind(transport));
    const unregister = transport.unregisterProducer.bind(transport);
    transport.unregisterProducer = () => {
      unregister();
      this.transportClosed();
    };
    this.driver = new ProtocolDriver(protocol, transport, {
      callbackFailed: (error) => this.errorCodes.push(errorCode(error)),
      protocolError: (error) => this.errorCodes.push(errorCode(error)),
    });
    this.run(() => this.driver.connect());
  }

  /** The fake clock, when the reactor is a {@link MemoryReactor}. */
  get clock(): MemoryReactor['clock'] | undefined {
    return this.reactor instanceof MemoryReactor ? this.reactor.clock : undefined;
  }

  /** What `connectionLost` received, once it was delivered. */
  get lostReason(): Error | undefined {
    return this.lost;
  }

  /** The error the connection was closed with (`closeWithError`, or a callback failure), as soon as it happens. */
  get closedWith(): Error | undefined {
    return this.driver.failed ?? this.driver.protocolError;
  }

  /** Everything the protocol wrote so far, as text. */
  written(encoding: BufferEncoding = 'utf8'): string {
    return this.transport.value().toString(encoding);
  }

  /** Feeds bytes to `dataReceived`, in one chunk or in chunks of `chunkSize` bytes. */
  receive(data: Buffer | string, options: ReceiveOptions = {}): this {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const size = options.chunkSize ?? Math.max(1, bytes.length);
    this.run(() => {
      for (let i = 0; i < bytes.length; i += size) this.driver.data(bytes.subarray(i, i + size));
    });
    return this;
  }

  /** Moves the fake clock forward (when the reactor is a {@link MemoryReactor}). */
  advance(seconds: number): this {
    const clock = this.clock;
    if (!clock) throw new TypeError('advance() needs a MemoryReactor (or advance your own clock)');
    this.run(() => clock.advance(seconds));
    return this;
  }

  /** The peer half-closed its side: calls `readConnectionLost`. */
  readConnectionLost(): this {
    this.run(() => this.driver.readLost());
    return this;
  }

  /**
   * The connection went away (by default the peer closed it cleanly; pass a
   * `ConnectionLost` for a reset): delivers `connectionLost` once.
   */
  connectionLost(reason: Error = new ConnectionDone()): this {
    this.driver.lose(reason);
    this.lost ??= this.driver.failed ?? this.driver.protocolError ?? reason;
    this.transport.producer?.stopProducing();
    return this;
  }

  private run(fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.closePending) this.transportClosed();
  }

  private transportClosed(): void {
    const t = this.transport;
    if (!t.disconnecting || this.driver.isLost) return;
    // A streaming producer keeps a loseConnection open until it unregisters (Twisted's rule).
    if (!t.aborted && isStreaming(t.producer, t.streaming)) return;
    if (this.depth > 0) {
      this.closePending = true;
      return;
    }
    this.closePending = false;
    this.connectionLost(t.aborted ? new ConnectionAborted() : new ConnectionDone());
  }
}

function isStreaming(producer: Producer | undefined, streaming: boolean | undefined): boolean {
  return producer !== undefined && streaming === true;
}

/**
 * Connects `protocol` to a fresh {@link StringTransport} under a
 * {@link MemoryReactor} and calls `connectionMade`: a protocol unit test
 * without sockets.
 *
 * ```ts
 * const h = connectProtocol(new MyLineProtocol());
 * h.receive('hello\r\n', { chunkSize: 1 });
 * expect(h.written()).toBe('Processed: hello\r\n');
 * ```
 */
export function connectProtocol<P extends Protocol>(protocol: P, options: ConnectProtocolOptions = {}): ProtocolHarness<P> {
  return new ProtocolHarness(protocol, options);
}
