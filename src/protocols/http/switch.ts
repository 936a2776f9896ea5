/**
 * Switching protocols (RFC 9110 §15.2.2): an `http` handler may answer a
 * request with a result that takes the connection over, such as a WebSocket
 * upgrade. The HTTP protocol asks the result for its decision when the
 * response's turn comes, writes the `101` head (or the refusal), and from then
 * on forwards the connection's events to what the switch opened.
 */
import type { SkeinError } from '../../shared/protocol/errors.js';
import type { Protocol } from '../../shared/protocol/protocol.js';
import type { HttpRequest } from './request.js';

/** Marks a handler result that switches protocols. */
export const SWITCH_PROTOCOLS = Symbol.for('skein.http.switch-protocols');

/** The connection once switched: the HTTP protocol forwards these events to it. */
export interface SwitchedConnection {
  dataReceived(data: Buffer): void;
  readConnectionLost(): void;
  drain(): void;
  connectionLost(reason: Error): void | Promise<void>;
}

/** What a switch decides for one request. */
export type SwitchDecision =
  /** Refused: `response` (a whole HTTP response) is written and the connection closes; `error` is counted when the request was invalid. */
  | { readonly accepted: false; readonly response: string; readonly error?: SkeinError }
  /** Accepted: `head` (the 101 response) is written, then `open` takes the connection with the bytes that followed the request. */
  | { readonly accepted: true; readonly head: string; open(outer: Protocol, leftover: Buffer): SwitchedConnection };

/** A handler result that switches protocols (see `webSocketUpgrade`). */
export interface ProtocolSwitch {
  [SWITCH_PROTOCOLS](request: HttpRequest): SwitchDecision;
}

/** True when a handler's result switches protocols. */
export function isProtocolSwitch(value: unknown): value is ProtocolSwitch {
  return typeof value === 'object' && value !== null && typeof (value as Partial<ProtocolSwitch>)[SWITCH_PROTOCOLS] === 'function';
}

/** True when a request asks to switch protocols (`Connection: upgrade` and an `Upgrade` field). */
export function asksToUpgrade(request: HttpRequest): boolean {
  const connection = request.headers.connection;
  if (request.headers.upgrade === undefined || connection === undefined) return false;
  return connection.split(',').some((t) => t.trim().toLowerCase() === 'upgrade');
}
