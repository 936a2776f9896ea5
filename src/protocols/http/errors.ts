/**
 * Why skein refuses an HTTP request, and with which status. Each refusal is a
 * typed error from the shared errors module (so it keeps its `SKEIN_ERR_HTTP_*`
 * code across threads); this table gives its status code and whether the
 * connection may stay open afterwards.
 */
import {
  HttpBadRequestError,
  HttpBodyTooLargeError,
  HttpExpectationFailedError,
  HttpHeadersTooLargeError,
  HttpLengthRequiredError,
  HttpNotImplementedError,
  HttpRequestTimeoutError,
  HttpUriTooLongError,
  HttpVersionNotSupportedError,
  type SkeinError,
} from '../../shared/protocol/errors.js';

/** Status code of each refusal, by error code. */
export const HTTP_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  [HttpBadRequestError.code]: 400,
  [HttpRequestTimeoutError.code]: 408,
  [HttpLengthRequiredError.code]: 411,
  [HttpBodyTooLargeError.code]: 413,
  [HttpUriTooLongError.code]: 414,
  [HttpExpectationFailedError.code]: 417,
  [HttpHeadersTooLargeError.code]: 431,
  [HttpNotImplementedError.code]: 501,
  [HttpVersionNotSupportedError.code]: 505,
});

/** A refusal of one request: a typed skein error with its HTTP status. */
export type HttpError = SkeinError;

/** The status to answer `error` with (500 for anything that is not an HTTP refusal). */
export function statusOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && HTTP_ERROR_STATUS[code]) || 500;
}

/**
 * True when the connection can carry on after answering `error`: only a
 * refused expectation, whose message framing was still understood (node:http
 * keeps the connection too). Every other refusal closes it, because after a
 * framing error the next request cannot be found reliably (RFC 9112 §6.3, §11.2).
 */
export function keepsConnection(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === HttpExpectationFailedError.code;
}
