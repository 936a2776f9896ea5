/**
 * The `http` protocol's limits and timeouts: one typed defaults object, merged
 * once with the service options and frozen. Defaults match node:http's where
 * node:http has one (noted on each line); skein adds a body limit, because it
 * hands handlers whole bodies and must never buffer without a bound.
 */
import { InvalidOptionError } from '../../shared/protocol/errors.js';

/** Limits and timeouts of one `http` service. */
export interface HttpLimits {
  /**
   * Bytes of request target + header names + values, counted the way node:http
   * counts them (its `--max-http-header-size`, 16 KiB). The raw head,
   * separators and whitespace included, is also capped at twice this. → 431
   */
  readonly maxHeaderSize: number;
  /** Header field lines per request (node:http's `maxHeadersCount`, 2000; node drops the excess, skein refuses). → 431 */
  readonly maxHeadersCount: number;
  /** Bytes of the request line (node:http counts it into the header size). → 414 */
  readonly maxRequestLineSize: number;
  /** Bytes of a request body, framed by Content-Length or chunked (node:http: none). → 413 */
  readonly maxBodySize: number;
  /** Bytes of one chunk-size line's extensions (node:http: 16 KiB). → 413 */
  readonly maxChunkExtensionSize: number;
  /** Seconds from a request's first byte to the end of its head (node:http's `headersTimeout`, 60). → 408 */
  readonly headersTimeout: number;
  /** Seconds from a request's first byte to the end of its body (node:http's `requestTimeout`, 300). → 408 */
  readonly requestTimeout: number;
  /** Seconds an idle keep-alive connection stays open after its last response (node:http's `keepAliveTimeout`, 5). */
  readonly keepAliveTimeout: number;
  /** Requests read ahead of their responses; above it, reading pauses until replies go out. */
  readonly maxPipelinedRequests: number;
  /** Refuse HTTP/1.1 requests without a Host header (node:http's `requireHostHeader`, true). → 400 */
  readonly requireHostHeader: boolean;
}

/** Defaults of every limit (units in the names' docs: bytes, seconds, counts). */
export const HTTP_DEFAULTS: HttpLimits = Object.freeze({
  maxHeaderSize: 16 * 1024, // bytes, node:http default
  maxHeadersCount: 2000, // header lines, node:http default
  maxRequestLineSize: 16 * 1024, // bytes
  maxBodySize: 1024 * 1024, // bytes, skein's own (node:http has none)
  maxChunkExtensionSize: 16 * 1024, // bytes, node:http default
  headersTimeout: 60, // seconds, node:http default
  requestTimeout: 300, // seconds, node:http default
  keepAliveTimeout: 5, // seconds, node:http default
  maxPipelinedRequests: 32, // requests
  requireHostHeader: true, // node:http default
});

const POSITIVE_INTEGERS = ['maxHeaderSize', 'maxHeadersCount', 'maxRequestLineSize', 'maxBodySize', 'maxChunkExtensionSize', 'maxPipelinedRequests'] as const;
const SECONDS = ['headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const;

/**
 * Merges service options over the defaults. Unknown keys are ignored (the
 * service entry also carries `handler` and other options).
 * @throws InvalidOptionError naming the option, e.g. `options.maxBodySize must be a positive integer`.
 */
export function resolveHttpLimits(options: Readonly<Record<string, unknown>> = {}): HttpLimits {
  const out: Record<string, unknown> = { ...HTTP_DEFAULTS };
  for (const name of POSITIVE_INTEGERS) {
    const v = options[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new InvalidOptionError(`options.${name} must be a positive integer (got ${JSON.stringify(v)})`);
    }
    out[name] = v;
  }
  for (const name of SECONDS) {
    const v = options[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new InvalidOptionError(`options.${name} must be a positive number of seconds (got ${JSON.stringify(v)})`);
    }
    out[name] = v;
  }
  const host = options.requireHostHeader;
  if (host !== undefined) {
    if (typeof host !== 'boolean') throw new InvalidOptionError(`options.requireHostHeader must be true or false (got ${JSON.stringify(host)})`);
    out.requireHostHeader = host;
  }
  return Object.freeze(out as unknown as HttpLimits);
}
