import type { Address } from '../address.js';
import { RELEASE } from '../link.js';
import { nestProtocol } from '../nesting.js';
import { Factory } from '../factory.js';
import { Protocol } from '../protocol.js';
import type { PausableReading } from '../services.js';
import type { Producer, Transport } from '../transport.js';

/**
 * The transport a wrapped protocol sees: forwards everything to the real one,
 * and lets the wrapper see writes and the registered producer.
 */
export class WrappingTransport implements Transport, PausableReading {
  /** The producer the wrapped protocol registered, if any. */
  producer: Producer | undefined;

  constructor(
    readonly inner: Transport,
    /** Called with the size of each write, before it is forwarded. */
    private readonly onWrite: (bytes: number) => void = () => {},
  ) {}

  get disconnecting(): boolean {
    return this.inner.disconnecting;
  }

  write(data: Buffer | string): void {
    this.onWrite(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    this.inner.write(data);
  }

  writeSequence(chunks: ReadonlyArray<Buffer | string>): void {
    let n = 0;
    for (const c of chunks) n += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
    this.onWrite(n);
    this.inner.writeSequence(chunks);
  }

  loseConnection(): void {
    this.inner.loseConnection();
  }

  abortConnection(): void {
    this.inner.abortConnection();
  }

  loseWriteConnection(): void {
    this.inner.loseWriteConnection();
  }

  getPeer(): Address {
    return this.inner.getPeer();
  }

  getHost(): Address {
    return this.inner.getHost();
  }

  pauseProducing(): void {
    this.inner.pauseProducing();
  }

  resumeProducing(): void {
    this.inner.resumeProducing();
  }

  /** Pauses reading for a named reason when the real transport supports reasons, else pauses it outright. */
  pauseReading(reason: string): void {
    if (isPausable(this.inner)) this.inner.pauseReading(reason);
    else this.inner.pauseProducing();
  }

  resumeReading(reason: string): void {
    if (isPausable(this.inner)) this.inner.resumeReading(reason);
    else this.inner.resumeProducing();
  }

  registerProducer(producer: Producer, streaming: boolean): void {
    this.inner.registerProducer(producer, streaming);
    this.producer = producer;
  }

  unregisterProducer(): void {
    this.producer = undefined;
    this.inner.unregisterProducer();
  }

  setTcpNoDelay(enabled: boolean): void {
    this.inner.setTcpNoDelay(enabled);
  }

  setTcpKeepAlive(enabled: boolean, initialDelaySeconds?: number): void {
    this.inner.setTcpKeepAlive(enabled, initialDelaySeconds);
  }
}

/**
 * A protocol that stands between the reactor and another protocol, forwarding
 * every event to it. Twisted's `policies.ProtocolWrapper`: subclass it to
 * watch or shape a connection without changing the wrapped protocol.
 */
export class ProtocolWrapper extends Protocol {
  /** The wrapped protocol's transport (set in `makeConnection`). */
  wrappedTransport!: WrappingTransport;

  constructor(readonly wrappedProtocol: Protocol) {
    super();
  }

  override makeConnection(transport: Transport): void | Promise<void> {
    this.connected = true;
    this.transport = transport;
    const inner = this.wrappedProtocol;
    // The wrapped protocol's errors go where ours go: the driver counts them.
    nestProtocol(this, inner);
    this.wrappedTransport = new WrappingTransport(transport, (bytes) => this.written(bytes));
    return this.connectionMade();
  }

  override connectionMade(): void | Promise<void> {
    return this.wrappedProtocol.makeConnection(this.wrappedTransport);
  }

  override dataReceived(data: Buffer): void | Promise<void> {
    return this.wrappedProtocol.dataReceived(data);
  }

  override connectionLost(reason: Error): void | Promise<void> {
    return this.wrappedProtocol.connectionLost(reason);
  }

  override readConnectionLost(): void {
    this.wrappedProtocol.readConnectionLost();
  }

  override writeConnectionLost(): void {
    this.wrappedProtocol.writeConnectionLost();
  }

  override drain(): void {
    this.wrappedProtocol.drain();
  }

  /** Called with the size of each write the wrapped protocol makes. */
  written(_bytes: number): void {}

  /** @internal */
  override [RELEASE](): void {
    super[RELEASE]();
    this.wrappedProtocol[RELEASE]();
  }
}

/**
 * A factory that wraps each protocol another factory builds. Twisted's
 * `policies.WrappingFactory`. Starting and stopping it starts and stops the
 * wrapped factory, which gets the same reactor, options and metric name.
 */
export class WrappingFactory extends Factory<ProtocolWrapper> {
  constructor(readonly wrappedFactory: Factory) {
    super();
    this.processors = wrappedFactory.processors;
  }

  override buildProtocol(addr: Address): ProtocolWrapper | null {
    const inner = this.wrappedFactory.buildProtocol(addr);
    if (!inner) return null;
    inner.factory ??= this.wrappedFactory;
    const wrapper = this.wrapProtocol(inner);
    wrapper.factory = this as unknown as Factory;
    return wrapper;
  }

  /** Builds the wrapper of one protocol; override to use a ProtocolWrapper subclass. */
  wrapProtocol(inner: Protocol): ProtocolWrapper {
    return new ProtocolWrapper(inner);
  }

  override async startFactory(): Promise<void> {
    const wrapped = this.wrappedFactory;
    wrapped.options = { ...wrapped.options, ...this.options };
    if (wrapped.protocolName === 'unknown') wrapped.protocolName = this.protocolName;
    if (this.reactor) await wrapped.doStart(this.reactor);
  }

  override async stopFactory(): Promise<void> {
    await this.wrappedFactory.doStop();
  }
}

function isPausable(transport: unknown): transport is PausableReading {
  return typeof (transport as Partial<PausableReading>).pauseReading === 'function';
}
