/**
 * The `http` protocol's timeouts (headers, request, keep-alive idle) without a
 * timer per request: one sweep per factory visits each open connection a few
 * times per second and compares what changed since its last visit. A request
 * costs nothing here; a timeout fires no earlier than its limit and at most one
 * sweep interval later.
 */
import { realClock, type Clock, type DelayedCall } from '../../shared/protocol/clock.js';
import type { HttpLimits } from './limits.js';

/** A connection the sweep looks after. */
export interface SweptConnection {
  /** Called on each sweep with the clock's seconds. */
  checkTimeouts(now: number): void;
}

export class TimeoutSweep {
  private readonly connections = new Set<SweptConnection>();
  private call: DelayedCall | undefined;
  private readonly interval: number;

  constructor(
    limits: HttpLimits,
    private readonly clock: () => Clock = () => realClock,
  ) {
    // A quarter of the shortest timeout keeps the overshoot small; never busier than 20 Hz nor lazier than 1 Hz.
    const shortest = Math.min(limits.keepAliveTimeout, limits.headersTimeout, limits.requestTimeout);
    this.interval = Math.min(1, Math.max(0.05, shortest / 4));
  }

  /** The clock's current seconds. */
  now(): number {
    return this.clock().seconds();
  }

  add(connection: SweptConnection): void {
    this.connections.add(connection);
    this.call ??= this.clock().callLater(this.interval, () => this.sweep());
  }

  delete(connection: SweptConnection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.call) {
      this.call.cancel();
      this.call = undefined;
    }
  }

  private sweep(): void {
    this.call = undefined;
    const now = this.now();
    for (const c of this.connections) c.checkTimeouts(now);
    if (this.connections.size > 0) this.call = this.clock().callLater(this.interval, () => this.sweep());
  }
}
