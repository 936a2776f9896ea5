/**
 * `WebSocketFactory`: a WebSocket service. On a plain endpoint (`skein serve
 * ws-echo`, or a module that default-exports one) each connection starts with
 * an HTTP/1.1 upgrade request that the factory accepts or refuses; an `http`
 * handler may also hand an upgrade to one.
 */
import { realClock } from '../../shared/protocol/clock.js';
import type { ProtocolClass } from '../../shared/protocol/factory.js';
import { Factory } from '../../shared/protocol/factory.js';
import type { Protocol } from '../../shared/protocol/protocol.js';
import { Sweep, sweepInterval } from '../../shared/protocol/sweep.js';
import { HTTP_DEFAULTS, type HttpLimits } from '../http/limits.js';
import type { HttpRequest } from '../http/request.js';
import { extraHeaderLines, offeredSubprotocols } from './handshake.js';
import { resolveWebSocketOptions, type WebSocketOptions } from './options.js';
import { WebSocketProtocol } from './protocol.js';
import { WebSocketServerProtocol } from './server-protocol.js';
import type { WebSocketSession } from './session.js';

/** Accepting an upgrade: optionally with a subprotocol (one the client offered) and extra response headers. */
export interface UpgradeAcceptance {
  /** The subprotocol to agree on (must be one the client offered); default: the service's `subprotocols` preference. */
  readonly subprotocol?: string;
  /** Extra header fields of the 101 response (not Upgrade, Connection or Sec-WebSocket-*). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Refusing an upgrade: the HTTP status (400-599) and a one-line reason. */
export interface UpgradeRefusal {
  /** The HTTP status to answer the upgrade request with. */
  readonly status: number;
  /** The response body (default: the status's reason). */
  readonly message?: string;
}

/** What `accept` answers: true (or nothing) accepts, false refuses with 403, or one of the objects above. */
export type UpgradeAnswer = boolean | undefined | UpgradeAcceptance | UpgradeRefusal;

/** How to build a {@link WebSocketFactory}. */
export interface WebSocketFactoryInit<P extends WebSocketProtocol> {
  /** The WebSocketProtocol class each connection runs. */
  protocol?: ProtocolClass<P>;
  /** Service options: `maxMessageBytes`, `perMessageDeflate`, `subprotocols`, timeouts (see `WEBSOCKET_DEFAULTS`). */
  options?: Record<string, unknown>;
  /** Module of processors the protocol may offload to. */
  processors?: string | URL;
  /**
   * Decides each upgrade request on a plain endpoint (path, `Origin`,
   * cookies…). Called after the request was checked against RFC 6455.
   */
  accept?: (request: HttpRequest) => UpgradeAnswer;
}

/** The resolved decision on one request. */
/** The outcome of an upgrade request: accepted (with the subprotocol and extra header lines) or refused. */
export type UpgradeVerdict =
  | {
      /** The upgrade goes ahead. */
      accepted: true;
      /** The subprotocol selected (empty: none). */
      subprotocol: string;
      /** Extra header lines for the 101 response. */
      headerLines: string;
    }
  | {
      /** The upgrade is refused. */
      accepted: false;
      /** The HTTP status answered. */
      status: number;
      /** The response body. */
      message: string;
    };

/**
 * Serves WebSocket connections with a {@link WebSocketProtocol} class:
 *
 * ```ts
 * export default new WebSocketFactory({
 *   protocol: Echo,
 *   options: { perMessageDeflate: true },
 *   accept: (req) => req.path === '/echo' || { status: 404, message: 'no such endpoint' },
 * });
 * ```
 */
export class WebSocketFactory<P extends WebSocketProtocol = WebSocketProtocol> extends Factory<Protocol> {
  /** The WebSocketProtocol class `buildWebSocket` instantiates. */
  webSocketProtocol: new () => P;
  private readonly acceptHook: ((request: HttpRequest) => UpgradeAnswer) | undefined;
  private resolved: WebSocketOptions | undefined;
  private sweep: Sweep<WebSocketSession> | undefined;

  constructor(init: WebSocketFactoryInit<P> = {}) {
    super();
    this.webSocketProtocol = init.protocol ?? (WebSocketProtocol as unknown as new () => P);
    this.acceptHook = init.accept;
    if (init.processors !== undefined) this.processors = init.processors;
    if (init.options) this.options = init.options;
  }

  /** The service's options, resolved over `WEBSOCKET_DEFAULTS`. */
  get settings(): WebSocketOptions {
    return (this.resolved ??= resolveWebSocketOptions(this.options));
  }

  /**
   * @internal The sweep that checks this service's WebSockets for silence (one timer for all of them,
   * not one per connection); undefined when `pingInterval` is 0.
   */
  get pingSweep(): Sweep<WebSocketSession> | undefined {
    const { pingInterval, pingTimeout } = this.settings;
    if (pingInterval === 0) return undefined;
    return (this.sweep ??= new Sweep<WebSocketSession>(
      sweepInterval(Math.min(pingInterval, pingTimeout)),
      () => this.reactor?.clock ?? realClock,
      (session, now) => session.checkAlive(now),
    ));
  }

  /** @internal Limits of the upgrade request on a plain endpoint (the `http` defaults). */
  get httpLimits(): HttpLimits {
    return HTTP_DEFAULTS;
  }

  /**
   * Validates the options (before any connection).
   * @throws InvalidOptionError naming a bad option.
   */
  override startFactory(): void {
    this.resolved = resolveWebSocketOptions(this.options);
    // Paced by the options as resolved now; sessions on an earlier sweep stay on it until they end.
    this.sweep = undefined;
  }

  /** @internal A plain endpoint's connection: it reads the upgrade request, then runs the WebSocket. */
  override buildProtocol(): Protocol {
    const protocol = new WebSocketServerProtocol();
    protocol.factory = this as unknown as Factory;
    return protocol;
  }

  /** Builds the protocol of an accepted WebSocket; return null to refuse it (403). Override to choose per request. */
  buildWebSocket(_request: HttpRequest): P | null {
    const protocol = new this.webSocketProtocol();
    protocol.factory = this as unknown as Factory;
    return protocol;
  }

  /**
   * Decides on a valid upgrade request (plain endpoint): the `accept` hook's
   * answer, with the subprotocol chosen from the service's `subprotocols`
   * when the answer names none.
   * @throws TypeError when the answer names a subprotocol the client did not offer, or a bad header.
   */
  decide(request: HttpRequest): UpgradeVerdict {
    const answer = this.acceptHook ? this.acceptHook(request) : true;
    if (answer === false) return { accepted: false, status: 403, message: 'upgrade refused' };
    if (typeof answer === 'object' && answer !== null && 'status' in answer) {
      const status = answer.status;
      if (!Number.isInteger(status) || status < 400 || status > 599) throw new TypeError(`an upgrade refusal needs a status from 400 to 599 (got ${status})`);
      return { accepted: false, status, message: answer.message ?? 'upgrade refused' };
    }
    const acceptance = typeof answer === 'object' && answer !== null ? answer : {};
    return { accepted: true, subprotocol: this.chooseSubprotocol(request, acceptance.subprotocol), headerLines: extraHeaderLines(acceptance.headers) };
  }

  /** The subprotocol to agree on: `wanted` (checked against the offer), else the first of `subprotocols` the client offered, else `''`. */
  chooseSubprotocol(request: HttpRequest, wanted: string | undefined): string {
    const offered = offeredSubprotocols(request);
    if (wanted !== undefined && wanted !== '') {
      if (!offered.includes(wanted)) throw new TypeError(`subprotocol '${wanted}' was not offered by the client (offered: ${offered.join(', ') || 'none'})`);
      return wanted;
    }
    for (const p of this.settings.subprotocols) if (offered.includes(p)) return p;
    return '';
  }
}
