/**
 * HTTP/1.1 (and 1.0) as a skein Protocol: requests are parsed as bytes arrive,
 * handed to the factory's handler, and answered in request order through
 * `Protocol.reply`, even when handlers (or the work they offload) finish out of
 * order. Keep-alive, pipelining, `Connection: close`, `Expect: 100-continue`,
 * chunked request bodies and streamed (chunked) responses are handled here;
 * a request the parser refuses never reaches the handler.
 */
import type { Address } from '../../shared/protocol/address.js';
import type { DelayedCall } from '../../shared/protocol/clock.js';
import { LENT_READS } from '../../shared/protocol/link.js';
import { meterOf } from '../../shared/protocol/nesting.js';
import { Protocol } from '../../shared/protocol/protocol.js';
import { FRAMES_PER_TURN } from '../../shared/protocol/framing/buffered-receiver.js';
import type { SkeinError } from '../../shared/protocol/errors.js';
import { hasFrameFlow, type OffloadOptions } from '../../shared/protocol/services.js';
import { HttpExpectationFailedError, HttpRequestTimeoutError } from '../../shared/protocol/errors.js';
import { keepsConnection, statusOf } from './errors.js';
import type { HttpLimits } from './limits.js';
import { Expectation, HttpRequestParser, ParserPhase } from './parser.js';
import type { HttpRequest } from './request.js';
import {
  isStreamBody,
  serializeResponse,
  serializeStreamHead,
  STATUS_REASONS,
  type HttpHandlerResult,
  type HttpResponse,
  type ResponseContext,
} from './response.js';
import { asksToUpgrade, isProtocolSwitch, SWITCH_PROTOCOLS, type ProtocolSwitch, type SwitchDecision, type SwitchedConnection } from './switch.js';
import type { TimeoutCheck, TimeoutSweep } from './timeouts.js';
import { ResponseTurns, writeBody } from './stream.js';

/** What a handler gets besides the request: the connection's peer and the offload pool. */
export interface HttpConnection {
  /** The client's address. */
  readonly peer: Address;
  /** Runs a processor of the factory's processors module on a pool thread (see `Protocol.offload`). */
  offload<T = unknown>(task: string, payload?: unknown, options?: OffloadOptions): Promise<T>;
}

/**
 * Answers one request. May return a promise; responses still leave in request
 * order. A throw or rejection is answered 500 (the connection stays usable).
 */
export type HttpHandler = (
  request: HttpRequest,
  connection: HttpConnection,
) => HttpHandlerResult | ProtocolSwitch | PromiseLike<HttpHandlerResult | ProtocolSwitch>;

/** What an `http` protocol needs from its factory. */
export interface HttpService {
  readonly limits: HttpLimits;
  readonly handler: HttpHandler;
  readonly sweep: TimeoutSweep;
  /** `Connection: keep-alive\r\nKeep-Alive: timeout=N\r\n`. */
  readonly keepAliveFields: string;
  /** Told about handler failures (logged by the factory). */
  handlerFailed(error: unknown, request: HttpRequest): void;
}

/** One response in the queue: what happens once it has been written. */
interface Pending extends ResponseContext {
  /** Its slot in the reply queue (0, 1, 2… per connection). */
  seq: number;
  /** The request asks to switch protocols: reading waits until its answer is written. */
  upgrade?: boolean;
  /** Its answer switched protocols: the connection is handed over once the 101 head is written. */
  switchTo?: Extract<SwitchDecision, { accepted: true }>;
}

/**
 * What handlers get as their {@link HttpConnection}: the peer and offload, and no way to the protocol.
 * A class rather than a frozen literal with a getter: built once per connection, that literal cost
 * about 0.7 µs, a class instance a few nanoseconds.
 */
class ConnectionView implements HttpConnection {
  readonly #protocol: Protocol;

  constructor(protocol: Protocol) {
    this.#protocol = protocol;
  }

  get peer(): Address {
    return this.#protocol.transport.getPeer();
  }

  offload<T = unknown>(task: string, payload?: unknown, options?: OffloadOptions): Promise<T> {
    return this.#protocol.offload<T>(task, payload, options);
  }
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Seconds a draining connection with nothing to answer stays open for a request
 * already on its way (a keep-alive client sends its next request as soon as it
 * has the last response); that request is answered with `Connection: close`.
 */
export const DRAIN_IDLE_GRACE = 1;

/**
 * The `http` protocol. Responses go through `Protocol.reply` (in request
 * order); each carries what must happen once it is written (close the
 * connection, let a streamed body start), applied in `replyWritten`. Handlers
 * receive a small {@link HttpConnection} view, never the protocol itself.
 */
export class HttpProtocol extends Protocol {
  /** The parser copies what it keeps and a switched-to protocol is given copies: reads may be lent. */
  get [LENT_READS](): true {
    return true;
  }

  private service!: HttpService;
  private parser!: HttpRequestParser;
  /** What handlers receive. */
  private connection!: HttpConnection;
  /** What the timeout sweep calls. */
  private timeoutCheck!: TimeoutCheck;
  /** Contexts of queued responses, oldest first (one per queued reply). */
  private readonly inFlight: Array<Pending | undefined> = [];
  private expectationFailed = false;
  /** No more requests will be read; the connection closes after the last queued response. */
  private closing = false;
  private pipelinePaused = false;
  private draining = false;
  /** Closes a draining connection that stayed idle through the grace. */
  private drainGrace: DelayedCall | undefined;
  /** The peer half-closed its side. */
  private peerDone = false;
  /** Replies pushed to the queue. */
  private pushed = 0;
  /** The order streamed responses take their turn in. */
  private readonly turns = new ResponseTurns();
  private written = 0;
  // Timeout bookkeeping, updated by the sweep only.
  private seenStarted = 0;
  private seenPhase = -1;
  private seenWritten = 0;
  private requestSince = 0;
  private phaseSince = 0;
  /** After a 101 (a WebSocket upgrade), the protocol that has the connection. */
  private switched: SwitchedConnection | undefined;
  /** A switch whose 101 was written while the parser ran: it happens when the parser returns. */
  private switchAfterParse: Extract<SwitchDecision, { accepted: true }> | undefined;
  /** Parser calls in progress (execute or resume). */
  private parsing = 0;
  /** An upgrade request waits for its answer: parsing stays stopped whatever else is written. */
  private awaitingUpgrade = false;
  /**
   * The parser stopped with input left (its budget of lines for one turn was
   * spent, or reading paused: unsent output above the high-water mark, a full
   * pool queue) and the transport will deliver an empty chunk once reading may
   * go on; it reads nothing from the peer meanwhile.
   */
  private heldBack = false;
  /** Set by `request` when the parser should stop until reading may go on. */
  private stopForTurn = false;

  override connectionMade(): void {
    this.service = this.factory as unknown as HttpService;
    // As node:http does: a response must not wait for the ACK of the previous one (Nagle + delayed ACK).
    this.transport.setTcpNoDelay(true);
    this.parser = new HttpRequestParser(this.service.limits, {
      headComplete: (request, expect) => this.headComplete(request, expect),
      request: (request) => this.request(request),
      error: (error) => this.error(error),
    });
    // A read of tiny lines (64 KiB of CRLF, of 1-byte chunks) is parsed in slices, one per turn of the event loop.
    if (hasFrameFlow(this.transport)) this.parser.linesPerRun = FRAMES_PER_TURN;
    this.connection = new ConnectionView(this);
    this.timeoutCheck = (now) => this.checkTimeouts(now);
    const now = this.service.sweep.now();
    this.requestSince = now;
    this.phaseSince = now;
    this.service.sweep.add(this.timeoutCheck);
  }

  override dataReceived(data: Buffer): void {
    // The switched-to protocol may keep what it is given; this chunk is lent (see LENT_READS).
    if (this.switched) return this.switched.dataReceived(Buffer.from(data));
    if (data.length === 0 && this.heldBack) {
      // The transport's turn for what the parser held back (see heldBack).
      this.heldBack = false;
      this.parse(undefined);
      return;
    }
    this.parse(data);
  }

  override connectionLost(reason: Error): void | Promise<void> {
    this.drainGrace?.cancel();
    this.service.sweep.delete(this.timeoutCheck);
    this.parser.finish();
    this.inFlight.length = 0;
    return this.switched?.connectionLost(reason);
  }

  /**
   * The peer half-closed: it will send nothing more. Answer every request it
   * completed, then close (as node:http does); an unfinished request is dropped.
   */
  override readConnectionLost(): void {
    if (this.switched) return this.switched.readConnectionLost();
    this.peerDone = true;
    this.closeIfAnswered();
  }

  /**
   * Shutdown or reload: every request already received is answered; a request
   * read from now on is answered with `Connection: close` and the connection
   * closes after it. A connection with nothing to answer waits
   * {@link DRAIN_IDLE_GRACE} for a request already on its way, then closes.
   */
  override drain(): void {
    if (this.switched) return this.switched.drain();
    this.draining = true;
    if (this.pendingReplies === 0 && !this.heldBack && this.parser.phase === ParserPhase.Idle) this.closeWhenStillIdle();
  }

  /** Draining and idle: close unless a request arrives within the grace (it is then answered and closes the connection). */
  private closeWhenStillIdle(): void {
    this.drainGrace ??= this.callLater(DRAIN_IDLE_GRACE, () => {
      if (this.pendingReplies === 0 && !this.heldBack && this.parser.phase === ParserPhase.Idle) this.closeNow();
    });
  }

  // The parser's events

  private headComplete(_request: HttpRequest, expect: Expectation): void {
    if (expect === Expectation.Unsupported) this.expectationFailed = true;
    else if (expect === Expectation.Continue) this.push(CONTINUE, undefined);
  }

  private request(request: HttpRequest): boolean {
    // One message per request: skein_messages_total, and timed to its response's write.
    this.frameReceived();
    const ctx: Pending = {
      seq: this.pushed,
      head: request.method === 'HEAD',
      keepAlive: request.keepAlive && !this.draining,
      http10: request.httpVersion === '1.0',
      keepAliveFields: this.service.keepAliveFields,
    };
    if (!ctx.keepAlive) this.stopReading();
    // What follows an upgrade request may be another protocol's bytes: read nothing more until it is answered.
    if (ctx.keepAlive && asksToUpgrade(request)) {
      ctx.upgrade = true;
      this.awaitingUpgrade = true;
      this.pipelinePaused = true;
      this.transport.pauseProducing();
    }
    if (this.expectationFailed) {
      this.expectationFailed = false;
      this.push(errorResponse(new HttpExpectationFailedError(`unsupported expectation: ${request.headers.expect ?? ''}`), ctx), ctx);
    } else {
      this.dispatch(request, ctx);
    }
    if (ctx.upgrade) return false;
    if (this.pendingReplies >= this.service.limits.maxPipelinedRequests && !this.closing) {
      this.pipelinePaused = true;
      this.transport.pauseProducing();
      return false;
    }
    // Reading paused (responses past the high-water mark, a full pool queue): the requests already
    // read wait as unread bytes would, rather than each becoming a request and a queued response now.
    if (!this.closing && hasFrameFlow(this.transport) && this.transport.readingPaused) {
      this.stopForTurn = true;
      return false;
    }
    return true;
  }

  private error(error: SkeinError): void {
    // A refused request (400, 413, 414, 431, 501, 505) counts by code; the peer gets its status.
    this.countProtocolError(error);
    const ctx: Pending = { seq: this.pushed, head: false, keepAlive: keepsConnection(error), http10: false, keepAliveFields: this.service.keepAliveFields };
    if (!ctx.keepAlive) this.stopReading();
    this.push(errorResponse(error, ctx), ctx);
  }

  // Timeouts

  /** Called by the factory's sweep with the clock's seconds. */
  private checkTimeouts(now: number): void {
    if (this.closing && this.pendingReplies === 0) return;
    const parser = this.parser;
    parser.trim();
    const started = parser.requestsStarted;
    const phase = parser.phase;
    if (started !== this.seenStarted) {
      this.seenStarted = started;
      this.requestSince = now;
    }
    if (phase !== this.seenPhase || this.written !== this.seenWritten) {
      this.seenPhase = phase;
      this.seenWritten = this.written;
      this.phaseSince = now;
    }
    const limits = this.service.limits;
    switch (phase) {
      case ParserPhase.Idle:
        if (this.pendingReplies > 0) return;
        if (started === 0 && this.written === 0) {
          // A connection that never sent a request: node:http gives it headersTimeout, then 408.
          if (now - this.requestSince >= limits.headersTimeout) this.timedOut('no request within headersTimeout');
        } else if (now - this.phaseSince >= limits.keepAliveTimeout) {
          this.closeNow();
        }
        return;
      case ParserPhase.Head:
        if (now - this.requestSince >= limits.headersTimeout) this.timedOut(`request head not received within ${limits.headersTimeout} s`);
        return;
      case ParserPhase.Body:
        if (now - this.requestSince >= limits.requestTimeout) this.timedOut(`request not received within ${limits.requestTimeout} s`);
        return;
    }
  }

  // internals

  private dispatch(request: HttpRequest, ctx: Pending): void {
    let result: ReturnType<HttpHandler>;
    try {
      result = this.service.handler(request, this.connection);
    } catch (error) {
      this.service.handlerFailed(error, request);
      this.push(internalError(ctx), ctx);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      this.push(
        Promise.resolve(result).then(
          (value) => this.serialize(value, ctx, request),
          (error: unknown) => {
            this.service.handlerFailed(error, request);
            return internalError(ctx);
          },
        ),
        ctx,
      );
      return;
    }
    this.push(this.serialize(result as HttpHandlerResult | ProtocolSwitch, ctx, request), ctx);
  }

  /** The response's bytes, or for a streamed body the promise of its last chunk. */
  private serialize(result: HttpHandlerResult | ProtocolSwitch, ctx: Pending, request: HttpRequest): string | Buffer | Promise<string> {
    try {
      if (isProtocolSwitch(result)) return this.switchProtocols(result[SWITCH_PROTOCOLS](request), ctx);
      if (typeof result === 'object' && result !== null && !(result instanceof Uint8Array) && isStreamBody(result.body)) {
        return this.stream(result, ctx);
      }
      return serializeResponse(result, ctx);
    } catch (error) {
      this.service.handlerFailed(error, request);
      return internalError(ctx);
    }
  }

  /** A switch's answer: the 101 head (the connection is handed over once it is written), or its refusal (then close). */
  private switchProtocols(decision: SwitchDecision, ctx: Pending): string {
    if (decision.accepted) {
      ctx.switchTo = decision;
      return decision.head;
    }
    if (decision.error) meterOf(this)?.protocolError(decision.error.code);
    ctx.keepAlive = false;
    return decision.response;
  }

  /**
   * A streamed body. Its queue slot stays unsettled while the body streams, so
   * later responses wait behind it; once every earlier response is out (its
   * turn), the head and chunks are written straight to the transport, and the
   * slot settles with the last chunk.
   */
  private async stream(response: HttpResponse, ctx: Pending): Promise<string> {
    const head = serializeStreamHead(response, ctx);
    await this.turns.wait(ctx.seq);
    if (!this.connected) return '';
    this.transport.write(head.head);
    if (ctx.head) return '';
    const body = response.body as AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;
    return writeBody(this.transport, body, head.chunked, () => this.connected);
  }

  /** Queues a reply with the context that decides what happens once it is written. */
  private push(reply: string | Buffer | PromiseLike<string | Buffer>, ctx: Pending | undefined): void {
    this.inFlight.push(ctx);
    this.pushed++;
    this.reply(reply);
  }

  /** A response went out: apply its context (close, resume reading, let the next streamed body start). */
  override replyWritten(): void {
    const ctx = this.inFlight.shift();
    if (!this.connected) return;
    this.written++;
    this.turns.advance();
    if (ctx?.switchTo) return this.handOver(ctx.switchTo);
    if (ctx !== undefined && !ctx.keepAlive) {
      this.closeNow();
      return;
    }
    // An upgrade request answered with an ordinary response: HTTP goes on (`request` sees the flag cleared if this ran inside it).
    if (ctx?.upgrade) {
      ctx.upgrade = false;
      this.awaitingUpgrade = false;
    }
    if (this.pipelinePaused && !this.awaitingUpgrade && this.pendingReplies < this.service.limits.maxPipelinedRequests) {
      this.pipelinePaused = false;
      this.transport.resumeProducing();
      this.parse(undefined);
    }
    this.closeIfAnswered();
  }

  /**
   * After the peer's FIN, closes once every request it completed is answered;
   * while draining, starts the idle grace once nothing is left to answer.
   */
  private closeIfAnswered(): void {
    if (this.parsing > 0 || this.pendingReplies > 0 || this.pipelinePaused || this.heldBack) return;
    if (this.peerDone) this.closeNow();
    else if (this.draining && this.parser.phase === ParserPhase.Idle) this.closeWhenStillIdle();
  }

  /**
   * The 101 head is written: the switched-to protocol takes the connection, with
   * the bytes that followed the upgrade request. HTTP reads nothing more.
   */
  private handOver(decision: Extract<SwitchDecision, { accepted: true }>): void {
    // Answered while the parser runs (a synchronous handler): the bytes after the request are held once it returns.
    if (this.parsing > 0) {
      this.switchAfterParse = decision;
      return;
    }
    this.service.sweep.delete(this.timeoutCheck);
    const leftover = this.parser.detach();
    this.closing = true;
    this.switched = decision.open(this, leftover);
    if (this.pipelinePaused) {
      this.pipelinePaused = false;
      this.transport.resumeProducing();
    }
  }

  /**
   * Runs the parser on `data` (undefined: resumes it on what it holds); a protocol switch decided
   * meanwhile happens once it has stopped. No closure: this runs once per read.
   */
  private parse(data: Buffer | undefined): void {
    this.parsing++;
    try {
      if (data === undefined) this.parser.resume();
      else this.parser.execute(data);
    } finally {
      this.parsing--;
    }
    if (this.parsing > 0) return;
    const decision = this.switchAfterParse;
    if (decision) {
      this.switchAfterParse = undefined;
      this.handOver(decision);
      return;
    }
    if ((this.parser.yielded || this.stopForTurn) && !this.closing && hasFrameFlow(this.transport)) {
      this.stopForTurn = false;
      this.heldBack = true;
      this.transport.redeliverWhenReadable();
      return;
    }
    this.stopForTurn = false;
    if (this.peerDone) this.closeIfAnswered();
  }


  /** A reply promise rejected (serialization is guarded, so this is a bug): cut the connection (the driver counts it). */
  override replyFailed(error: unknown): void {
    this.inFlight.shift();
    this.turns.advance();
    throw error;
  }

  /**
   * Reads no more: the parser stops for good and the socket stops reading, so a
   * client that keeps sending after its last request (a 1 MiB request line
   * refused at 16 KiB) costs no more reads while its answer leaves.
   */
  private stopReading(): void {
    this.closing = true;
    this.parser.finish();
    this.heldBack = false;
    this.transport.pauseProducing();
  }

  private closeNow(): void {
    this.stopReading();
    this.transport.loseConnection();
  }

  private timedOut(message: string): void {
    const error = new HttpRequestTimeoutError(message);
    this.countProtocolError(error);
    const ctx: Pending = { seq: this.pushed, head: false, keepAlive: false, http10: false, keepAliveFields: this.service.keepAliveFields };
    this.stopReading();
    this.push(errorResponse(error, ctx), ctx);
  }
}

/** The response to a refused request: its status and a one-line reason. */
function errorResponse(error: SkeinError, ctx: ResponseContext): string | Buffer {
  const status = statusOf(error);
  return serializeResponse({ status, body: `${STATUS_REASONS[status] ?? 'Error'}: ${error.message}\n` }, ctx);
}

function internalError(ctx: ResponseContext): string | Buffer {
  return serializeResponse({ status: 500, body: 'Internal Server Error\n' }, ctx);
}
