/**
 * Running one protocol on another's connection: a wrapper forwarding to the
 * protocol it wraps (policies/wrapping.ts), or a connection handed over after
 * an upgrade (the WebSocket handover). The inner protocol's failures go where
 * the outer one's go (its driver logs, counts and aborts), and it is released
 * when its connection ends. The driver's link itself stays module-private.
 */
import { LINK, METER, RELEASE, type ProtocolLink } from './link.js';
import type { MessageMeter } from './message-meter.js';
import { reportFailure, type AnyProtocol } from './protocol.js';

export { reportFailure };

/**
 * Sends `inner`'s failures and `closeWithError` to `outer`'s driver; with
 * `meter`, its frames are counted and timed by `outer`'s meter too.
 */
export function nestProtocol(outer: AnyProtocol, inner: AnyProtocol, { meter = false }: { meter?: boolean } = {}): void {
  inner[LINK] = new NestedLink(outer);
  if (meter) inner[METER] = outer[METER];
}

/** An inner protocol's link to its outer one: one small object per connection, no closures. */
class NestedLink implements ProtocolLink {
  constructor(private readonly outer: AnyProtocol) {}

  linkFailure(error: unknown): void {
    reportFailure(this.outer, error);
  }

  linkProtocolError(error: Error): void {
    this.outer.closeWithError(error);
  }

  linkCountedError(error: Error): void {
    this.outer.countProtocolError(error);
  }
}

/** The meter timing `protocol`'s frames, when metrics are on. */
export function meterOf(protocol: AnyProtocol): MessageMeter | undefined {
  return protocol[METER];
}

/** Ends a nested protocol after its `connectionLost`: drops its queued replies, cancels its tasks and timers. */
export function releaseProtocol(protocol: AnyProtocol): void {
  protocol[RELEASE]();
}
