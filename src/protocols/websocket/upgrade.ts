/**
 * Accepting a WebSocket upgrade, whichever protocol read the request: the
 * plain WebSocket endpoint, or `http`, whose handler answers an upgrade
 * request with `webSocketUpgrade(factory, …)`. A handler refuses by answering
 * an ordinary response (403, 404…); an invalid upgrade request (bad key or
 * version) is answered 400 with `Sec-WebSocket-Version: 13` whatever the
 * handler chose.
 */
import type { Protocol } from '../../shared/protocol/protocol.js';
import type { HttpRequest } from '../http/request.js';
import { SWITCH_PROTOCOLS, type ProtocolSwitch, type SwitchDecision } from '../http/switch.js';
import type { UpgradeAcceptance, UpgradeVerdict, WebSocketFactory } from './factory.js';
import { acceptResponse, checkUpgrade, extraHeaderLines, negotiate, refusalResponse } from './handshake.js';
import { openSession } from './handover.js';
import type { WebSocketProtocol } from './protocol.js';

/**
 * Decides an upgrade request for `factory`: checks it against RFC 6455, then
 * asks `verdict` (the factory's `accept` hook, or a handler's choice), builds
 * the protocol, negotiates extensions, and returns the 101 head with the
 * function that opens the WebSocket, or the refusal to write.
 */
export function decideUpgrade(factory: WebSocketFactory<WebSocketProtocol>, request: HttpRequest, verdict: () => UpgradeVerdict): SwitchDecision {
  const invalid = checkUpgrade(request);
  if (invalid) return { accepted: false, response: refusalResponse(invalid.status, invalid.error.message), error: invalid.error };
  const answer = verdict();
  if (!answer.accepted) return { accepted: false, response: refusalResponse(answer.status, answer.message) };
  const ws = factory.buildWebSocket(request);
  if (!ws) return { accepted: false, response: refusalResponse(403, 'refused by the factory') };
  const settings = factory.settings;
  const agreement = negotiate(request, answer.subprotocol, settings.perMessageDeflate);
  return {
    accepted: true,
    head: acceptResponse(request, agreement, answer.headerLines),
    open: (outer: Protocol, leftover: Buffer) => openSession(outer, ws, request, agreement, settings, leftover, factory.pingSweep),
  };
}

/**
 * The `http` handler result that upgrades the request's connection to a
 * WebSocket served by `factory` (its protocol class and options:
 * `maxMessageBytes`, `perMessageDeflate`, `subprotocols`…).
 * `options.subprotocol` picks one the client offered (default: the factory's
 * `subprotocols` preference); `options.headers` go on the 101 response.
 *
 * ```ts
 * const chat = new WebSocketFactory({ protocol: Chat });
 * export default new HttpFactory({
 *   handler: (req) => (req.path === '/chat' ? webSocketUpgrade(chat) : { body: 'hello\n' }),
 * });
 * ```
 * @throws TypeError (answered 500) when `options.subprotocol` was not offered or a header is invalid.
 */
export function webSocketUpgrade(factory: WebSocketFactory<WebSocketProtocol>, options: UpgradeAcceptance = {}): ProtocolSwitch {
  return {
    [SWITCH_PROTOCOLS]: (request: HttpRequest): SwitchDecision =>
      decideUpgrade(factory, request, () => ({
        accepted: true,
        subprotocol: factory.chooseSubprotocol(request, options.subprotocol),
        headerLines: extraHeaderLines(options.headers),
      })),
  };
}
