/**
 * The `http` protocol's timeouts (headers, request, keep-alive idle) without a
 * timer per request: one sweep per factory (the reactor's kind, see
 * shared/protocol/sweep.ts) visits each open connection a few times per second,
 * and the connection compares what changed since the last visit. A request
 * costs nothing here; a timeout fires no earlier than its limit and at most one
 * sweep interval later.
 */
import type { Clock } from '../../shared/protocol/clock.js';
import { Sweep, sweepInterval } from '../../shared/protocol/sweep.js';
import type { HttpLimits } from './limits.js';

/** What a connection registers: called on each sweep with the clock's seconds. */
export type TimeoutCheck = (now: number) => void;

export type TimeoutSweep = Sweep<TimeoutCheck>;

/** The sweep of one factory's connections, paced by its shortest timeout. */
export function timeoutSweep(limits: HttpLimits, clock: () => Clock): TimeoutSweep {
  const shortest = Math.min(limits.keepAliveTimeout, limits.headersTimeout, limits.requestTimeout);
  return new Sweep<TimeoutCheck>(sweepInterval(shortest), clock, (check, now) => check(now));
}
