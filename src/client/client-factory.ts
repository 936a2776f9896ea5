import type { Address } from '../shared/protocol/address.js';
import { realClock, type Clock, type DelayedCall } from '../shared/protocol/clock.js';
import { Factory, type ProtocolClass } from '../shared/protocol/factory.js';
import type { Protocol } from '../shared/protocol/protocol.js';

/** The state of a {@link Connector}. */
export type ConnectorState = 'disconnected' | 'connecting' | 'connected';

/**
 * One outgoing connection's handle, passed to the client factory's callbacks.
 * Twisted's `IConnector`: a factory that wants to reconnect calls `connect()`
 * (or `connectAfter`) on the connector it was given.
 */
export interface Connector {
  /** Where this connector connects to. */
  getDestination(): Address;
  /** Whether it is connecting, connected, or neither. */
  readonly state: ConnectorState;
  /** Starts a new attempt (only while `disconnected`; otherwise does nothing). */
  connect(): void;
  /**
   * Schedules `connect()` after `seconds` on `clock`. While the call is pending
   * the connector counts as still trying (the `connectTCP` promise stays pending).
   */
  connectAfter(seconds: number, clock: Clock): DelayedCall;
  /** Cancels an attempt in progress or a scheduled one; the factory hears `clientConnectionFailed` for an attempt in progress. */
  stopConnecting(): void;
  /** Closes the connection whatever its state: stops connecting, or flushes and closes. */
  disconnect(): void;
}

/**
 * A factory for outgoing connections. Twisted's `ClientFactory`.
 *
 * `connectTCP` calls `startedConnecting` for each attempt, `buildProtocol`
 * once the socket is up, `clientConnectionFailed` when an attempt fails and
 * `clientConnectionLost` after the protocol's `connectionLost`.
 */
export class ClientFactory<P extends Protocol = Protocol> extends Factory<P> {
  /**
   * The clock for connect timeouts, reconnect delays and the protocols'
   * `callLater`. Replace it with a fake clock in tests.
   */
  clock: Clock = realClock;

  /** Builds a client factory whose `buildProtocol` instantiates `protocol`. */
  static override forProtocol<P extends Protocol>(protocol: ProtocolClass<P>, options?: Record<string, unknown>): ClientFactory<P> {
    const factory = new ClientFactory<P>();
    factory.protocol = protocol;
    if (options) factory.options = options;
    return factory;
  }

  /** Called when an attempt starts. */
  startedConnecting(_connector: Connector): void {}

  /** Called when an attempt fails: `ConnectError` (refused, cancelled…) or `ConnectTimeoutError`. */
  clientConnectionFailed(_connector: Connector, _reason: Error): void {}

  /** Called after the protocol's `connectionLost`, with the same reason. */
  clientConnectionLost(_connector: Connector, _reason: Error): void {}
}

/** True when `factory` has the client factory callbacks (by shape: two copies of skein may be loaded). */
export function isClientFactory(factory: Factory): factory is ClientFactory {
  return typeof (factory as Partial<ClientFactory>).clientConnectionFailed === 'function';
}
