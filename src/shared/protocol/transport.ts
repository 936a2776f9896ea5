import type { Address } from './address.js';

/**
 * A producer of data that a transport can pause when its peer reads too slowly
 * and resume when it catches up. Twisted's `IPushProducer` (streaming) and
 * `IPullProducer` (non-streaming: `resumeProducing` asks for one more chunk).
 */
export interface Producer {
  /** Called when the peer reads too slowly (unsent output above the high-water mark): stop writing. Streaming producers only. */
  pauseProducing?(): void;
  /** Called when writing may go on: a streaming producer resumes; a pull producer writes its next chunk. */
  resumeProducing(): void;
  /** Called when the connection is gone: write no more. */
  stopProducing(): void;
}

/**
 * The protocol's view of its connection. A protocol never touches a socket:
 * it writes to its transport, and the reactor owns the socket.
 */
export interface Transport {
  /** Queues bytes for the peer. Writes made in one dispatch leave in one syscall. */
  write(data: Buffer | string): void;
  /**
   * Writes each chunk in order, as one gathered write. The array itself is not
   * kept: the caller may reuse it once the call returns (the chunks are kept).
   */
  writeSequence(chunks: ReadonlyArray<Buffer | string>): void;
  /** Flushes pending output, then closes. Twisted's `loseConnection`. */
  loseConnection(): void;
  /** Closes at once, dropping pending output. */
  abortConnection(): void;
  /** Half-closes: sends FIN after pending output; reading continues. */
  loseWriteConnection(): void;
  /** The remote end. */
  getPeer(): Address;
  /** The local end. */
  getHost(): Address;
  /** Stops reading from the peer (with other pause reasons, reading resumes only when none holds). */
  pauseProducing(): void;
  /** Restarts reading after `pauseProducing`. */
  resumeProducing(): void;
  /**
   * Registers a producer that this transport pauses when unsent output passes
   * the high-water mark and resumes below the low-water mark.
   */
  registerProducer(producer: Producer, streaming: boolean): void;
  /** Removes the registered producer. */
  unregisterProducer(): void;
  /** Turns Nagle's algorithm off (true) or on. Connections a skein server accepts start with it off (TCP_NODELAY), as node:http's do. */
  setTcpNoDelay(enabled: boolean): void;
  /** Turns TCP keep-alive probes on or off. */
  setTcpKeepAlive(enabled: boolean, initialDelaySeconds?: number): void;
  /** True once `loseConnection` or `abortConnection` was called. */
  readonly disconnecting: boolean;
}
