/**
 * The server side of the opening handshake (RFC 6455 §4.2): checks an HTTP
 * upgrade request, negotiates the subprotocol and permessage-deflate, and
 * writes the 101 response or the refusal. Used by the plain WebSocket
 * endpoint and by an `http` handler that upgrades.
 */
import { createHash } from 'node:crypto';
import { WebSocketHandshakeError } from '../../shared/protocol/errors.js';
import type { HttpRequest } from '../http/request.js';
import { STATUS_REASONS } from '../http/response.js';
import { negotiateDeflate, parseExtensions, type DeflateParams, type PerMessageDeflateOptions } from './deflate.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** The `Sec-WebSocket-Accept` value for a client's key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** True when `header` (a comma-separated list) holds `token`, case-insensitively. */
export function hasToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** True when the request asks for a WebSocket (`Upgrade: websocket`), whether or not it is a valid one. */
export function isWebSocketUpgrade(request: HttpRequest): boolean {
  return hasToken(request.headers.upgrade, 'websocket');
}

/** What a refused upgrade is answered with. */
export interface HandshakeRefusal {
  readonly status: number;
  readonly error: WebSocketHandshakeError;
}

/**
 * Checks the request's structure (method, version, Upgrade, Connection, key,
 * version). Returns the refusal (400, or 426 for a request that is not an
 * upgrade at all), or undefined when the request is a valid upgrade.
 */
export function checkUpgrade(request: HttpRequest): HandshakeRefusal | undefined {
  const refuse = (status: number, message: string): HandshakeRefusal => ({ status, error: new WebSocketHandshakeError(message) });
  const h = request.headers;
  if (!isWebSocketUpgrade(request)) return refuse(426, 'this endpoint speaks WebSocket: send an upgrade request (Upgrade: websocket)');
  if (request.method !== 'GET') return refuse(400, `a WebSocket upgrade must be a GET (got ${request.method})`);
  if (request.httpVersion !== '1.1') return refuse(400, 'a WebSocket upgrade needs HTTP/1.1');
  if (!hasToken(h.connection, 'upgrade')) return refuse(400, 'a WebSocket upgrade needs Connection: Upgrade');
  const version = h['sec-websocket-version'];
  if (version === undefined || version.trim() !== '13') return refuse(400, `unsupported Sec-WebSocket-Version ${JSON.stringify(version ?? '')} (only 13)`);
  const key = h['sec-websocket-key'];
  if (key === undefined || !KEY.test(key.trim())) return refuse(400, 'missing or invalid Sec-WebSocket-Key (24 base64 characters for 16 bytes)');
  return undefined;
}

/** The subprotocols a client offers, in its order (`Sec-WebSocket-Protocol`). */
export function offeredSubprotocols(request: HttpRequest): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** What the server agreed to. */
export interface Agreement {
  /** The subprotocol selected, or `''`. */
  readonly subprotocol: string;
  /** permessage-deflate parameters when negotiated. */
  readonly deflate: DeflateParams | undefined;
  /** The `Sec-WebSocket-Extensions` response value, or `''`. */
  readonly extensions: string;
}

/** Negotiates permessage-deflate (when the service enables it) from the request's offers. */
export function negotiate(request: HttpRequest, subprotocol: string, deflate: PerMessageDeflateOptions | false): Agreement {
  const header = request.headers['sec-websocket-extensions'];
  if (deflate === false || header === undefined) return { subprotocol, deflate: undefined, extensions: '' };
  const offers = parseExtensions(header);
  const accepted = offers ? negotiateDeflate(offers, deflate) : undefined;
  return accepted ? { subprotocol, deflate: accepted.params, extensions: accepted.response } : { subprotocol, deflate: undefined, extensions: '' };
}

/** Header field names a handler may not set on a 101 response (skein writes them). */
const RESERVED = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions', 'content-length', 'transfer-encoding']);
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Checks extra response headers; throws TypeError naming the bad one. */
export function extraHeaderLines(headers: Readonly<Record<string, string>> | undefined): string {
  if (!headers) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!FIELD_NAME.test(name) || RESERVED.has(name.toLowerCase())) throw new TypeError(`header '${name}' cannot be set on a WebSocket 101 response`);
    if (!FIELD_VALUE.test(value)) throw new TypeError(`header '${name}' has an invalid value`);
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** The 101 response that opens the WebSocket. */
export function acceptResponse(request: HttpRequest, agreement: Agreement, extraLines = ''): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(request.headers['sec-websocket-key']!.trim())}\r\n`;
  if (agreement.subprotocol) head += `Sec-WebSocket-Protocol: ${agreement.subprotocol}\r\n`;
  if (agreement.extensions) head += `Sec-WebSocket-Extensions: ${agreement.extensions}\r\n`;
  return head + extraLines + '\r\n';
}

/** A refusal: the status, `Sec-WebSocket-Version: 13` (so a client can retry with it), a one-line reason, then the connection closes. */
export function refusalResponse(status: number, message: string, extraLines = ''): string {
  const body = `${STATUS_REASONS[status] ?? 'Error'}: ${message}\n`;
  const upgrade = status === 426 ? 'Upgrade: websocket\r\n' : '';
  return (
    `HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? 'Error'}\r\nSec-WebSocket-Version: 13\r\n${upgrade}${extraLines}` +
    `Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
