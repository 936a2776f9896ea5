import type { Address } from './address.js';
import type { Protocol } from './protocol.js';
import type { ReactorServices } from './services.js';

/** Marks skein factories so they are recognised by shape even across two copies of skein. */
export const FACTORY_BRAND = Symbol.for('skein.factory');

/** A constructor of protocols that takes no arguments. */
export type ProtocolClass<P extends Protocol = Protocol> = new () => P;

/**
 * Builds one protocol per connection. Twisted's `Factory`.
 *
 * Subclass it to keep state shared by all connections of a service, or use
 * {@link Factory.forProtocol}. One instance runs in each worker process.
 */
export class Factory<P extends Protocol = Protocol> {
  /** Marks a skein factory (recognised across two copies of skein). */
  readonly [FACTORY_BRAND] = true;

  /** The protocol class `buildProtocol` instantiates. */
  protocol?: ProtocolClass<P>;

  /** Service options from the config file's service entry (or `serve()`), set before `startFactory`. */
  options: Readonly<Record<string, unknown>> = {};

  /**
   * Module whose named exports are the processors this factory's protocols
   * may `offload` to (absolute path, file URL, or `import.meta.resolve` result).
   */
  processors?: string | URL;

  /** Name used for the `protocol` label of metrics; the reactor sets it from the service name. */
  protocolName = 'unknown';

  /** The reactor running this factory: set before `startFactory`, cleared after `stopFactory`. */
  reactor: ReactorServices | undefined;

  private numPorts = 0;

  /** Builds a factory whose `buildProtocol` instantiates `protocol`. */
  static forProtocol<P extends Protocol>(protocol: ProtocolClass<P>, options?: Record<string, unknown>): Factory<P> {
    const factory = new Factory<P>();
    factory.protocol = protocol;
    if (options) factory.options = options;
    return factory;
  }

  /**
   * Called once per connection with the peer's address. Return a protocol, or
   * `null` to refuse the connection (it is closed and counted as
   * `refused_by_factory`).
   */
  buildProtocol(_addr: Address): P | null {
    if (!this.protocol) throw new TypeError('Factory.protocol is not set and buildProtocol is not overridden');
    const protocol = new this.protocol();
    protocol.factory = this as unknown as Factory;
    return protocol;
  }

  /** Called before the first listener starts. May return a promise. */
  startFactory(): void | Promise<void> {}

  /** Called after the last listener stops (shutdown or reload). May return a promise. */
  stopFactory(): void | Promise<void> {}

  /** @internal Reference-counted start, called by the reactor for each listener. */
  async doStart(reactor: ReactorServices): Promise<void> {
    this.reactor = reactor;
    if (this.numPorts++ === 0) await this.startFactory();
  }

  /** @internal Reference-counted stop, called by the reactor for each listener. */
  async doStop(): Promise<void> {
    if (this.numPorts === 0) return;
    if (--this.numPorts === 0) await this.stopFactory();
  }
}

/** True when `value` is a skein factory (by brand or by shape). */
export function isFactory(value: unknown): value is Factory {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<PropertyKey, unknown>;
  return v[FACTORY_BRAND] === true || (typeof v.buildProtocol === 'function' && typeof v.doStart === 'function');
}
