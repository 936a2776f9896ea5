/**
 * `WebSocketProtocol`: what a WebSocket author subclasses, in Twisted's style.
 * Its hooks are called for the WebSocket, not for the TCP connection under
 * it: `connectionMade` once the opening handshake is done, `messageReceived`
 * for each whole message, `connectionLost` with the close code.
 */
import type { WebSocketClosed } from '../../shared/protocol/errors.js';
import type { Factory } from '../../shared/protocol/factory.js';
import { Protocol } from '../../shared/protocol/protocol.js';
import type { HttpRequest } from '../http/request.js';
import { WebSocketFactory } from './factory.js';
import { InvalidStateError } from '../../shared/protocol/errors.js';
import type { MessageWriter, SendOptions, SessionHooks, WebSocketSession } from './session.js';

/** Marks WebSocket protocol classes (by shape across two copies of skein, like the Protocol brand). */
export const WEBSOCKET_BRAND = Symbol.for('skein.websocket-protocol');
/** @internal Where a protocol keeps its session. */
export const SESSION = Symbol('skein.websocket-session');

/**
 * One WebSocket connection (RFC 6455). Subclass it and override the hooks:
 *
 * ```ts
 * class Echo extends WebSocketProtocol {
 *   override messageReceived(data: Buffer, isBinary: boolean): void {
 *     this.sendMessage(data, { binary: isBinary });
 *   }
 * }
 * export default new WebSocketFactory({ protocol: Echo });
 * ```
 *
 * Pings are answered for you, a silent peer is pinged and then dropped
 * (`pingInterval`, `pingTimeout`), fragmented messages arrive whole (up to
 * `maxMessageBytes`, else close 1009), text is checked to be UTF-8 (else
 * 1007), and a peer that breaks the protocol is closed with 1002. `transport`,
 * `factory`, `callLater`, `offload` and `reply` work as on any Protocol.
 */
export class WebSocketProtocol extends Protocol implements SessionHooks {
  /** Marks WebSocket protocol classes (recognised across two copies of skein). */
  static readonly [WEBSOCKET_BRAND] = true;

  /**
   * The factory a module that default-exports this class is served with
   * (`skein serve ./my-ws.ts`): a plain WebSocket endpoint with the service's options.
   */
  static buildFactory(this: new () => WebSocketProtocol): Factory {
    return new WebSocketFactory({ protocol: this }) as unknown as Factory;
  }

  /** The upgrade request (path, query, headers such as Origin and Cookie). Set before `connectionMade`. */
  request!: HttpRequest;
  /** The subprotocol agreed with the client, or `''`. Set before `connectionMade`. */
  subprotocol = '';
  /** The `Sec-WebSocket-Extensions` agreed (`permessage-deflate; …`), or `''`. Set before `connectionMade`. */
  extensions = '';

  /** @internal */
  [SESSION]: WebSocketSession | undefined;

  /** Called once the WebSocket is open (the 101 response is on its way); `sendMessage` works from here. */
  override connectionMade(): void | Promise<void> {}

  /**
   * Called with each whole message: `data` is its bytes (a text message's are
   * valid UTF-8: `data.toString()`), `isBinary` says which kind it is. A
   * returned promise is followed: its rejection aborts the connection, and a
   * draining server closes only after the promises still pending settle.
   */
  messageReceived(_data: Buffer, _isBinary: boolean): void | Promise<void> {}

  /**
   * Set to true (`override streamMessages = true`) to receive each message in pieces as its bytes
   * arrive, the way autobahn's streaming API does: `messageStarted`, then `messageChunk` for each piece,
   * then `messageEnded`, instead of `messageReceived`. Nothing is buffered, so `maxMessageBytes` (still
   * the most a message may carry) can be large. A text message's pieces are checked as they come; a
   * piece may end inside a character (decode with `node:string_decoder`). A compressed message is
   * reassembled and decompressed first, then arrives as one piece. A message that breaks a rule midway
   * gets no `messageEnded`: the connection closes (1007, 1009…) and `connectionLost` says why.
   */
  streamMessages = false;

  /** Streaming (`streamMessages`): a message starts. */
  messageStarted(_isBinary: boolean): void {}

  /** Streaming (`streamMessages`): the next bytes of the current message (never empty). */
  messageChunk(_data: Buffer): void {}

  /**
   * Streaming (`streamMessages`): the current message is complete (a text one is valid UTF-8). A returned
   * promise is followed as `messageReceived`'s is.
   */
  messageEnded(): void | Promise<void> {}

  /** Called when a pong arrives (an answer to `ping`, or an unsolicited one). */
  pongReceived(_data: Buffer): void {}

  /**
   * Called exactly once when the WebSocket is gone, with a `WebSocketClosed`:
   * `closeCode` (the peer's, 1005 if it gave none, 1006 without a closing
   * handshake, or the code skein failed the connection with), `closeReason`,
   * `wasClean`, and the underlying error as `cause`.
   */
  override connectionLost(_reason: WebSocketClosed): void | Promise<void> {}

  /**
   * Sends one message: a string as text, bytes as binary (or as
   * `options.binary` says), compressed when permessage-deflate is on and the
   * message reaches its threshold, split into frames of `options.fragmentSize`
   * bytes when asked. Returns false, sending nothing, once the WebSocket is
   * closing or closed. A peer that does not read makes the transport pause
   * this connection's reading at its high-water mark; a protocol that sends
   * unasked should register a producer on its transport (`registerProducer`).
   */
  sendMessage(data: Buffer | Uint8Array | string, options?: SendOptions): boolean {
    return this[SESSION]?.send(data, options) ?? false;
  }

  /**
   * Starts a message sent in pieces, for one too large to hold or produced as it goes: each
   * `write(data)` of the returned writer sends one frame at once, `end(data?)` the last. It is not
   * compressed; pings and `close` may go out between its frames, `sendMessage` may not (it throws)
   * until `end`.
   *
   * ```ts
   * const out = this.beginMessage({ binary: true });
   * for (const block of blocks) out.write(block);
   * out.end();
   * ```
   * @throws InvalidStateError before the WebSocket is open, or while another message is being sent in pieces.
   */
  beginMessage(options: { readonly binary?: boolean } = {}): MessageWriter {
    const session = this[SESSION];
    if (!session) throw new InvalidStateError('the WebSocket is not open');
    return session.beginMessage(options.binary ?? true);
  }

  /** Sends a ping; the pong arrives at `pongReceived`. At most 125 bytes of payload. */
  ping(data?: Buffer | string): void {
    this[SESSION]?.ping(data);
  }

  /**
   * Starts the closing handshake with `code` (default: none, reported as 1005)
   * and a reason of at most 123 bytes. `connectionLost` follows once the peer
   * answers, or after `closeTimeout`.
   * @throws WebSocketInvalidCloseError for a code an endpoint may not send (1004-1006, 1015, below 1000…).
   */
  close(code?: number, reason?: string): void {
    this[SESSION]?.close(code, reason);
  }

  /** True while messages can be sent (open, and not closing). */
  get isOpen(): boolean {
    return this[SESSION]?.isOpen ?? false;
  }

  /**
   * Called when the server drains (shutdown or reload). The default closes
   * with 1001 (going away) once the messages being handled are done.
   */
  override drain(): void {
    this[SESSION]?.goAway();
  }
}

/** True when `value` is a WebSocketProtocol class (by brand). */
export function isWebSocketProtocolClass(value: unknown): value is new () => WebSocketProtocol {
  return typeof value === 'function' && (value as unknown as Record<PropertyKey, unknown>)[WEBSOCKET_BRAND] === true;
}
