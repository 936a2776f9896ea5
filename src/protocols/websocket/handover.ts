/**
 * Hands a connection from the protocol that read the upgrade request (the
 * plain WebSocket endpoint's, or `http`'s) to a WebSocket session. The
 * protocol the reactor drives stays in place and forwards its events to the
 * session; the author's WebSocketProtocol gets the same transport, metrics
 * meter and failure reporting as the outer protocol.
 */
import type { Protocol } from '../../shared/protocol/protocol.js';
import type { Sweep } from '../../shared/protocol/sweep.js';
import { nestProtocol } from '../../shared/protocol/nesting.js';
import type { HttpRequest } from '../http/request.js';
import { PerMessageDeflate } from './deflate.js';
import type { Agreement } from './handshake.js';
import type { WebSocketOptions } from './options.js';
import { SESSION, type WebSocketProtocol } from './protocol.js';
import { WebSocketSession } from './session.js';

/**
 * Opens a WebSocket on `outer`'s connection with `ws` as its protocol, after
 * the 101 response was written: `connectionMade` is called, then `leftover`
 * (bytes the client sent after its request) is parsed as frames.
 * The caller forwards `dataReceived`, `connectionLost`, `readConnectionLost`
 * and `drain` to the returned session. Failures of `ws` (a rejected hook,
 * `closeWithError`) are reported through `outer`, whose driver counts them.
 */
export function openSession(
  outer: Protocol,
  ws: WebSocketProtocol,
  request: HttpRequest,
  agreement: Agreement,
  options: WebSocketOptions,
  leftover: Buffer,
  /** The service's ping sweep (absent when `pingInterval` is 0). */
  sweep: Sweep<WebSocketSession> | undefined,
): WebSocketSession {
  ws.request = request;
  ws.subprotocol = agreement.subprotocol;
  ws.extensions = agreement.extensions;
  // The WebSocket factory may never have been started by a reactor (a handler's own factory): lend it the outer's.
  if (ws.factory && !ws.factory.reactor) ws.factory.reactor = outer.factory?.reactor;
  // Failures of the inner protocol are the outer connection's: counted, logged and aborted by its driver.
  nestProtocol(outer, ws, { meter: true });
  ws.transport = outer.transport;
  ws.connected = true;
  const deflate = agreement.deflate && options.perMessageDeflate ? new PerMessageDeflate(agreement.deflate, options.perMessageDeflate) : undefined;
  const session = new WebSocketSession(ws, outer, options, deflate, sweep);
  ws[SESSION] = session;
  session.open();
  if (leftover.length > 0 && ws.connected) session.dataReceived(leftover);
  return session;
}
