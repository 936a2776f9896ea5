/**
 * Response serialization: a handler's response becomes one string or one
 * Buffer (status line, headers and body together), so each response leaves
 * with one `transport.write`. The status line is looked up, the Date header is
 * rebuilt at most once a second, and header names and values are checked so a
 * handler cannot split a response (CR/LF injection).
 */

import { InvalidResponseError } from '../../shared/protocol/errors.js';
import { TOKEN } from './chars.js';

/** A response body: text (sent as UTF-8), bytes, nothing, or chunks streamed with chunked encoding. */
export type HttpBody = string | Uint8Array | null | undefined | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** Header fields of a response; an array sends one field line per element (e.g. `set-cookie`). */
export type HttpResponseHeaders = Record<string, string | number | readonly string[]>;

/** What a handler returns. */
export interface HttpResponse {
  /** Status code, default 200. */
  status?: number;
  /** Header fields. `content-length`, `transfer-encoding` and `connection: keep-alive` are skein's to set. */
  headers?: HttpResponseHeaders;
  /** The body. */
  body?: HttpBody;
}

/** A handler may also return just a body: text or bytes with status 200. */
export type HttpHandlerResult = HttpResponse | string | Uint8Array;

/** Reason phrases (RFC 9110 §15). */
export const STATUS_REASONS: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information',
  204: 'No Content', 205: 'Reset Content', 206: 'Partial Content', 300: 'Multiple Choices', 301: 'Moved Permanently',
  302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  418: "I'm a Teapot", 421: 'Misdirected Request', 422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required',
  428: 'Precondition Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
});

const statusLines = new Map<number, string>();

/** `HTTP/1.1 200 OK\r\n`, built once per status. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? 'Unknown'}\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

let dateSecond = -1;
let dateLine = '';

/** `Date: <IMF-fixdate>\r\n`, rebuilt when the second changes. */
export function dateHeader(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * The bytes of a response object a handler returns again and again (a constant
 * like `{ body: 'Hello' }`), per variant (keep-alive or close, HEAD or not),
 * valid for the second their Date header names. Only responses whose parts
 * cannot change unseen are cached: a text body, and no headers or frozen ones;
 * a changed status, headers object or body is seen and rebuilds the entry.
 */
interface CachedResponse {
  status: number | undefined;
  headers: HttpResponseHeaders | undefined;
  body: string;
  keepAliveFields: string;
  second: number;
  /** The headers ask to close (`connection: close`): a keep-alive request's response closes. */
  closes: boolean;
  /** Indexed by variant: bit 0 keep-alive, bit 1 HEAD. */
  bytes: Array<Buffer | undefined>;
}

const responseCache = new WeakMap<HttpResponse, CachedResponse>();

function cacheable(response: HttpResponse): boolean {
  return typeof response.body === 'string' && (response.headers === undefined || Object.isFrozen(response.headers));
}

/** Per-connection facts the serializer needs; `close` is set when the response ends the connection. */
export interface ResponseContext {
  /** The request's method is HEAD: send headers only. */
  head: boolean;
  /** The connection stays open after this response (in); false when the response asked to close (out). */
  keepAlive: boolean;
  /** The request is HTTP/1.0 (no chunked encoding). */
  http10: boolean;
  /** `Connection: keep-alive\r\nKeep-Alive: timeout=N\r\n`. */
  readonly keepAliveFields: string;
}

const TEXT_TYPE = 'Content-Type: text/plain; charset=utf-8\r\n';
const BYTES_TYPE = 'Content-Type: application/octet-stream\r\n';
const CLOSE_FIELD = 'Connection: close\r\n';

/** The head of a response whose body is a stream (chunked, or close-delimited for HTTP/1.0). */
export interface StreamHead {
  readonly head: string | Buffer;
  /** Chunked framing is used (HTTP/1.1). */
  readonly chunked: boolean;
}

/**
 * Serializes a sized response into one string (text bodies) or one Buffer
 * (byte bodies). Streamed bodies go through {@link serializeStreamHead}.
 * @throws InvalidResponseError for a status or header skein cannot send.
 */
export function serializeResponse(result: HttpHandlerResult, ctx: ResponseContext): string | Buffer {
  if (typeof result !== 'object' || result === null || result instanceof Uint8Array || !cacheable(result)) return serializeSized(result, ctx);
  dateHeader();
  const variant = (ctx.keepAlive ? 1 : 0) | (ctx.head ? 2 : 0);
  let entry = responseCache.get(result);
  if (
    entry === undefined ||
    entry.second !== dateSecond ||
    entry.status !== result.status ||
    entry.headers !== result.headers ||
    entry.body !== result.body ||
    entry.keepAliveFields !== ctx.keepAliveFields
  ) {
    entry = { status: result.status, headers: result.headers, body: result.body as string, keepAliveFields: ctx.keepAliveFields, second: dateSecond, closes: false, bytes: [] };
    responseCache.set(result, entry);
  }
  const hit = entry.bytes[variant];
  if (hit !== undefined) {
    if (entry.closes) ctx.keepAlive = false;
    return hit;
  }
  const out = serializeSized(result, ctx);
  if (ctx.keepAlive !== ((variant & 1) === 1)) entry.closes = true;
  const bytes = typeof out === 'string' ? Buffer.from(out) : out;
  entry.bytes[variant] = bytes;
  return bytes;
}

/** {@link serializeResponse} without the cache. */
function serializeSized(result: HttpHandlerResult, ctx: ResponseContext): string | Buffer {
  let status = 200;
  let headers: HttpResponseHeaders | undefined;
  let body: HttpBody;
  if (typeof result === 'string' || result instanceof Uint8Array) {
    body = result;
  } else if (typeof result !== 'object' || result === null) {
    throw new InvalidResponseError(`a handler must return a response, a string or bytes (got ${result === null ? 'null' : typeof result})`);
  } else {
    if (result.status !== undefined) status = checkStatus(result.status);
    headers = result.headers;
    body = result.body;
  }
  let head = statusLine(status);
  let typeSet = false;
  let latin1Head = false;
  if (headers !== undefined) {
    const fields = userFields(headers, ctx);
    head += fields.text;
    typeSet = fields.contentType;
    latin1Head = fields.latin1;
  }
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  let length = 0;
  if (typeof body === 'string') {
    length = Buffer.byteLength(body);
    if (!typeSet && !noBody) head += TEXT_TYPE;
  } else if (body instanceof Uint8Array) {
    length = body.byteLength;
    if (!typeSet && !noBody) head += BYTES_TYPE;
  } else if (body !== null && body !== undefined) {
    throw new InvalidResponseError('a streamed body must go through serializeStreamHead');
  }
  head += dateHeader();
  head += ctx.keepAlive ? ctx.keepAliveFields : CLOSE_FIELD;
  if (!noBody) head += `Content-Length: ${length}\r\n`;
  head += '\r\n';
  const withBody = !(ctx.head || noBody || length === 0);
  if (latin1Head) {
    const headBytes = Buffer.from(head, 'latin1');
    return withBody ? Buffer.concat([headBytes, typeof body === 'string' ? Buffer.from(body) : (body as Uint8Array)]) : headBytes;
  }
  if (!withBody) return head;
  if (typeof body === 'string') return head + body;
  const bytes = body as Uint8Array;
  const out = Buffer.allocUnsafe(head.length + bytes.byteLength);
  out.write(head, 0, 'latin1');
  out.set(bytes, head.length);
  return out;
}

/** The head of a streamed response: chunked for HTTP/1.1; for HTTP/1.0, the connection's end ends the body. */
export function serializeStreamHead(response: HttpResponse, ctx: ResponseContext): StreamHead {
  const status = response.status === undefined ? 200 : checkStatus(response.status);
  let head = statusLine(status);
  let typeSet = false;
  let latin1Head = false;
  if (response.headers !== undefined) {
    const fields = userFields(response.headers, ctx);
    head += fields.text;
    typeSet = fields.contentType;
    latin1Head = fields.latin1;
  }
  if (!typeSet) head += BYTES_TYPE;
  head += dateHeader();
  const chunked = !ctx.http10;
  if (!chunked) ctx.keepAlive = false;
  head += ctx.keepAlive ? ctx.keepAliveFields : CLOSE_FIELD;
  if (chunked && !ctx.head) head += 'Transfer-Encoding: chunked\r\n';
  head += '\r\n';
  return { head: latin1Head ? Buffer.from(head, 'latin1') : head, chunked };
}

/** True when `body` is streamed (an iterable that is not a string or bytes). */
export function isStreamBody(body: unknown): body is AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array> {
  if (body === null || typeof body !== 'object' || body instanceof Uint8Array) return false;
  return typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function';
}

/** One chunk in chunked framing. */
export function chunkFrame(chunk: string | Uint8Array): Buffer | string {
  if (typeof chunk === 'string') {
    const n = Buffer.byteLength(chunk);
    return n === 0 ? '' : `${n.toString(16)}\r\n${chunk}\r\n`;
  }
  if (chunk.byteLength === 0) return '';
  const size = `${chunk.byteLength.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(size.length + chunk.byteLength + 2);
  out.write(size, 0, 'latin1');
  out.set(chunk, size.length);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}

/** The last chunk of a chunked body. */
export const LAST_CHUNK = '0\r\n\r\n';

function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new InvalidResponseError(`invalid status code ${String(status)}`);
  return status;
}

const SKIPPED = new Set(['content-length', 'transfer-encoding', 'date']);

interface UserFields {
  text: string;
  /** The handler set a content type. */
  contentType: boolean;
  /** A value has bytes above 0x7f: the head must be written as latin1, not UTF-8. */
  latin1: boolean;
}

/** The handler's header lines, checked; notes `connection: close` and a content type. */
function userFields(headers: HttpResponseHeaders, ctx: ResponseContext): UserFields {
  const fields: UserFields = { text: '', contentType: false, latin1: false };
  let text = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    checkName(name);
    const lower = name.toLowerCase();
    if (lower === 'content-type') fields.contentType = true;
    else if (lower === 'connection') {
      // skein owns keep-alive; a handler may still ask to close.
      if (String(value).toLowerCase().includes('close')) ctx.keepAlive = false;
      continue;
    } else if (SKIPPED.has(lower)) continue;
    if (Array.isArray(value)) {
      for (const v of value as readonly string[]) text += `${name}: ${checkValue(name, String(v), fields)}\r\n`;
    } else {
      text += `${name}: ${checkValue(name, typeof value === 'string' ? value : String(value), fields)}\r\n`;
    }
  }
  fields.text = text;
  return fields;
}

/** Header names are tokens (RFC 9110 §5.1). */
function checkName(name: string): void {
  if (name.length === 0) throw new InvalidResponseError('empty header name');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) throw new InvalidResponseError(`invalid header name ${JSON.stringify(name)}`);
  }
}

/** Header values: no CR, LF, NUL or other controls (no response splitting), latin1 only. */
function checkValue(name: string, value: string, fields: UserFields): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) throw new InvalidResponseError(`invalid value for header ${name}`);
    if (c > 0x7f) fields.latin1 = true;
  }
  return value;
}
