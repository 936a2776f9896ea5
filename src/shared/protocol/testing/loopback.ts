import type { Address } from '../address.js';
import { DEFAULTS, defaultLowWaterMark } from '../../config/defaults.js';
import { ConnectionAborted, ConnectionDone, ConnectionLost, errorCode, InvalidStateError } from '../errors.js';
import { Factory } from '../factory.js';
import type { Protocol } from '../protocol.js';
import { ProtocolDriver } from '../driver.js';
import type { ReactorServices } from '../services.js';
import { MemoryReactor } from './memory-reactor.js';
import { StringTransport } from './string-transport.js';

/** Options of {@link connectedPair}. */
export interface ConnectedPairOptions {
  /** Reactor services both protocols share (default: a new {@link MemoryReactor}). */
  readonly reactor?: ReactorServices;
  /** The client protocol's factory (default: `Factory.forProtocol` of its class). */
  readonly clientFactory?: Factory;
  /** The server protocol's factory (default: `Factory.forProtocol` of its class). */
  readonly serverFactory?: Factory;
  /** `pump` delivers bytes in chunks of at most this size (default: everything pending at once). */
  readonly chunkSize?: number;
  /** Unsent bytes above which a registered streaming producer is paused (default 64 KiB). */
  readonly highWaterMark?: number;
  /** Unsent bytes at or below which it is resumed (default 16 KiB). */
  readonly lowWaterMark?: number;
}

/**
 * One side of a {@link LoopbackPair}: a StringTransport whose writes also wait
 * in memory until `pump` moves them to the other side. `value()` still holds
 * everything written; `pending` counts the bytes not yet delivered.
 */
export class LoopbackTransport extends StringTransport {
  /** Times a registered streaming producer was paused because of the water marks. */
  producerPauses = 0;
  /** Times it was resumed. */
  producerResumes = 0;
  /** Bytes written and not yet delivered to the peer. */
  pending = 0;
  /** @internal */
  producerPaused = false;
  private outbox: Buffer[] = [];

  constructor(
    peer: Address,
    host: Address,
    private readonly highWaterMark: number,
  ) {
    super(peer, host);
  }

  override write(data: Buffer | string): void {
    if (this.writeClosed || this.aborted) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    super.write(bytes);
    this.outbox.push(bytes);
    this.pending += bytes.length;
    if (this.pending > this.highWaterMark && this.producer && this.streaming && !this.producerPaused) {
      this.producerPaused = true;
      this.producerPauses++;
      this.producer.pauseProducing?.();
    }
  }

  /** @internal Removes and returns up to `max` undelivered bytes. */
  takeOutgoing(max: number): Buffer {
    const first = this.outbox[0]!;
    if (first.length <= max) {
      this.outbox.shift();
      this.pending -= first.length;
      return first;
    }
    this.outbox[0] = first.subarray(max);
    this.pending -= max;
    return first.subarray(0, max);
  }

  /** @internal Drops undelivered bytes (abort). */
  dropOutgoing(): void {
    this.outbox = [];
    this.pending = 0;
  }
}

/** One protocol of a {@link LoopbackPair} and what happened to its connection. */
export class LoopbackEnd<P extends Protocol = Protocol> {
  /** Codes the reactor would count in `skein_protocol_errors_total` for this side. */
  readonly errorCodes: string[] = [];
  /** @internal */
  readonly driver: ProtocolDriver;
  /** @internal */
  lost: Error | undefined;
  /** @internal */
  halfClosed = false;

  constructor(
    /** This end's protocol. */
    readonly protocol: P,
    /** This end's transport. */
    readonly transport: LoopbackTransport,
    factory: Factory,
    reactor: ReactorServices,
  ) {
    factory.reactor ??= reactor;
    protocol.factory = factory as unknown as Factory;
    this.driver = new ProtocolDriver(protocol, transport, {
      callbackFailed: (error) => this.errorCodes.push(errorCode(error)),
      protocolError: (error) => this.errorCodes.push(errorCode(error)),
    });
  }

  /** What `connectionLost` received, once delivered. */
  get lostReason(): Error | undefined {
    return this.lost;
  }

  /** The error this side closed with (`closeWithError` or a callback failure). */
  get closedWith(): Error | undefined {
    return this.driver.failed ?? this.driver.protocolError;
  }

  /** @internal */
  lose(reason: Error): void {
    if (this.driver.isLost) return;
    this.driver.lose(reason);
    this.lost = this.closedWith ?? reason;
    const producer = this.transport.producer;
    this.transport.producer = undefined;
    producer?.stopProducing();
  }
}

const MAX_ROUNDS = 100_000;

/**
 * A client protocol and a server protocol connected in memory: Twisted's
 * `iosim.connect`. Writes stay queued until {@link LoopbackPair.pump} moves
 * them, so a test decides when (and in what chunks) each side reads.
 * Backpressure, half-close and abort behave as over a socket.
 */
export class LoopbackPair<C extends Protocol = Protocol, S extends Protocol = Protocol> {
  /** The client end (its protocol connected first). */
  readonly client: LoopbackEnd<C>;
  /** The server end. */
  readonly server: LoopbackEnd<S>;
  /** Reactor services both ends share. */
  readonly reactor: ReactorServices;
  private readonly chunkSize: number;
  private readonly lowWaterMark: number;

  constructor(client: C, server: S, options: ConnectedPairOptions = {}) {
    this.reactor = options.reactor ?? new MemoryReactor();
    this.chunkSize = options.chunkSize ?? Infinity;
    const high = options.highWaterMark ?? DEFAULTS.highWaterMark;
    this.lowWaterMark = options.lowWaterMark ?? defaultLowWaterMark(high);
    const clientAddr: Address = { type: 'TCP', host: '127.0.0.1', port: 50000 };
    const serverAddr: Address = { type: 'TCP', host: '127.0.0.1', port: 9000 };
    const factoryOf = (p: Protocol, given?: Factory) => given ?? p.factory ?? Factory.forProtocol(p.constructor as new () => Protocol);
    this.server = new LoopbackEnd(server, new LoopbackTransport(clientAddr, serverAddr, high), factoryOf(server, options.serverFactory), this.reactor);
    this.client = new LoopbackEnd(client, new LoopbackTransport(serverAddr, clientAddr, high), factoryOf(client, options.clientFactory), this.reactor);
    this.server.driver.connect();
    this.client.driver.connect();
  }

  /** The fake clock, when the reactor is a {@link MemoryReactor}. */
  get clock(): MemoryReactor['clock'] | undefined {
    return this.reactor instanceof MemoryReactor ? this.reactor.clock : undefined;
  }

  /**
   * Moves bytes both ways until nothing more moves: delivers writes (unless
   * the receiver paused reading), resumes producers below the low-water mark,
   * and carries out closes and half-closes. Returns the bytes moved.
   * @throws Error when the two sides never settle (an endless ping-pong).
   */
  pump(): number {
    let moved = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const step = this.step(this.client, this.server) + this.step(this.server, this.client);
      const closed = this.settleClose(this.client, this.server) || this.settleClose(this.server, this.client);
      moved += step;
      if (step === 0 && !closed) return moved;
    }
    throw new InvalidStateError(`LoopbackPair.pump: still moving bytes after ${MAX_ROUNDS} rounds`);
  }

  /** Moves the fake clock forward, then pumps. */
  advance(seconds: number): number {
    const clock = this.clock;
    if (!clock) throw new TypeError('advance() needs a MemoryReactor (or advance your own clock, then pump)');
    clock.advance(seconds);
    return this.pump();
  }

  private step(from: LoopbackEnd, to: LoopbackEnd): number {
    const t = from.transport;
    let moved = 0;
    while (t.pending > 0 && !t.aborted && to.transport.producerState !== 'paused' && !to.driver.isLost) {
      const chunk = t.takeOutgoing(this.chunkSize);
      moved += chunk.length;
      to.driver.data(chunk);
    }
    const producer = t.producer;
    if (producer && !from.driver.isLost && t.pending <= this.lowWaterMark) {
      const before = t.pending;
      if (t.streaming && t.producerPaused) {
        t.producerPaused = false;
        t.producerResumes++;
        producer.resumeProducing();
      } else if (!t.streaming) {
        producer.resumeProducing();
      }
      // A producer that wrote has made progress: its bytes are delivered next round.
      moved += t.pending - before;
    }
    return moved;
  }

  /** Carries out a close or half-close of `end` once its output is delivered. True when something happened. */
  private settleClose(end: LoopbackEnd, peer: LoopbackEnd): boolean {
    const t = end.transport;
    if (end.driver.isLost) return false;
    if (t.aborted) {
      t.dropOutgoing();
      end.lose(new ConnectionAborted());
      peer.lose(new ConnectionLost('connection was reset by the peer'));
      return true;
    }
    if (t.pending > 0) return false;
    if (t.disconnecting && !(t.producer && t.streaming)) {
      end.lose(new ConnectionDone());
      peer.lose(new ConnectionDone());
      return true;
    }
    if (t.writeClosed && !end.halfClosed) {
      end.halfClosed = true;
      peer.driver.readLost();
      end.driver.writeLost();
      return true;
    }
    return false;
  }
}

/**
 * Connects `client` and `server` in memory and calls both `connectionMade`s
 * (server first). Nothing moves until you `pump()`.
 *
 * ```ts
 * const pair = connectedPair(new MyClient(), new MyServer());
 * pair.client.protocol.sendLine('hello');
 * pair.pump();
 * expect(pair.client.protocol.answers).toEqual(['Processed: hello']);
 * ```
 */
export function connectedPair<C extends Protocol, S extends Protocol>(client: C, server: S, options: ConnectedPairOptions = {}): LoopbackPair<C, S> {
  return new LoopbackPair(client, server, options);
}
