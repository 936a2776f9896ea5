import { ConnectionLost, ProtocolCallbackError } from './errors.js';
import type { AnyProtocol } from './protocol.js';
import { LINK, METER, RELEASE, type ProtocolLink } from './link.js';
import type { MessageMeter } from './message-meter.js';
import type { Transport } from './transport.js';

/** Which protocol callback failed. */
export type CallbackPhase = 'connectionMade' | 'dataReceived' | 'connectionLost' | 'readConnectionLost' | 'writeConnectionLost' | 'drain' | 'reply';

/** What the owner of a driver hears about. */
export interface DriverEvents {
  /** A callback threw or rejected. The driver has already asked the transport to abort. */
  callbackFailed(error: ProtocolCallbackError, phase: CallbackPhase): void;
  /**
   * The protocol closed the connection with `closeWithError` (a broken limit, a
   * malformed frame). The driver has already asked the transport to abort.
   */
  protocolError?(error: Error): void;
  /** The protocol counted a protocol error it answered itself (`countProtocolError`); the connection stays up. */
  protocolErrorCounted?(error: Error): void;
}

// Each callback once per connection: module-level functions, so calling one through the guard allocates no closure.
const MAKE_CONNECTION = (protocol: AnyProtocol, transport: Transport) => protocol.makeConnection(transport);
const READ_CONNECTION_LOST = (protocol: AnyProtocol) => protocol.readConnectionLost();
const WRITE_CONNECTION_LOST = (protocol: AnyProtocol) => protocol.writeConnectionLost();
const DRAIN = (protocol: AnyProtocol) => protocol.drain();
const CONNECTION_LOST = (protocol: AnyProtocol, reason: Error) => protocol.connectionLost(reason);

/**
 * Calls a protocol's callbacks with skein's lifecycle guarantees, whoever owns
 * the connection (the worker reactor, the client side, the testing kit):
 * `connectionMade` once, `dataReceived` only while connected, `connectionLost`
 * exactly once; a callback that throws or rejects aborts this connection only.
 */
export class ProtocolDriver implements ProtocolLink {
  private made = false;
  private lost = false;
  private failure: ProtocolCallbackError | undefined;
  private closedWith: Error | undefined;

  constructor(
    readonly protocol: AnyProtocol,
    private readonly transport: Transport,
    private readonly events: DriverEvents,
    /** Counts frames and times them to their replies (absent when metrics are off). */
    meter?: MessageMeter,
  ) {
    protocol[LINK] = this;
    protocol[METER] = meter;
  }

  /** @internal {@link ProtocolLink}: a reply failed. */
  linkFailure(error: unknown): void {
    this.fail(error, 'reply');
  }

  /** @internal {@link ProtocolLink}: the protocol called `closeWithError`. */
  linkProtocolError(error: Error): void {
    this.closeWithError(error);
  }

  /** @internal {@link ProtocolLink}: the protocol counted an error it answered itself. */
  linkCountedError(error: Error): void {
    this.events.protocolErrorCounted?.(error);
  }

  /** True after `connectionLost` was delivered. */
  get isLost(): boolean {
    return this.lost;
  }

  /** The callback failure that aborted this connection, if any. */
  get failed(): ProtocolCallbackError | undefined {
    return this.failure;
  }

  /** The error the protocol closed this connection with (`closeWithError`), if any. */
  get protocolError(): Error | undefined {
    return this.closedWith;
  }

  /** Binds the transport and calls `connectionMade`. */
  connect(): void {
    if (this.made || this.lost) return;
    this.made = true;
    this.guard('connectionMade', MAKE_CONNECTION, this.transport);
  }

  /** Delivers a chunk, unless the connection failed or is gone. */
  data(chunk: Buffer): void {
    if (!this.made || this.lost || this.failure || this.closedWith) return;
    // The guard, inlined: this runs once per chunk and should not allocate a closure.
    try {
      const result = this.protocol.dataReceived(chunk);
      if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.fail(error, 'dataReceived'));
      }
    } catch (error) {
      this.fail(error, 'dataReceived');
    }
  }

  /** Delivers a half-close from the peer. */
  readLost(): void {
    if (!this.made || this.lost || this.failure) return;
    this.guard('readConnectionLost', READ_CONNECTION_LOST, undefined);
  }

  /** Delivers the end of our write side. */
  writeLost(): void {
    if (!this.made || this.lost || this.failure) return;
    this.guard('writeConnectionLost', WRITE_CONNECTION_LOST, undefined);
  }

  /** Delivers the reactor's drain (shutdown or reload) while the connection is up. */
  drain(): void {
    if (!this.made || this.lost || this.failure || this.closedWith) return;
    this.guard('drain', DRAIN, undefined);
  }

  /**
   * Delivers `connectionLost` exactly once. When a callback failure aborted
   * the connection, the reason is that failure.
   */
  lose(reason: Error = new ConnectionLost()): void {
    if (this.lost) return;
    this.lost = true;
    if (!this.made) return;
    const finalReason = this.failure ?? this.closedWith ?? reason;
    this.guard('connectionLost', CONNECTION_LOST, finalReason);
    this.protocol[RELEASE]();
  }

  /** Treats `error` as a failure of `phase` (used for ordered-reply failures). */
  fail(error: unknown, phase: CallbackPhase): void {
    if (this.failure || this.lost) return;
    const wrapped =
      error instanceof ProtocolCallbackError
        ? error
        : new ProtocolCallbackError(`${phase} failed: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
          });
    this.failure = wrapped;
    this.events.callbackFailed(wrapped, phase);
    if (phase !== 'connectionLost') this.transport.abortConnection();
  }

  /**
   * Aborts the connection because of a protocol error: `connectionLost` will
   * receive `error`, and the owner hears of it once (first error wins).
   */
  closeWithError(error: Error): void {
    if (!this.made || this.lost || this.failure || this.closedWith) return;
    this.closedWith = error;
    this.events.protocolError?.(error);
    this.transport.abortConnection();
  }

  /** Calls `callback(protocol, arg)`: a callback that throws or rejects fails `phase`. */
  private guard<A>(phase: CallbackPhase, callback: (protocol: AnyProtocol, arg: A) => unknown, arg: A): void {
    try {
      const result = callback(this.protocol, arg);
      if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.fail(error, phase));
      }
    } catch (error) {
      this.fail(error, phase);
    }
  }
}
