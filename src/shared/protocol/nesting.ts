/**
 * Running one protocol on another's connection: a wrapper forwarding to the
 * protocol it wraps (policies/wrapping.ts), or a connection handed over after
 * an upgrade (the WebSocket handover). The inner protocol's failures go where
 * the outer one's go (its driver logs, counts and aborts), and it is released
 * when its connection ends. The driver's link itself stays module-private.
 */
import { LINK, METER, RELEASE } from './link.js';
import type { MessageMeter } from './message-meter.js';
import { reportFailure, type Protocol } from './protocol.js';

export { reportFailure };

/**
 * Sends `inner`'s failures and `closeWithError` to `outer`'s driver; with
 * `meter`, its frames are counted and timed by `outer`'s meter too.
 */
export function nestProtocol(outer: Protocol, inner: Protocol, { meter = false }: { meter?: boolean } = {}): void {
  inner[LINK] = {
    fail: (error) => reportFailure(outer, error),
    protocolError: (error) => outer.closeWithError(error),
    countedError: (error) => outer.countProtocolError(error),
  };
  if (meter) inner[METER] = outer[METER];
}

/** The meter timing `protocol`'s frames, when metrics are on. */
export function meterOf(protocol: Protocol): MessageMeter | undefined {
  return protocol[METER];
}

/** Ends a nested protocol after its `connectionLost`: drops its queued replies, cancels its tasks and timers. */
export function releaseProtocol(protocol: Protocol): void {
  protocol[RELEASE]();
}
