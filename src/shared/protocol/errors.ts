/**
 * One errors module for all of skein. Every failure a user can see has a class
 * with a stable `code` (`SKEIN_ERR_*`) and a default message. Errors that cross
 * a thread or a process travel as `{ name, code, message }` and are rebuilt typed
 * on the other side with {@link deserializeError}.
 */

/**
 * Base class of every error skein raises, and of your own (`new SkeinError('APP_ERR_X', '…')`, or a
 * subclass): `code` is a stable machine-readable string, typed as its literal in each subclass.
 */
export class SkeinError<Code extends string = string> extends Error {
  /** Stable machine-readable code, `SKEIN_ERR_*` for skein's own errors. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The peer closed the connection cleanly (FIN). Twisted's `ConnectionDone`. */
export class ConnectionDone extends SkeinError<'SKEIN_ERR_CONNECTION_DONE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CONNECTION_DONE';
  constructor(message: string = 'connection was closed cleanly', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CONNECTION_DONE', message, options);
  }
}

/** The connection was lost in a non-clean fashion (reset, timeout, socket error). */
export class ConnectionLost extends SkeinError<'SKEIN_ERR_CONNECTION_LOST'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CONNECTION_LOST';
  constructor(message: string = 'connection was lost', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CONNECTION_LOST', message, options);
  }
}

/** The connection was closed by `abortConnection()`. */
export class ConnectionAborted extends SkeinError<'SKEIN_ERR_CONNECTION_ABORTED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CONNECTION_ABORTED';
  constructor(message: string = 'connection was aborted', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CONNECTION_ABORTED', message, options);
  }
}

/** The connection was closed because the server is shutting down or reloading. */
export class ShutdownError extends SkeinError<'SKEIN_ERR_SHUTDOWN'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_SHUTDOWN';
  constructor(message: string = 'server is shutting down', options?: { cause?: unknown }) {
    super('SKEIN_ERR_SHUTDOWN', message, options);
  }
}

/** A protocol callback threw or rejected; the connection was aborted. */
export class ProtocolCallbackError extends SkeinError<'SKEIN_ERR_PROTOCOL_CALLBACK'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_PROTOCOL_CALLBACK';
  constructor(message: string = 'a protocol callback threw', options?: { cause?: unknown }) {
    super('SKEIN_ERR_PROTOCOL_CALLBACK', message, options);
  }
}

/** A line exceeded `LineReceiver.maxLength`. */
export class LineTooLongError extends SkeinError<'SKEIN_ERR_LINE_TOO_LONG'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_LINE_TOO_LONG';
  constructor(message: string = 'line exceeds maxLength', options?: { cause?: unknown }) {
    super('SKEIN_ERR_LINE_TOO_LONG', message, options);
  }
}

/** A length-prefixed frame exceeded its receiver's `maxLength`. */
export class LengthLimitExceededError extends SkeinError<'SKEIN_ERR_LENGTH_LIMIT_EXCEEDED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_LENGTH_LIMIT_EXCEEDED';
  constructor(message: string = 'frame length exceeds maxLength', options?: { cause?: unknown }) {
    super('SKEIN_ERR_LENGTH_LIMIT_EXCEEDED', message, options);
  }
}

/** A netstring was malformed (bad length, missing comma). */
export class NetstringParseError extends SkeinError<'SKEIN_ERR_NETSTRING_PARSE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_NETSTRING_PARSE';
  constructor(message: string = 'malformed netstring', options?: { cause?: unknown }) {
    super('SKEIN_ERR_NETSTRING_PARSE', message, options);
  }
}

/** The connection was idle longer than its timeout. */
export class IdleTimeoutError extends SkeinError<'SKEIN_ERR_IDLE_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_IDLE_TIMEOUT';
  constructor(message: string = 'connection was idle too long', options?: { cause?: unknown }) {
    super('SKEIN_ERR_IDLE_TIMEOUT', message, options);
  }
}

/** An option (flag, env variable, config key or API option) has a bad value. */
export class InvalidOptionError extends SkeinError<'SKEIN_ERR_INVALID_OPTION'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_INVALID_OPTION';
  constructor(message: string = 'invalid option', options?: { cause?: unknown }) {
    super('SKEIN_ERR_INVALID_OPTION', message, options);
  }
}

/** An endpoint string could not be parsed. */
export class InvalidEndpointError extends SkeinError<'SKEIN_ERR_INVALID_ENDPOINT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_INVALID_ENDPOINT';
  constructor(message: string = 'invalid endpoint', options?: { cause?: unknown }) {
    super('SKEIN_ERR_INVALID_ENDPOINT', message, options);
  }
}

/** A listener could not bind (port in use, permission denied). */
export class ListenError extends SkeinError<'SKEIN_ERR_LISTEN'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_LISTEN';
  constructor(message: string = 'could not listen', options?: { cause?: unknown }) {
    super('SKEIN_ERR_LISTEN', message, options);
  }
}

/** A protocol module could not be loaded or has no usable default export. */
export class ModuleLoadError extends SkeinError<'SKEIN_ERR_MODULE_LOAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_MODULE_LOAD';
  constructor(message: string = 'could not load protocol module', options?: { cause?: unknown }) {
    super('SKEIN_ERR_MODULE_LOAD', message, options);
  }
}

/**
 * An offloaded task failed on its pool thread with an error that is not a
 * skein error: the original `name`, `message` and `code` (if it had one) are kept.
 */
export class OffloadError extends SkeinError<'SKEIN_ERR_OFFLOAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_OFFLOAD';
  constructor(message: string = 'offloaded task failed', options?: { cause?: unknown }) {
    super('SKEIN_ERR_OFFLOAD', message, options);
  }
}

/** The offload queue is full and the overload policy is `reject`. */
export class OffloadOverloadError extends SkeinError<'SKEIN_ERR_OFFLOAD_OVERLOAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_OFFLOAD_OVERLOAD';
  constructor(message: string = 'offload queue is full', options?: { cause?: unknown }) {
    super('SKEIN_ERR_OFFLOAD_OVERLOAD', message, options);
  }
}

/** An offloaded task was cancelled (its connection was lost or its signal aborted). */
export class OffloadCancelledError extends SkeinError<'SKEIN_ERR_OFFLOAD_CANCELLED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_OFFLOAD_CANCELLED';
  constructor(message: string = 'offloaded task was cancelled', options?: { cause?: unknown }) {
    super('SKEIN_ERR_OFFLOAD_CANCELLED', message, options);
  }
}

/** No processors module is declared, or the named processor does not exist. */
export class NoProcessorError extends SkeinError<'SKEIN_ERR_NO_PROCESSOR'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_NO_PROCESSOR';
  constructor(message: string = 'no such processor', options?: { cause?: unknown }) {
    super('SKEIN_ERR_NO_PROCESSOR', message, options);
  }
}

/** A worker crashed repeatedly; the primary gave up respawning it. */
export class CrashLoopError extends SkeinError<'SKEIN_ERR_CRASH_LOOP'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CRASH_LOOP';
  constructor(message: string = 'workers are crash-looping', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CRASH_LOOP', message, options);
  }
}

/** A TLS handshake failed or timed out (a plain-text client on a TLS port, a bad client certificate). */
export class TlsHandshakeError extends SkeinError<'SKEIN_ERR_TLS_HANDSHAKE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_TLS_HANDSHAKE';
  constructor(message: string = 'TLS handshake failed', options?: { cause?: unknown }) {
    super('SKEIN_ERR_TLS_HANDSHAKE', message, options);
  }
}

/** A PROXY protocol header was missing, malformed, late, or sent by an untrusted source. */
export class ProxyHeaderError extends SkeinError<'SKEIN_ERR_PROXY_HEADER'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_PROXY_HEADER';
  constructor(message: string = 'bad PROXY protocol header', options?: { cause?: unknown }) {
    super('SKEIN_ERR_PROXY_HEADER', message, options);
  }
}

/** `sendString` was given more bytes than the length prefix can express (Int8: 255, Int16: 65535…). */
export class StringTooLongError extends SkeinError<'SKEIN_ERR_STRING_TOO_LONG'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_STRING_TOO_LONG';
  constructor(message: string = 'string is too long for the length prefix', options?: { cause?: unknown }) {
    super('SKEIN_ERR_STRING_TOO_LONG', message, options);
  }
}

/** HTTP: a malformed request (bad request line, header, framing or chunk); answered 400. */
export class HttpBadRequestError extends SkeinError<'SKEIN_ERR_HTTP_BAD_REQUEST'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_BAD_REQUEST';
  constructor(message: string = 'malformed HTTP request', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_BAD_REQUEST', message, options);
  }
}

/** HTTP: the request head or body did not arrive in time; answered 408. */
export class HttpRequestTimeoutError extends SkeinError<'SKEIN_ERR_HTTP_REQUEST_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_REQUEST_TIMEOUT';
  constructor(message: string = 'HTTP request not received in time', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_REQUEST_TIMEOUT', message, options);
  }
}

/** HTTP: a request body without a length skein can use; answered 411. */
export class HttpLengthRequiredError extends SkeinError<'SKEIN_ERR_HTTP_LENGTH_REQUIRED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_LENGTH_REQUIRED';
  constructor(message: string = 'HTTP request body has no usable length', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_LENGTH_REQUIRED', message, options);
  }
}

/** HTTP: the request body (or a chunk extension) exceeds its limit; answered 413. */
export class HttpBodyTooLargeError extends SkeinError<'SKEIN_ERR_HTTP_BODY_TOO_LARGE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_BODY_TOO_LARGE';
  constructor(message: string = 'HTTP request body exceeds maxBodySize', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_BODY_TOO_LARGE', message, options);
  }
}

/** HTTP: the request line exceeds `maxRequestLineSize`; answered 414. */
export class HttpUriTooLongError extends SkeinError<'SKEIN_ERR_HTTP_URI_TOO_LONG'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_URI_TOO_LONG';
  constructor(message: string = 'HTTP request line exceeds maxRequestLineSize', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_URI_TOO_LONG', message, options);
  }
}

/** HTTP: an `Expect` other than `100-continue`; answered 417. */
export class HttpExpectationFailedError extends SkeinError<'SKEIN_ERR_HTTP_EXPECTATION_FAILED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_EXPECTATION_FAILED';
  constructor(message: string = 'unsupported HTTP expectation', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_EXPECTATION_FAILED', message, options);
  }
}

/** HTTP: the header section exceeds `maxHeaderSize` or `maxHeadersCount`; answered 431. */
export class HttpHeadersTooLargeError extends SkeinError<'SKEIN_ERR_HTTP_HEADERS_TOO_LARGE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_HEADERS_TOO_LARGE';
  constructor(message: string = 'HTTP header section too large', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_HEADERS_TOO_LARGE', message, options);
  }
}

/** HTTP: an unknown method or transfer coding; answered 501. */
export class HttpNotImplementedError extends SkeinError<'SKEIN_ERR_HTTP_NOT_IMPLEMENTED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_NOT_IMPLEMENTED';
  constructor(message: string = 'HTTP method or transfer coding not implemented', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_NOT_IMPLEMENTED', message, options);
  }
}

/** HTTP: a protocol version other than HTTP/1.0 and HTTP/1.1; answered 505. */
export class HttpVersionNotSupportedError extends SkeinError<'SKEIN_ERR_HTTP_VERSION_NOT_SUPPORTED'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_VERSION_NOT_SUPPORTED';
  constructor(message: string = 'HTTP version not supported', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_VERSION_NOT_SUPPORTED', message, options);
  }
}

/**
 * An offloaded task ran longer than `--pool-task-timeout`: it was cancelled (its processor's signal aborted;
 * a processor that ignores it loses its thread after the abort grace).
 */
export class OffloadTimeoutError extends SkeinError<'SKEIN_ERR_OFFLOAD_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_OFFLOAD_TIMEOUT';
  constructor(message: string = 'offloaded task ran out of time', options?: { cause?: unknown }) {
    super('SKEIN_ERR_OFFLOAD_TIMEOUT', message, options);
  }
}

/** The pool thread running an offloaded task died (it exited or threw outside the task); the pool replaced it. */
export class OffloadThreadError extends SkeinError<'SKEIN_ERR_OFFLOAD_THREAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_OFFLOAD_THREAD';
  constructor(message: string = 'pool thread died while running the task', options?: { cause?: unknown }) {
    super('SKEIN_ERR_OFFLOAD_THREAD', message, options);
  }
}

/** HTTP: a handler returned a response skein cannot send (bad status, header name or value); answered 500. */
export class InvalidResponseError extends SkeinError<'SKEIN_ERR_HTTP_INVALID_RESPONSE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_HTTP_INVALID_RESPONSE';
  constructor(message: string = 'invalid HTTP response', options?: { cause?: unknown }) {
    super('SKEIN_ERR_HTTP_INVALID_RESPONSE', message, options);
  }
}

/** A worker failed to start: it exited, or did not listen in time. */
export class WorkerStartError extends SkeinError<'SKEIN_ERR_WORKER_START'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WORKER_START';
  constructor(message: string = 'a worker failed to start', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WORKER_START', message, options);
  }
}

/**
 * A worker process failed with an error that is not a skein error (an
 * uncaught exception): the original `name`, `message` and `code` are kept.
 */
export class WorkerError extends SkeinError<'SKEIN_ERR_WORKER'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WORKER';
  constructor(message: string = 'a worker failed', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WORKER', message, options);
  }
}

/** An operation that the object's state does not allow (a second producer on one transport; a skein bug). */
export class InvalidStateError extends SkeinError<'SKEIN_ERR_INVALID_STATE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_INVALID_STATE';
  constructor(message: string = 'operation not allowed in this state', options?: { cause?: unknown }) {
    super('SKEIN_ERR_INVALID_STATE', message, options);
  }
}

/** `skein load` could not complete its run (a load thread failed or exited early). */
export class LoadError extends SkeinError<'SKEIN_ERR_LOAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_LOAD';
  constructor(message: string = 'the load run failed', options?: { cause?: unknown }) {
    super('SKEIN_ERR_LOAD', message, options);
  }
}

/** A client connection attempt failed (refused, unreachable, cancelled, or refused by the factory). */
export class ConnectError extends SkeinError<'SKEIN_ERR_CONNECT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CONNECT';
  constructor(message: string = 'could not connect', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CONNECT', message, options);
  }
}

/** A client connection attempt did not complete within its timeout. */
export class ConnectTimeoutError extends SkeinError<'SKEIN_ERR_CONNECT_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_CONNECT_TIMEOUT';
  constructor(message: string = 'connection attempt timed out', options?: { cause?: unknown }) {
    super('SKEIN_ERR_CONNECT_TIMEOUT', message, options);
  }
}

/**
 * A WebSocket failure that closes the connection with a close code (RFC 6455 §7.4):
 * `closeCode` is what the peer is sent in the Close frame.
 */
export abstract class WebSocketError<Code extends string = string> extends SkeinError<Code> {
  /** The WebSocket close code sent to the peer. */
  abstract readonly closeCode: number;
}

/** WebSocket: the peer broke RFC 6455 (an unmasked client frame, reserved bits, a bad opcode or control frame); closed with 1002. */
export class WebSocketProtocolError extends WebSocketError<'SKEIN_ERR_WEBSOCKET_PROTOCOL'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_PROTOCOL';
  /** The WebSocket close code sent to the peer. */
  static readonly closeCode = 1002;
  /** The WebSocket close code sent to the peer. */
  readonly closeCode = 1002;
  constructor(message: string = 'WebSocket protocol error', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_PROTOCOL', message, options);
  }
}

/** WebSocket: a text message (or a close reason) is not valid UTF-8; closed with 1007. */
export class WebSocketInvalidPayloadError extends WebSocketError<'SKEIN_ERR_WEBSOCKET_INVALID_PAYLOAD'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_INVALID_PAYLOAD';
  /** The WebSocket close code sent to the peer. */
  static readonly closeCode = 1007;
  /** The WebSocket close code sent to the peer. */
  readonly closeCode = 1007;
  constructor(message: string = 'WebSocket text is not valid UTF-8', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_INVALID_PAYLOAD', message, options);
  }
}

/** WebSocket: a message (reassembled, or decompressed) exceeds `maxMessageBytes`; closed with 1009. */
export class WebSocketMessageTooBigError extends WebSocketError<'SKEIN_ERR_WEBSOCKET_MESSAGE_TOO_BIG'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_MESSAGE_TOO_BIG';
  /** The WebSocket close code sent to the peer. */
  static readonly closeCode = 1009;
  /** The WebSocket close code sent to the peer. */
  readonly closeCode = 1009;
  constructor(message: string = 'WebSocket message exceeds maxMessageBytes', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_MESSAGE_TOO_BIG', message, options);
  }
}

/** WebSocket: the peer did not answer a ping (nor send anything) within `pingTimeout`; the connection was dropped (1006). */
export class WebSocketPingTimeoutError extends WebSocketError<'SKEIN_ERR_WEBSOCKET_PING_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_PING_TIMEOUT';
  /** The WebSocket close code sent to the peer. */
  static readonly closeCode = 1006;
  /** The WebSocket close code sent to the peer. */
  readonly closeCode = 1006;
  constructor(message: string = 'WebSocket peer did not answer a ping in time', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_PING_TIMEOUT', message, options);
  }
}

/** WebSocket: the peer did not complete the closing handshake within `closeTimeout`; the connection was dropped (1006). */
export class WebSocketCloseTimeoutError extends WebSocketError<'SKEIN_ERR_WEBSOCKET_CLOSE_TIMEOUT'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_CLOSE_TIMEOUT';
  /** The WebSocket close code sent to the peer. */
  static readonly closeCode = 1006;
  /** The WebSocket close code sent to the peer. */
  readonly closeCode = 1006;
  constructor(message: string = 'WebSocket closing handshake timed out', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_CLOSE_TIMEOUT', message, options);
  }
}

/** WebSocket: an upgrade request skein refuses (bad `Sec-WebSocket-Key` or version, not a GET…); answered 400 (426 for a plain HTTP request). */
export class WebSocketHandshakeError extends SkeinError<'SKEIN_ERR_WEBSOCKET_HANDSHAKE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_HANDSHAKE';
  constructor(message: string = 'bad WebSocket upgrade request', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_HANDSHAKE', message, options);
  }
}

/** WebSocket: `close()` was given a code an endpoint may not send, or a reason over 123 bytes. */
export class WebSocketInvalidCloseError extends SkeinError<'SKEIN_ERR_WEBSOCKET_INVALID_CLOSE'> {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_INVALID_CLOSE';
  constructor(message: string = 'invalid WebSocket close code or reason', options?: { cause?: unknown }) {
    super('SKEIN_ERR_WEBSOCKET_INVALID_CLOSE', message, options);
  }
}

/** What ended a WebSocket connection, as `connectionLost` receives it. */
export interface WebSocketCloseInfo {
  /**
   * The close code: the one in the peer's Close frame, 1005 when it had none,
   * 1006 when the connection ended without a closing handshake (reset, timeout, shutdown).
   * When skein failed the connection (1002, 1007, 1009), the code it sent.
   */
  closeCode?: number;
  /** The close reason (UTF-8 text, may be empty). */
  closeReason?: string;
  /** True when both Close frames were exchanged. */
  wasClean?: boolean;
  /** The underlying error, if any (a protocol error skein closed with, a timeout, the transport's). */
  cause?: unknown;
}

/**
 * `WebSocketProtocol.connectionLost` receives this: the connection is gone,
 * with its close code, reason, and whether the closing handshake completed.
 * `cause` holds the underlying error (a protocol error skein closed with, a
 * timeout, the transport's `ConnectionLost` or `ShutdownError`).
 */
export class WebSocketClosed extends SkeinError {
  /** This error's code. */
  static readonly code = 'SKEIN_ERR_WEBSOCKET_CLOSED';
  /** See {@link WebSocketCloseInfo.closeCode}. */
  readonly closeCode: number;
  /** See {@link WebSocketCloseInfo.closeReason}. */
  readonly closeReason: string;
  /** See {@link WebSocketCloseInfo.wasClean}. */
  readonly wasClean: boolean;

  constructor(message = 'WebSocket connection closed', info: WebSocketCloseInfo = {}) {
    super('SKEIN_ERR_WEBSOCKET_CLOSED', message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'WebSocketClosed';
    this.closeCode = info.closeCode ?? 1006;
    this.closeReason = info.closeReason ?? '';
    this.wasClean = info.wasClean ?? false;
  }
}

/** @internal Every error class, by name: used to rebuild errors that crossed a thread or process. */
export const errorClasses = {
  ConnectionDone,
  ConnectionLost,
  ConnectionAborted,
  ShutdownError,
  ProtocolCallbackError,
  LineTooLongError,
  LengthLimitExceededError,
  NetstringParseError,
  IdleTimeoutError,
  InvalidOptionError,
  InvalidEndpointError,
  ListenError,
  ModuleLoadError,
  OffloadError,
  OffloadOverloadError,
  OffloadCancelledError,
  NoProcessorError,
  CrashLoopError,
  TlsHandshakeError,
  ProxyHeaderError,
  StringTooLongError,
  HttpBadRequestError,
  HttpRequestTimeoutError,
  HttpLengthRequiredError,
  HttpBodyTooLargeError,
  HttpUriTooLongError,
  HttpExpectationFailedError,
  HttpHeadersTooLargeError,
  HttpNotImplementedError,
  HttpVersionNotSupportedError,
  OffloadThreadError,
  OffloadTimeoutError,
  ConnectError,
  ConnectTimeoutError,
  InvalidResponseError,
  WorkerStartError,
  WorkerError,
  InvalidStateError,
  LoadError,
  WebSocketProtocolError,
  WebSocketInvalidPayloadError,
  WebSocketMessageTooBigError,
  WebSocketPingTimeoutError,
  WebSocketCloseTimeoutError,
  WebSocketHandshakeError,
  WebSocketInvalidCloseError,
  WebSocketClosed,
} as const;

/** The wire form of an error that crosses a thread or process boundary. */
export interface SerializedError {
  /** The error's class name (`LineTooLongError`, `TypeError`, …). */
  name: string;
  /** Its `code`, when it had one. */
  code?: string;
  /** Its message. */
  message: string;
  /** Its stack, where it was raised. */
  stack?: string;
}

/** Turns any thrown value into its wire form. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/**
 * Rebuilds an error from its wire form. A skein error comes back as its own
 * class; anything else as `Foreign` (the catalogue class for where it came
 * from: {@link OffloadError} from a pool thread, {@link WorkerError} from a
 * worker) keeping the original `name`, `message` and `code` (the class's code
 * when it had none).
 */
export function deserializeError(wire: SerializedError, Foreign: new (message?: string) => SkeinError): SkeinError {
  const Known = (errorClasses as Record<string, new (message?: string) => SkeinError>)[wire.name];
  const error = new (Known ?? Foreign)(wire.message);
  if (!Known) {
    error.name = wire.name;
    if (wire.code !== undefined) (error as { code: string }).code = wire.code;
  }
  if (wire.stack) error.stack = wire.stack;
  return error;
}

/** The `code` of an error if it has one, else `SKEIN_ERR_UNKNOWN`. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'SKEIN_ERR_UNKNOWN';
}
