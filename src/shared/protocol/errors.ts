/**
 * One errors module for all of skein. Every failure a user can see has a class
 * with a stable `code` (`SKEIN_ERR_*`) and a default message. Errors that cross
 * a thread or a process travel as `{ name, code, message }` and are rebuilt typed
 * on the other side with {@link deserializeError}.
 */

/** Base class of every error skein raises. */
export class SkeinError extends Error {
  /** Stable machine-readable code, `SKEIN_ERR_*`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

function defineError(name: string, code: string, defaultMessage: string) {
  const Class = class extends SkeinError {
    static readonly code = code;
    constructor(message: string = defaultMessage, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(Class, 'name', { value: name });
  return Class;
}

/** The peer closed the connection cleanly (FIN). Twisted's `ConnectionDone`. */
export const ConnectionDone = defineError('ConnectionDone', 'SKEIN_ERR_CONNECTION_DONE', 'connection was closed cleanly');
export type ConnectionDone = InstanceType<typeof ConnectionDone>;

/** The connection was lost in a non-clean fashion (reset, timeout, socket error). */
export const ConnectionLost = defineError('ConnectionLost', 'SKEIN_ERR_CONNECTION_LOST', 'connection was lost');
export type ConnectionLost = InstanceType<typeof ConnectionLost>;

/** The connection was closed by `abortConnection()`. */
export const ConnectionAborted = defineError('ConnectionAborted', 'SKEIN_ERR_CONNECTION_ABORTED', 'connection was aborted');
export type ConnectionAborted = InstanceType<typeof ConnectionAborted>;

/** The connection was closed because the server is shutting down or reloading. */
export const ShutdownError = defineError('ShutdownError', 'SKEIN_ERR_SHUTDOWN', 'server is shutting down');
export type ShutdownError = InstanceType<typeof ShutdownError>;

/** A protocol callback threw or rejected; the connection was aborted. */
export const ProtocolCallbackError = defineError(
  'ProtocolCallbackError',
  'SKEIN_ERR_PROTOCOL_CALLBACK',
  'a protocol callback threw',
);
export type ProtocolCallbackError = InstanceType<typeof ProtocolCallbackError>;

/** A line exceeded `LineReceiver.maxLength`. */
export const LineTooLongError = defineError('LineTooLongError', 'SKEIN_ERR_LINE_TOO_LONG', 'line exceeds maxLength');
export type LineTooLongError = InstanceType<typeof LineTooLongError>;

/** A length-prefixed frame exceeded its receiver's `maxLength`. */
export const LengthLimitExceededError = defineError(
  'LengthLimitExceededError',
  'SKEIN_ERR_LENGTH_LIMIT_EXCEEDED',
  'frame length exceeds maxLength',
);
export type LengthLimitExceededError = InstanceType<typeof LengthLimitExceededError>;

/** A netstring was malformed (bad length, missing comma). */
export const NetstringParseError = defineError('NetstringParseError', 'SKEIN_ERR_NETSTRING_PARSE', 'malformed netstring');
export type NetstringParseError = InstanceType<typeof NetstringParseError>;

/** The connection was idle longer than its timeout. */
export const IdleTimeoutError = defineError('IdleTimeoutError', 'SKEIN_ERR_IDLE_TIMEOUT', 'connection was idle too long');
export type IdleTimeoutError = InstanceType<typeof IdleTimeoutError>;

/** An option (flag, env variable, config key or API option) has a bad value. */
export const InvalidOptionError = defineError('InvalidOptionError', 'SKEIN_ERR_INVALID_OPTION', 'invalid option');
export type InvalidOptionError = InstanceType<typeof InvalidOptionError>;

/** An endpoint string could not be parsed. */
export const InvalidEndpointError = defineError('InvalidEndpointError', 'SKEIN_ERR_INVALID_ENDPOINT', 'invalid endpoint');
export type InvalidEndpointError = InstanceType<typeof InvalidEndpointError>;

/** A listener could not bind (port in use, permission denied). */
export const ListenError = defineError('ListenError', 'SKEIN_ERR_LISTEN', 'could not listen');
export type ListenError = InstanceType<typeof ListenError>;

/** A protocol module could not be loaded or has no usable default export. */
export const ModuleLoadError = defineError('ModuleLoadError', 'SKEIN_ERR_MODULE_LOAD', 'could not load protocol module');
export type ModuleLoadError = InstanceType<typeof ModuleLoadError>;

/**
 * An offloaded task failed on its pool thread with an error that is not a
 * skein error: the original `name`, `message` and `code` (if it had one) are kept.
 */
export const OffloadError = defineError('OffloadError', 'SKEIN_ERR_OFFLOAD', 'offloaded task failed');
export type OffloadError = InstanceType<typeof OffloadError>;

/** The offload queue is full and the overload policy is `reject`. */
export const OffloadOverloadError = defineError(
  'OffloadOverloadError',
  'SKEIN_ERR_OFFLOAD_OVERLOAD',
  'offload queue is full',
);
export type OffloadOverloadError = InstanceType<typeof OffloadOverloadError>;

/** An offloaded task was cancelled (its connection was lost or its signal aborted). */
export const OffloadCancelledError = defineError(
  'OffloadCancelledError',
  'SKEIN_ERR_OFFLOAD_CANCELLED',
  'offloaded task was cancelled',
);
export type OffloadCancelledError = InstanceType<typeof OffloadCancelledError>;

/** No processors module is declared, or the named processor does not exist. */
export const NoProcessorError = defineError('NoProcessorError', 'SKEIN_ERR_NO_PROCESSOR', 'no such processor');
export type NoProcessorError = InstanceType<typeof NoProcessorError>;

/** A worker crashed repeatedly; the primary gave up respawning it. */
export const CrashLoopError = defineError('CrashLoopError', 'SKEIN_ERR_CRASH_LOOP', 'workers are crash-looping');
export type CrashLoopError = InstanceType<typeof CrashLoopError>;

/** A TLS handshake failed or timed out (a plain-text client on a TLS port, a bad client certificate). */
export const TlsHandshakeError = defineError('TlsHandshakeError', 'SKEIN_ERR_TLS_HANDSHAKE', 'TLS handshake failed');
export type TlsHandshakeError = InstanceType<typeof TlsHandshakeError>;

/** A PROXY protocol header was missing, malformed, late, or sent by an untrusted source. */
export const ProxyHeaderError = defineError('ProxyHeaderError', 'SKEIN_ERR_PROXY_HEADER', 'bad PROXY protocol header');
export type ProxyHeaderError = InstanceType<typeof ProxyHeaderError>;

/** `sendString` was given more bytes than the length prefix can express (Int8: 255, Int16: 65535…). */
export const StringTooLongError = defineError(
  'StringTooLongError',
  'SKEIN_ERR_STRING_TOO_LONG',
  'string is too long for the length prefix',
);
export type StringTooLongError = InstanceType<typeof StringTooLongError>;

/** HTTP: a malformed request (bad request line, header, framing or chunk); answered 400. */
export const HttpBadRequestError = defineError('HttpBadRequestError', 'SKEIN_ERR_HTTP_BAD_REQUEST', 'malformed HTTP request');
export type HttpBadRequestError = InstanceType<typeof HttpBadRequestError>;

/** HTTP: the request head or body did not arrive in time; answered 408. */
export const HttpRequestTimeoutError = defineError('HttpRequestTimeoutError', 'SKEIN_ERR_HTTP_REQUEST_TIMEOUT', 'HTTP request not received in time');
export type HttpRequestTimeoutError = InstanceType<typeof HttpRequestTimeoutError>;

/** HTTP: a request body without a length skein can use; answered 411. */
export const HttpLengthRequiredError = defineError('HttpLengthRequiredError', 'SKEIN_ERR_HTTP_LENGTH_REQUIRED', 'HTTP request body has no usable length');
export type HttpLengthRequiredError = InstanceType<typeof HttpLengthRequiredError>;

/** HTTP: the request body (or a chunk extension) exceeds its limit; answered 413. */
export const HttpBodyTooLargeError = defineError('HttpBodyTooLargeError', 'SKEIN_ERR_HTTP_BODY_TOO_LARGE', 'HTTP request body exceeds maxBodySize');
export type HttpBodyTooLargeError = InstanceType<typeof HttpBodyTooLargeError>;

/** HTTP: the request line exceeds `maxRequestLineSize`; answered 414. */
export const HttpUriTooLongError = defineError('HttpUriTooLongError', 'SKEIN_ERR_HTTP_URI_TOO_LONG', 'HTTP request line exceeds maxRequestLineSize');
export type HttpUriTooLongError = InstanceType<typeof HttpUriTooLongError>;

/** HTTP: an `Expect` other than `100-continue`; answered 417. */
export const HttpExpectationFailedError = defineError('HttpExpectationFailedError', 'SKEIN_ERR_HTTP_EXPECTATION_FAILED', 'unsupported HTTP expectation');
export type HttpExpectationFailedError = InstanceType<typeof HttpExpectationFailedError>;

/** HTTP: the header section exceeds `maxHeaderSize` or `maxHeadersCount`; answered 431. */
export const HttpHeadersTooLargeError = defineError('HttpHeadersTooLargeError', 'SKEIN_ERR_HTTP_HEADERS_TOO_LARGE', 'HTTP header section too large');
export type HttpHeadersTooLargeError = InstanceType<typeof HttpHeadersTooLargeError>;

/** HTTP: an unknown method or transfer coding; answered 501. */
export const HttpNotImplementedError = defineError('HttpNotImplementedError', 'SKEIN_ERR_HTTP_NOT_IMPLEMENTED', 'HTTP method or transfer coding not implemented');
export type HttpNotImplementedError = InstanceType<typeof HttpNotImplementedError>;

/** HTTP: a protocol version other than HTTP/1.0 and HTTP/1.1; answered 505. */
export const HttpVersionNotSupportedError = defineError('HttpVersionNotSupportedError', 'SKEIN_ERR_HTTP_VERSION_NOT_SUPPORTED', 'HTTP version not supported');
export type HttpVersionNotSupportedError = InstanceType<typeof HttpVersionNotSupportedError>;

/** The pool thread running an offloaded task died (it exited or threw outside the task); the pool replaced it. */
export const OffloadThreadError = defineError('OffloadThreadError', 'SKEIN_ERR_OFFLOAD_THREAD', 'pool thread died while running the task');
export type OffloadThreadError = InstanceType<typeof OffloadThreadError>;

/** HTTP: a handler returned a response skein cannot send (bad status, header name or value); answered 500. */
export const InvalidResponseError = defineError('InvalidResponseError', 'SKEIN_ERR_HTTP_INVALID_RESPONSE', 'invalid HTTP response');
export type InvalidResponseError = InstanceType<typeof InvalidResponseError>;

/** A worker failed to start: it exited, or did not listen in time. */
export const WorkerStartError = defineError('WorkerStartError', 'SKEIN_ERR_WORKER_START', 'a worker failed to start');
export type WorkerStartError = InstanceType<typeof WorkerStartError>;

/**
 * A worker process failed with an error that is not a skein error (an
 * uncaught exception): the original `name`, `message` and `code` are kept.
 */
export const WorkerError = defineError('WorkerError', 'SKEIN_ERR_WORKER', 'a worker failed');
export type WorkerError = InstanceType<typeof WorkerError>;

/** An operation that the object's state does not allow (a second producer on one transport; a skein bug). */
export const InvalidStateError = defineError('InvalidStateError', 'SKEIN_ERR_INVALID_STATE', 'operation not allowed in this state');
export type InvalidStateError = InstanceType<typeof InvalidStateError>;

/** `skein load` could not complete its run (a load thread failed or exited early). */
export const LoadError = defineError('LoadError', 'SKEIN_ERR_LOAD', 'the load run failed');
export type LoadError = InstanceType<typeof LoadError>;

/** A client connection attempt failed (refused, unreachable, cancelled, or refused by the factory). */
export const ConnectError = defineError('ConnectError', 'SKEIN_ERR_CONNECT', 'could not connect');
export type ConnectError = InstanceType<typeof ConnectError>;

/** A client connection attempt did not complete within its timeout. */
export const ConnectTimeoutError = defineError('ConnectTimeoutError', 'SKEIN_ERR_CONNECT_TIMEOUT', 'connection attempt timed out');
export type ConnectTimeoutError = InstanceType<typeof ConnectTimeoutError>;

/**
 * A WebSocket failure that closes the connection with a close code (RFC 6455 §7.4):
 * `closeCode` is what the peer is sent in the Close frame.
 */
function defineWebSocketError(name: string, code: string, closeCode: number, defaultMessage: string) {
  const Class = class extends SkeinError {
    static readonly code = code;
    /** The WebSocket close code sent to the peer. */
    static readonly closeCode = closeCode;
    /** The WebSocket close code sent to the peer. */
    readonly closeCode = closeCode;
    constructor(message: string = defaultMessage, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(Class, 'name', { value: name });
  return Class;
}

/** WebSocket: the peer broke RFC 6455 (an unmasked client frame, reserved bits, a bad opcode or control frame); closed with 1002. */
export const WebSocketProtocolError = defineWebSocketError('WebSocketProtocolError', 'SKEIN_ERR_WEBSOCKET_PROTOCOL', 1002, 'WebSocket protocol error');
export type WebSocketProtocolError = InstanceType<typeof WebSocketProtocolError>;

/** WebSocket: a text message (or a close reason) is not valid UTF-8; closed with 1007. */
export const WebSocketInvalidPayloadError = defineWebSocketError(
  'WebSocketInvalidPayloadError',
  'SKEIN_ERR_WEBSOCKET_INVALID_PAYLOAD',
  1007,
  'WebSocket text is not valid UTF-8',
);
export type WebSocketInvalidPayloadError = InstanceType<typeof WebSocketInvalidPayloadError>;

/** WebSocket: a message (reassembled, or decompressed) exceeds `maxMessageBytes`; closed with 1009. */
export const WebSocketMessageTooBigError = defineWebSocketError(
  'WebSocketMessageTooBigError',
  'SKEIN_ERR_WEBSOCKET_MESSAGE_TOO_BIG',
  1009,
  'WebSocket message exceeds maxMessageBytes',
);
export type WebSocketMessageTooBigError = InstanceType<typeof WebSocketMessageTooBigError>;

/** WebSocket: the peer did not answer a ping (nor send anything) within `pingTimeout`; the connection was dropped (1006). */
export const WebSocketPingTimeoutError = defineWebSocketError(
  'WebSocketPingTimeoutError',
  'SKEIN_ERR_WEBSOCKET_PING_TIMEOUT',
  1006,
  'WebSocket peer did not answer a ping in time',
);
export type WebSocketPingTimeoutError = InstanceType<typeof WebSocketPingTimeoutError>;

/** WebSocket: the peer did not complete the closing handshake within `closeTimeout`; the connection was dropped (1006). */
export const WebSocketCloseTimeoutError = defineWebSocketError(
  'WebSocketCloseTimeoutError',
  'SKEIN_ERR_WEBSOCKET_CLOSE_TIMEOUT',
  1006,
  'WebSocket closing handshake timed out',
);
export type WebSocketCloseTimeoutError = InstanceType<typeof WebSocketCloseTimeoutError>;

/** WebSocket: an upgrade request skein refuses (bad `Sec-WebSocket-Key` or version, not a GET…); answered 400 (426 for a plain HTTP request). */
export const WebSocketHandshakeError = defineError('WebSocketHandshakeError', 'SKEIN_ERR_WEBSOCKET_HANDSHAKE', 'bad WebSocket upgrade request');
export type WebSocketHandshakeError = InstanceType<typeof WebSocketHandshakeError>;

/** WebSocket: `close()` was given a code an endpoint may not send, or a reason over 123 bytes. */
export const WebSocketInvalidCloseError = defineError(
  'WebSocketInvalidCloseError',
  'SKEIN_ERR_WEBSOCKET_INVALID_CLOSE',
  'invalid WebSocket close code or reason',
);
export type WebSocketInvalidCloseError = InstanceType<typeof WebSocketInvalidCloseError>;

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
  cause?: unknown;
}

/**
 * `WebSocketProtocol.connectionLost` receives this: the connection is gone,
 * with its close code, reason, and whether the closing handshake completed.
 * `cause` holds the underlying error (a protocol error skein closed with, a
 * timeout, the transport's `ConnectionLost` or `ShutdownError`).
 */
export class WebSocketClosed extends SkeinError {
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

/** Every error class, by name: used to rebuild errors that crossed a thread or process. */
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
  name: string;
  code?: string;
  message: string;
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
