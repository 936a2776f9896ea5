import type { Address } from '../address.js';
import { InvalidStateError } from '../errors.js';
import type { Producer, Transport } from '../transport.js';

/**
 * A transport that records what a protocol writes. Twisted's `StringTransport`.
 *
 * ```ts
 * const t = new StringTransport();
 * protocol.makeConnection(t);
 * protocol.dataReceived(Buffer.from('hi'));
 * expect(t.value().toString()).toBe('Processed: hi');
 * ```
 */
export class StringTransport implements Transport {
  private chunks: Buffer[] = [];
  disconnecting = false;
  /** True after `abortConnection`. */
  aborted = false;
  /** True after `loseWriteConnection`. */
  writeClosed = false;
  /** `paused` after `pauseProducing`, `producing` otherwise. */
  producerState: 'producing' | 'paused' = 'producing';
  /** The producer registered with `registerProducer`, if any. */
  producer: Producer | undefined;
  /** Whether the registered producer is streaming (push) rather than pull. */
  streaming: boolean | undefined;
  /** The last value given to `setTcpNoDelay`. */
  noDelay = false;
  /** The last value given to `setTcpKeepAlive`. */
  keepAlive = false;

  constructor(
    /** What `getPeer()` returns. */
    readonly peer: Address = { type: 'TCP', host: '192.168.1.1', port: 54321 },
    /** What `getHost()` returns. */
    readonly host: Address = { type: 'TCP', host: '10.0.0.1', port: 9000 },
  ) {}

  /** Everything written so far. */
  value(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Forgets what was written. */
  clear(): void {
    this.chunks = [];
  }

  write(data: Buffer | string): void {
    this.chunks.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
  }

  writeSequence(chunks: ReadonlyArray<Buffer | string>): void {
    for (const c of chunks) this.write(c);
  }

  loseConnection(): void {
    this.disconnecting = true;
  }

  abortConnection(): void {
    this.disconnecting = true;
    this.aborted = true;
  }

  loseWriteConnection(): void {
    this.writeClosed = true;
  }

  getPeer(): Address {
    return this.peer;
  }

  getHost(): Address {
    return this.host;
  }

  pauseProducing(): void {
    this.producerState = 'paused';
  }

  resumeProducing(): void {
    this.producerState = 'producing';
  }

  registerProducer(producer: Producer, streaming: boolean): void {
    if (this.producer) throw new InvalidStateError('a producer is already registered on this transport');
    this.producer = producer;
    this.streaming = streaming;
  }

  unregisterProducer(): void {
    this.producer = undefined;
    this.streaming = undefined;
  }

  setTcpNoDelay(enabled: boolean): void {
    this.noDelay = enabled;
  }

  setTcpKeepAlive(enabled: boolean): void {
    this.keepAlive = enabled;
  }
}
