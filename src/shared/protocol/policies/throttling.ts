import type { DelayedCall } from '../clock.js';
import { RELEASE } from '../link.js';
import type { Factory } from '../factory.js';
import type { Protocol } from '../protocol.js';
import { ProtocolWrapper, WrappingFactory } from './wrapping.js';

/** Byte-rate limits of a {@link ThrottlingFactory}, over all its connections together. */
export interface ThrottlingOptions {
  /** Bytes per second read from all connections; above it, reading pauses. */
  readonly readLimit?: number;
  /** Bytes per second written to all connections; above it, registered producers pause. */
  readonly writeLimit?: number;
}

const THROTTLE = 'throttle';

/** The wrapper a {@link ThrottlingFactory} puts around each protocol: counts bytes both ways. */
export class ThrottlingProtocol extends ProtocolWrapper {
  constructor(
    wrapped: Protocol,
    private readonly throttle: ThrottlingFactory,
  ) {
    super(wrapped);
  }

  override connectionMade(): void | Promise<void> {
    this.throttle.connections.add(this);
    if (this.throttle.readsThrottled) this.wrappedTransport.pauseReading(THROTTLE);
    return super.connectionMade();
  }

  override dataReceived(data: Buffer): void | Promise<void> {
    this.throttle.readThisSecond += data.length;
    return super.dataReceived(data);
  }

  override written(bytes: number): void {
    this.throttle.writtenThisSecond += bytes;
  }

  /** @internal */
  override [RELEASE](): void {
    this.throttle.connections.delete(this);
    super[RELEASE]();
  }
}

/**
 * Limits the byte rate of every connection a factory serves, together.
 * Twisted's `policies.ThrottlingFactory`.
 *
 * Once a second it compares the bytes of the last second with the limits.
 * Over the read limit, every connection stops reading long enough to bring
 * the average back to the limit; over the write limit, the producers the
 * protocols registered are paused likewise (plain writes are never dropped).
 * Timing uses the reactor clock, so a fake clock drives it in tests.
 *
 * ```ts
 * export default new ThrottlingFactory(Factory.forProtocol(Echo), { readLimit: 1_000_000 });
 * ```
 */
export class ThrottlingFactory extends WrappingFactory {
  /** @internal */
  readonly connections = new Set<ThrottlingProtocol>();
  /** Bytes read in the current one-second window. */
  readThisSecond = 0;
  /** Bytes written in the current one-second window. */
  writtenThisSecond = 0;
  /** True while reading is paused for the read limit. */
  readsThrottled = false;
  /** True while producers are paused for the write limit. */
  writesThrottled = false;
  private readonly timers = new Set<DelayedCall>();

  constructor(
    wrapped: Factory,
    /** The byte-rate limits, over all connections of this factory. */
    readonly limits: ThrottlingOptions,
  ) {
    super(wrapped);
    for (const key of ['readLimit', 'writeLimit'] as const) {
      const v = limits[key];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new TypeError(`options.${key} must be a positive number of bytes per second`);
    }
  }

  override wrapProtocol(inner: Protocol): ProtocolWrapper {
    return new ThrottlingProtocol(inner, this);
  }

  override async startFactory(): Promise<void> {
    await super.startFactory();
    if (this.limits.readLimit !== undefined) this.every(1, () => this.checkReadBandwidth());
    if (this.limits.writeLimit !== undefined) this.every(1, () => this.checkWriteBandwidth());
  }

  override async stopFactory(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    await super.stopFactory();
  }

  private checkReadBandwidth(): void {
    const limit = this.limits.readLimit!;
    if (this.readThisSecond > limit && !this.readsThrottled) {
      this.readsThrottled = true;
      for (const p of this.connections) p.wrappedTransport.pauseReading(THROTTLE);
      this.once(this.readThisSecond / limit - 1, () => {
        this.readsThrottled = false;
        for (const p of this.connections) p.wrappedTransport.resumeReading(THROTTLE);
      });
    }
    this.readThisSecond = 0;
  }

  private checkWriteBandwidth(): void {
    const limit = this.limits.writeLimit!;
    if (this.writtenThisSecond > limit && !this.writesThrottled) {
      this.writesThrottled = true;
      for (const p of this.connections) p.wrappedTransport.producer?.pauseProducing?.();
      this.once(this.writtenThisSecond / limit - 1, () => {
        this.writesThrottled = false;
        for (const p of this.connections) p.wrappedTransport.producer?.resumeProducing();
      });
    }
    this.writtenThisSecond = 0;
  }

  private every(seconds: number, fn: () => void): void {
    const tick = () => {
      this.timers.delete(call);
      fn();
      call = this.reactor!.clock.callLater(seconds, tick);
      this.timers.add(call);
    };
    let call = this.reactor!.clock.callLater(seconds, tick);
    this.timers.add(call);
  }

  private once(seconds: number, fn: () => void): void {
    const call = this.reactor!.clock.callLater(seconds, () => {
      this.timers.delete(call);
      fn();
    });
    this.timers.add(call);
  }
}
