/**
 * The protocol of a plain WebSocket endpoint: reads the client's HTTP/1.1
 * upgrade request (with skein's strict HTTP parser), answers 101 or refuses
 * (400 with `Sec-WebSocket-Version: 13`, 426 for a plain HTTP request, 403 or
 * the factory's status), then carries the WebSocket.
 */
import { meterOf } from '../../shared/protocol/nesting.js';
import type { DelayedCall } from '../../shared/protocol/clock.js';
import { HttpRequestTimeoutError, type SkeinError } from '../../shared/protocol/errors.js';
import { Protocol } from '../../shared/protocol/protocol.js';
import { statusOf } from '../http/errors.js';
import { HttpRequestParser, type ParserEvents } from '../http/parser.js';
import type { HttpRequest } from '../http/request.js';
import type { SwitchedConnection } from '../http/switch.js';
import type { WebSocketFactory } from './factory.js';
import { refusalResponse } from './handshake.js';
import { decideUpgrade } from './upgrade.js';

export class WebSocketServerProtocol extends Protocol {
  private parser: HttpRequestParser | undefined;
  private pending: HttpRequest | undefined;
  private timer: DelayedCall | undefined;
  private switched: SwitchedConnection | undefined;

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
      error: (error) => this.refuse(refusalResponse(statusOf(error), error.message), error),
    };
    this.parser = new HttpRequestParser(service.httpLimits, events);
    const seconds = service.settings.handshakeTimeout;
    this.timer = this.callLater(seconds, () => {
      const error = new HttpRequestTimeoutError(`no complete upgrade request within ${seconds} s`);
      this.refuse(refusalResponse(408, error.message), error);
    });
  }

  override dataReceived(data: Buffer): void {
    if (this.switched) return this.switched.dataReceived(data);
    const parser = this.parser;
    if (!parser) return;
    parser.execute(data);
    if (this.pending) this.upgrade(this.pending, parser);
  }

  override connectionLost(reason: Error): void | Promise<void> {
    this.timer?.cancel();
    this.parser?.finish();
    return this.switched?.connectionLost(reason);
  }

  override readConnectionLost(): void {
    if (this.switched) this.switched.readConnectionLost();
    else this.transport.loseConnection();
  }

  override drain(): void {
    if (this.switched) this.switched.drain();
    else this.transport.loseConnection();
  }

  private upgrade(request: HttpRequest, parser: HttpRequestParser): void {
    this.pending = undefined;
    this.parser = undefined;
    this.timer?.cancel();
    this.timer = undefined;
    const leftover = parser.detach();
    const service = this.service;
    const decision = decideUpgrade(service, request, () => service.decide(request));
    if (!decision.accepted) return this.refuse(decision.response, decision.error);
    this.transport.write(decision.head);
    this.switched = decision.open(this, leftover);
  }

  private refuse(response: string, error: SkeinError | undefined): void {
    this.parser?.finish();
    this.parser = undefined;
    this.timer?.cancel();
    if (error) meterOf(this)?.protocolError(error.code);
    this.transport.write(response);
    this.transport.loseConnection();
  }
}
