/**
 * The protocol of a plain WebSocket endpoint: reads the client's HTTP/1.1
 * upgrade request (with skein's strict HTTP parser), answers 101 or refuses
 * (400 with `Sec-WebSocket-Version: 13`, 426 for a plain HTTP request, 403 or
 * the factory's status), then carries the WebSocket session.
 */
import type { DelayedCall } from '../../shared/protocol/clock.js';
import { HttpRequestTimeoutError, type SkeinError } from '../../shared/protocol/errors.js';
import { Protocol } from '../../shared/protocol/protocol.js';
import { statusOf } from '../http/errors.js';
import { HttpRequestParser, type ParserEvents } from '../http/parser.js';
import type { HttpRequest } from '../http/request.js';
import type { WebSocketFactory } from './factory.js';
import { acceptResponse, checkUpgrade, negotiate, refusalResponse } from './handshake.js';
import { closeSession, openSession } from './handover.js';
import type { WebSocketProtocol } from './protocol.js';
import type { WebSocketSession } from './session.js';

export class WebSocketServerProtocol extends Protocol {
  private parser: HttpRequestParser | undefined;
  private pending: HttpRequest | undefined;
  private timer: DelayedCall | undefined;
  private ws: WebSocketProtocol | undefined;
  private session: WebSocketSession | undefined;

  private get service(): WebSocketFactory {
    return this.factory as unknown as WebSocketFactory;
  }

  override connectionMade(): void {
    const service = this.service;
    // As node:http does: a reply must not wait for the ACK of the previous one (Nagle + delayed ACK).
    this.transport.setTcpNoDelay(true);
    const events: ParserEvents = {
      headComplete: () => {},
      request: (request) => {
        this.pending = request;
        return false;
      },
      error: (error) => this.refuse(statusOf(error), error),
    };
    this.parser = new HttpRequestParser(service.httpLimits, events);
    const seconds = service.settings.handshakeTimeout;
    this.timer = this.callLater(seconds, () => this.refuse(408, new HttpRequestTimeoutError(`no complete upgrade request within ${seconds} s`)));
  }

  override dataReceived(data: Buffer): void {
    if (this.session) return this.session.dataReceived(data);
    const parser = this.parser;
    if (!parser) return;
    parser.execute(data);
    if (this.pending) this.upgrade(this.pending, parser);
  }

  override connectionLost(reason: Error): void | Promise<void> {
    this.timer?.cancel();
    this.parser?.finish();
    if (this.ws && this.session) return closeSession(this.ws, this.session, reason);
  }

  override readConnectionLost(): void {
    if (this.session) this.session.readConnectionLost();
    else this.transport.loseConnection();
  }

  override drain(): void {
    if (this.ws) this.ws.drain();
    else this.transport.loseConnection();
  }

  private upgrade(request: HttpRequest, parser: HttpRequestParser): void {
    this.pending = undefined;
    this.parser = undefined;
    this.timer?.cancel();
    const leftover = parser.detach();
    const refusal = checkUpgrade(request);
    if (refusal) return this.refuse(refusal.status, refusal.error);
    const service = this.service;
    const verdict = service.decide(request);
    if (!verdict.accepted) return this.refuse(verdict.status, undefined, verdict.message);
    const ws = service.buildWebSocket(request);
    if (!ws) return this.refuse(403, undefined, 'refused by the factory');
    const settings = service.settings;
    const agreement = negotiate(request, verdict.subprotocol, settings.perMessageDeflate);
    this.transport.write(acceptResponse(request, agreement, verdict.headerLines));
    this.ws = ws;
    this.session = openSession(this, ws, request, agreement, settings, leftover);
  }

  private refuse(status: number, error: SkeinError | undefined, message = error?.message ?? ''): void {
    this.parser?.finish();
    this.parser = undefined;
    this.timer?.cancel();
    if (error) this.messageMeter?.protocolError(error.code);
    this.transport.write(refusalResponse(status, message));
    this.transport.loseConnection();
  }
}
