/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112), written for
 * skein's `http` protocol. It reads Buffers as they arrive, in chunks of any
 * size, and never throws: bad input ends in one `error` event carrying a typed
 * refusal (400, 411, 413, 414, 431, 501, 505), after which the parser is dead.
 *
 * Speed: lines are found with `Buffer.indexOf` (native), each byte is checked
 * once against a lookup table, and strings are made once per field with a
 * latin1 slice.
 *
 * Ownership: the parser keeps no chunk it is given past the `execute` call
 * (the socket's read buffer is lent to it and reused; see net/direct-read.ts).
 * What it holds it copies: a body (handed over as a Buffer of its own), a
 * partial line (kept as copied pieces, bounded by the line limits, no repeated
 * concatenation), the input left when it stops (into one buffer of its own,
 * reused from stop to stop). A body that spans reads is copied into blocks as
 * it arrives ({@link BodyAccumulator}), bounded by `maxBodySize`.
 *
 * A run can be given a budget of lines
 * ({@link HttpRequestParser.linesPerRun}): one read of tiny lines then costs
 * the event loop a bounded slice, and the owner resumes the parser on a later turn.
 *
 * Accept/reject decisions follow node:http (llhttp in strict mode) unless the
 * docs/http.md lists the difference.
 */
import { COLON, CR, DQUOTE, EQUALS, FIELD_VALUE, HEX, HTAB, LF, SEMICOLON, SP, TARGET, TOKEN, BACKSLASH } from './chars.js';
import {
  HttpBadRequestError,
  HttpBodyTooLargeError,
  HttpHeadersTooLargeError,
  HttpLengthRequiredError,
  HttpNotImplementedError,
  HttpUriTooLongError,
  HttpVersionNotSupportedError,
  type SkeinError,
} from '../../shared/protocol/errors.js';
import { BodyAccumulator } from './body.js';
import type { HttpLimits } from './limits.js';
import { HttpRequest, type HttpHeaders } from './request.js';

/** What the parser tells its owner. */
export interface ParserEvents {
  /**
   * The head of a request was parsed and accepted; its body (if any) comes
   * next. `expect` says what its HTTP/1.1 `Expect` field asks for.
   */
  headComplete(request: HttpRequest, expect: Expectation): void;
  /** A whole request. Return false to stop parsing until {@link HttpRequestParser.resume}. */
  request(request: HttpRequest): boolean;
  /** The input cannot be parsed further. Called at most once; the parser is dead afterwards. */
  error(error: SkeinError): void;
}

/** What a request's `Expect` field asks for. */
export const enum Expectation {
  /** No expectation (or HTTP/1.0, where node:http ignores it). */
  None = 0,
  /** `100-continue` with a body still to come: send `100 Continue` first. */
  Continue = 1,
  /** Anything else: answer 417 (as node:http does). */
  Unsupported = 2,
}

/** Where the parser is in the message cycle (what a timeout applies to). */
export const enum ParserPhase {
  /** Between requests: nothing of the next one has arrived. */
  Idle = 0,
  /** Reading a request line and headers. */
  Head = 1,
  /** Reading a body. */
  Body = 2,
  /** Stopped for good (error, or the owner finished it). */
  Done = 3,
}

const S_START = 0;
const S_HEADER = 1;
const S_BODY = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_END = 5;
const S_TRAILER = 6;
const S_DONE = 7;

const EMPTY = Buffer.alloc(0);

/** Methods node:http knows (`http.METHODS`); any other token is answered 501. */
const METHODS = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH',
  'PURGE', 'PUT', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK',
  'UNLOCK', 'UNSUBSCRIBE',
]);

/** More than 15 decimal digits cannot be a safe integer length (and is far above any body limit). */
const MAX_LENGTH_DIGITS = 15;
/** More hex digits than this overflow 64 bits: node:http answers 400, not 413. */
const MAX_CHUNK_SIZE_DIGITS = 16;

interface FastBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as FastBuffer).latin1Slice(start, end);
}

/** Stash sizes: enough for a few requests; a read's worth (libuv reads 64 KiB). */
const SMALL_STASH = 4096;
const LARGE_STASH = 64 * 1024;

export class HttpRequestParser {
  /**
   * Lines (request, header, chunk-size and chunk-end lines; not the empty
   * lines a request may follow) one run may parse; then the parser stops as if
   * `request` had returned false, holds the rest, and {@link yielded} is true
   * until {@link resume}. Infinity (the default): no budget.
   */
  linesPerRun = Infinity;
  private lines = 0;
  private budgetSpent = false;
  private state = S_START;
  /** A line that has not ended yet, kept as the chunks it arrived in. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Input that arrived while stopped (copies: see {@link hold}). */
  private held: Buffer[] = [];
  /** Where {@link hold} copies the input left when a run stops; reused from stop to stop; see {@link trim}. */
  private stash: Buffer | undefined;
  private stopped = false;
  private running = false;
  /** Requests begun so far (the first byte of a request line counts). */
  private started = 0;
  /** The current request line was counted in `started` when its first piece arrived. */
  private begun = false;

  // The message being parsed.
  private method = '';
  private url = '';
  private version: '1.0' | '1.1' = '1.1';
  private headers: HttpHeaders = Object.create(null) as HttpHeaders;
  private trailers: HttpHeaders | undefined;
  private headerCount = 0;
  private counted = 0; // node:http's header size: target + names + values
  private rawHead = 0; // every byte of the head
  private contentLength = -1;
  private transferEncoding: string | undefined;
  private hostCount = 0;
  private close = false;
  private keepAliveToken = false;
  private expect: string | undefined;
  private request: HttpRequest | undefined;
  private remaining = 0; // body bytes (identity) or chunk bytes still to read
  /** Body bytes declared so far (Content-Length, or the chunk sizes read), against `maxBodySize`. */
  private bodyLength = 0;
  /**
   * The body received so far, when it spans reads (identity) or is chunked:
   * its bytes in blocks, never one object per chunk (1-byte chunks cost their
   * byte, not ~100), never more than one block beyond what arrived.
   */
  private readonly body = new BodyAccumulator();

  constructor(
    private readonly limits: HttpLimits,
    private readonly events: ParserEvents,
  ) {}

  /** Where the parser is, for the owner's timeouts. */
  get phase(): ParserPhase {
    switch (this.state) {
      case S_START:
        return this.partialLength > 0 ? ParserPhase.Head : ParserPhase.Idle;
      case S_HEADER:
        return ParserPhase.Head;
      case S_DONE:
        return ParserPhase.Done;
      default:
        return ParserPhase.Body;
    }
  }

  /** Number of requests begun so far (changes when a new request's first byte arrives). */
  get requestsStarted(): number {
    return this.started;
  }

  /** Bytes held by the parser (partial line, stopped input, the body's blocks so far). */
  get buffered(): number {
    let n = this.partialLength + this.body.retained;
    for (const h of this.held) n += h.length;
    return n;
  }

  /** The last run stopped because it spent {@link linesPerRun}, with input left: call {@link resume} on a later turn. */
  get yielded(): boolean {
    return this.budgetSpent;
  }

  /** Feeds bytes. Never throws; a bad request ends in one `error` event. */
  execute(chunk: Buffer): void {
    if (this.state === S_DONE) return;
    if (this.stopped || this.running) {
      this.held.push(Buffer.from(chunk));
      return;
    }
    this.running = true;
    this.lines = 0;
    try {
      this.run(chunk, 0);
    } catch (error) {
      // A bug must cost one connection a 400, never the worker.
      this.fail(new HttpBadRequestError(`HTTP parser failed: ${(error as Error).message}`, { cause: error }));
    } finally {
      this.running = false;
    }
  }

  /** Restarts parsing after `request` returned false, with the input held meanwhile. */
  resume(): void {
    if (!this.stopped || this.state === S_DONE) return;
    this.stopped = false;
    this.budgetSpent = false;
    const held = this.held;
    this.held = [];
    if (held.length > 0) this.execute(held.length === 1 ? held[0]! : Buffer.concat(held));
  }

  /**
   * Drops the buffer stops copy into when nothing is held in it, so a
   * connection that flooded once and went quiet keeps no 64 KiB. The owner
   * calls it now and then (the timeout sweep): a flood, stopping on every
   * read, keeps reusing one buffer between calls.
   */
  trim(): void {
    if (this.held.length === 0) this.stash = undefined;
  }

  /**
   * Stops for good and returns the input that arrived after the request at
   * which parsing stopped (`request` returned false): after an upgrade, the
   * first bytes of the new protocol.
   */
  detach(): Buffer {
    const held = this.held;
    // A copy: the held input may be in the stash, which is the parser's.
    const rest = held.length === 1 ? Buffer.from(held[0]!) : Buffer.concat(held);
    this.finish();
    return rest;
  }

  /** Stops for good: later input is ignored (the connection is closing). */
  finish(): void {
    this.state = S_DONE;
    this.partial = [];
    this.partialLength = 0;
    this.held = [];
    this.stash = undefined;
    this.budgetSpent = false;
    this.body.clear();
  }

  private run(data: Buffer, pos: number): void {
    const len = data.length;
    while (pos < len) {
      const state = this.state;
      if (state === S_BODY) {
        pos = this.readBody(data, pos);
        if (this.stopped) return this.hold(data, pos);
        continue;
      }
      if (state === S_CHUNK_DATA) {
        pos = this.readChunkData(data, pos);
        continue;
      }
      if (state === S_DONE) return;
      // Every other state reads a line.
      const nl = data.indexOf(LF, pos);
      if (nl < 0) {
        this.keepPartial(data, pos);
        return;
      }
      let line = data;
      let start = pos;
      let end = nl; // exclusive, LF
      if (this.partialLength > 0) {
        this.partial.push(data.subarray(pos, nl + 1));
        line = Buffer.concat(this.partial, this.partialLength + nl + 1 - pos);
        start = 0;
        end = line.length - 1;
        this.partial = [];
        this.partialLength = 0;
      }
      pos = nl + 1;
      if (!this.lineLimitOk(end - start + 1)) return;
      // RFC 9112 §2.2: a bare LF ends no line here (node:http refuses it too),
      // except before a request line, where empty lines are skipped.
      if (end === start || line[end - 1] !== CR) {
        if (!(state === S_START && end === start)) return this.fail(new HttpBadRequestError('line ends with a bare LF'));
        continue;
      }
      end--; // drop CR
      switch (state) {
        case S_START:
          if (end > start) this.requestLine(line, start, end);
          break;
        case S_HEADER:
          if (end === start) this.endOfHead();
          else this.fieldLine(line, start, end, false);
          break;
        case S_CHUNK_SIZE:
          this.chunkSizeLine(line, start, end);
          break;
        case S_CHUNK_END:
          if (end !== start) return this.fail(new HttpBadRequestError('chunk data is longer than its size'));
          this.state = S_CHUNK_SIZE;
          break;
        case S_TRAILER:
          if (end === start) this.complete();
          else this.fieldLine(line, start, end, true);
          break;
      }
      // Empty lines before a request cost a comparison each and are not counted: slicing them would cost more.
      if ((state !== S_START || end > start) && ++this.lines >= this.linesPerRun && pos < len && !this.stopped && this.state !== S_DONE) {
        this.stopped = true;
        this.budgetSpent = true;
      }
      if (this.stopped) return this.hold(data, pos);
    }
  }

  /**
   * Keeps the rest of a stopped run for `resume`, copied into the stash: the
   * chunk is lent, and one buffer reused by a connection that stops again and
   * again (a pipelined flood) leaves no 64 KiB of garbage per stop.
   */
  private hold(data: Buffer, pos: number): void {
    if (pos >= data.length || this.state === S_DONE) return;
    const rest = data.subarray(pos);
    // Input that arrived meanwhile is already held (copied): the rest goes before it.
    if (this.held.length > 0) {
      this.held.unshift(Buffer.from(rest));
      return;
    }
    let stash = this.stash;
    if (stash === undefined || stash.length < rest.length) {
      stash = Buffer.allocUnsafeSlow(rest.length <= SMALL_STASH ? SMALL_STASH : Math.max(rest.length, LARGE_STASH));
      this.stash = stash;
    }
    // `data` may itself be the stash (a resumed run stopping again): `set` copies overlapping bytes correctly.
    stash.set(rest, 0);
    this.held.push(stash.subarray(0, rest.length));
  }

  /** An unfinished line: keep it, unless it already breaks a limit or is already invalid. */
  private keepPartial(data: Buffer, pos: number): void {
    const rest = data.subarray(pos);
    const first = this.partialLength === 0;
    if (this.state === S_START && first) {
      // Skip empty-line bytes; a request starts at its first other byte.
      let i = 0;
      while (i < rest.length && (rest[i] === CR || rest[i] === LF)) i++;
      if (i === rest.length) return;
      this.started++;
      this.begun = true;
    }
    if (!this.lineLimitOk(this.partialLength + rest.length)) return;
    const piece = Buffer.from(rest); // the chunk is lent
    this.partial.push(piece);
    this.partialLength += piece.length;
    // Refuse garbage now rather than after a timeout: check what a line's start must look like.
    if (first) this.checkLineStart(piece);
  }

  /** Enforces each line kind's size bound; false (after failing) when broken. */
  private lineLimitOk(lineLength: number): boolean {
    const limits = this.limits;
    switch (this.state) {
      case S_START:
        if (lineLength > limits.maxRequestLineSize + 2) {
          this.fail(new HttpUriTooLongError(`request line exceeds ${limits.maxRequestLineSize} bytes`));
          return false;
        }
        return true;
      case S_HEADER:
      case S_TRAILER:
        if (this.rawHead + lineLength > 2 * limits.maxHeaderSize) {
          this.fail(new HttpHeadersTooLargeError(`header section exceeds ${2 * limits.maxHeaderSize} raw bytes`));
          return false;
        }
        return true;
      case S_CHUNK_SIZE:
        if (lineLength > limits.maxChunkExtensionSize + MAX_CHUNK_SIZE_DIGITS + 2) {
          this.fail(new HttpBodyTooLargeError(`chunk extensions exceed ${limits.maxChunkExtensionSize} bytes`));
          return false;
        }
        return true;
      case S_CHUNK_END:
        if (lineLength > 2) {
          this.fail(new HttpBadRequestError('chunk data is longer than its size'));
          return false;
        }
        return true;
      default:
        return true;
    }
  }

  /** Early refusal of a line that cannot become valid, from its first bytes. */
  private checkLineStart(piece: Buffer): void {
    if (this.state === S_START) {
      let i = 0;
      while (i < piece.length && (piece[i] === CR || piece[i] === LF)) i++;
      while (i < piece.length && TOKEN[piece[i]!] === 1) i++;
      if (i < piece.length && piece[i] !== SP) this.fail(new HttpBadRequestError('invalid character in method'));
    } else if (this.state === S_HEADER || this.state === S_TRAILER) {
      if (piece[0] === SP || piece[0] === HTAB) return this.fail(new HttpBadRequestError('obs-fold (a line starting with whitespace) is not allowed'));
      let i = 0;
      while (i < piece.length && TOKEN[piece[i]!] === 1) i++;
      if (i < piece.length && piece[i] !== COLON && piece[i] !== CR) this.fail(new HttpBadRequestError('invalid character in header name'));
    }
  }

  private requestLine(line: Buffer, start: number, end: number): void {
    if (this.begun) this.begun = false;
    else this.started++;
    this.rawHead = end - start + 2;
    // method
    let i = start;
    while (i < end && TOKEN[line[i]!] === 1) i++;
    if (i === start || i === end || line[i] !== SP) return this.fail(new HttpBadRequestError('invalid request line: method'));
    const method = methodName(line, start, i);
    while (i < end && line[i] === SP) i++;
    // request-target
    const targetStart = i;
    while (i < end && TARGET[line[i]!] === 1) i++;
    if (i === targetStart || i === end || line[i] !== SP) return this.fail(new HttpBadRequestError('invalid request line: request target'));
    const targetEnd = i;
    while (i < end && line[i] === SP) i++;
    // HTTP-version = "HTTP/" DIGIT "." DIGIT
    if (
      end - i !== 8 ||
      line[i] !== 0x48 || line[i + 1] !== 0x54 || line[i + 2] !== 0x54 || line[i + 3] !== 0x50 || line[i + 4] !== 0x2f ||
      !isDigit(line[i + 5]!) || line[i + 6] !== 0x2e || !isDigit(line[i + 7]!)
    ) {
      return this.fail(new HttpBadRequestError('invalid request line: HTTP version'));
    }
    const major = line[i + 5]! - 0x30;
    const minor = line[i + 7]! - 0x30;
    if (major !== 1 || minor > 1) return this.fail(new HttpVersionNotSupportedError(`HTTP/${major}.${minor} is not supported (HTTP/1.0 and HTTP/1.1 are)`));
    if (!METHODS.has(method)) return this.fail(new HttpNotImplementedError(`method ${method} is not implemented`));
    if (method === 'CONNECT') return this.fail(new HttpNotImplementedError('CONNECT is not implemented (skein is not a proxy)'));
    const first = line[targetStart];
    if (first !== 0x2f && first !== 0x2a && !isAbsoluteForm(line, targetStart, targetEnd)) {
      return this.fail(new HttpBadRequestError('invalid request target'));
    }
    this.method = method;
    this.url = latin1(line, targetStart, targetEnd);
    this.version = minor === 1 ? '1.1' : '1.0';
    this.counted = targetEnd - targetStart;
    this.state = S_HEADER;
  }

  private fieldLine(line: Buffer, start: number, end: number, trailer: boolean): void {
    this.rawHead += end - start + 2;
    const first = line[start];
    if (first === SP || first === HTAB) return this.fail(new HttpBadRequestError('obs-fold (a line starting with whitespace) is not allowed'));
    let i = start;
    while (i < end && TOKEN[line[i]!] === 1) i++;
    if (i === start || i === end || line[i] !== COLON) return this.fail(new HttpBadRequestError('invalid header name'));
    const nameEnd = i;
    i++;
    while (i < end && (line[i] === SP || line[i] === HTAB)) i++;
    const valueStart = i;
    let valueEnd = end;
    while (valueEnd > valueStart && (line[valueEnd - 1] === SP || line[valueEnd - 1] === HTAB)) valueEnd--;
    for (let j = valueStart; j < valueEnd; j++) {
      if (FIELD_VALUE[line[j]!] !== 1) return this.fail(new HttpBadRequestError('invalid character in header value'));
    }
    const limits = this.limits;
    this.counted += nameEnd - start + (valueEnd - valueStart);
    if (this.counted >= limits.maxHeaderSize) return this.fail(new HttpHeadersTooLargeError(`header section exceeds ${limits.maxHeaderSize} bytes`));
    if (++this.headerCount > limits.maxHeadersCount) return this.fail(new HttpHeadersTooLargeError(`more than ${limits.maxHeadersCount} header fields`));
    const name = fieldName(line, start, nameEnd);
    const value = latin1(line, valueStart, valueEnd);
    if (trailer) {
      addField((this.trailers ??= Object.create(null) as HttpHeaders), name, value);
      return;
    }
    switch (name) {
      case 'content-length':
        if (this.contentLength >= 0) return this.fail(new HttpBadRequestError('more than one Content-Length'));
        this.contentLength = parseLength(line, valueStart, valueEnd);
        if (this.contentLength === -1) return this.fail(new HttpBadRequestError('invalid Content-Length'));
        break;
      case 'transfer-encoding':
        this.transferEncoding = this.transferEncoding === undefined ? value : `${this.transferEncoding}, ${value}`;
        break;
      case 'connection':
        this.connectionOptions(line, valueStart, valueEnd);
        break;
      case 'host':
        this.hostCount++;
        break;
      case 'expect':
        this.expect = value;
        break;
    }
    addField(this.headers, name, value);
  }

  /** Reads `close` and `keep-alive` from a Connection field (other options are ignored). */
  private connectionOptions(line: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      while (i < end && (line[i] === SP || line[i] === HTAB || line[i] === 0x2c)) i++;
      const s = i;
      while (i < end && line[i] !== 0x2c && line[i] !== SP && line[i] !== HTAB) i++;
      const n = i - s;
      if (n === 5 && equalsLower(line, s, 'close')) this.close = true;
      else if (n === 10 && equalsLower(line, s, 'keep-alive')) this.keepAliveToken = true;
    }
  }

  private endOfHead(): void {
    this.rawHead += 2;
    const limits = this.limits;
    if (this.version === '1.1' && limits.requireHostHeader && this.hostCount === 0) {
      return this.fail(new HttpBadRequestError('HTTP/1.1 request without Host'));
    }
    // RFC 9112 §3.2: more than one Host is a 400.
    if (this.hostCount > 1) return this.fail(new HttpBadRequestError('more than one Host'));
    let chunked = false;
    if (this.transferEncoding !== undefined) {
      // RFC 9112 §6.1 and §6.3: a request with both is a smuggling attempt until proven otherwise.
      if (this.contentLength >= 0) return this.fail(new HttpBadRequestError('both Content-Length and Transfer-Encoding'));
      if (this.version === '1.0') return this.fail(new HttpLengthRequiredError('Transfer-Encoding in an HTTP/1.0 request: its body has no length'));
      const refusal = checkTransferCodings(this.transferEncoding);
      if (refusal) return this.fail(refusal);
      chunked = true;
    } else if (this.contentLength > limits.maxBodySize) {
      return this.fail(new HttpBodyTooLargeError(`Content-Length exceeds maxBodySize (${limits.maxBodySize} bytes)`));
    }
    const keepAlive = !this.close && (this.version === '1.1' || this.keepAliveToken);
    const request = new HttpRequest(this.method, this.url, this.version, this.headers, keepAlive, EMPTY);
    this.request = request;
    let expect = Expectation.None;
    if (this.expect !== undefined && this.version === '1.1') {
      if (!asksContinue(this.expect)) expect = Expectation.Unsupported;
      else if (chunked || this.contentLength > 0) expect = Expectation.Continue;
    }
    this.events.headComplete(request, expect);
    if (this.state === S_DONE) return;
    if (chunked) {
      this.state = S_CHUNK_SIZE;
    } else if (this.contentLength > 0) {
      this.remaining = this.contentLength;
      this.state = S_BODY;
    } else {
      this.complete();
    }
  }

  private readBody(data: Buffer, pos: number): number {
    const available = data.length - pos;
    const remaining = this.remaining;
    if (this.body.length === 0 && available >= remaining) {
      // The whole body is in this chunk: one copy (the chunk is lent).
      this.request!.body = Buffer.from(data.subarray(pos, pos + remaining));
      this.remaining = 0;
      this.complete();
      return pos + remaining;
    }
    // Copied as it arrives: a Content-Length announced is not memory taken until its bytes come.
    const take = available < remaining ? available : remaining;
    this.body.append(data, pos, take, remaining);
    this.remaining = remaining - take;
    if (this.remaining === 0) this.complete();
    return pos + take;
  }

  private readChunkData(data: Buffer, pos: number): number {
    const available = data.length - pos;
    const take = available < this.remaining ? available : this.remaining;
    this.body.append(data, pos, take);
    this.remaining -= take;
    if (this.remaining === 0) this.state = S_CHUNK_END;
    return pos + take;
  }

  /** `chunk-size [ chunk-ext ]`: hex digits, then `;name[=value]` extensions, no whitespace (as node:http). */
  private chunkSizeLine(line: Buffer, start: number, end: number): void {
    let i = start;
    let size = 0;
    while (i < end && HEX[line[i]!]! >= 0) {
      size = size * 16 + HEX[line[i]!]!;
      i++;
    }
    const digits = i - start;
    if (digits === 0) return this.fail(new HttpBadRequestError('invalid chunk size'));
    if (digits > MAX_CHUNK_SIZE_DIGITS) return this.fail(new HttpBadRequestError('chunk size overflows'));
    if (i < end && !this.chunkExtensions(line, i, end)) return;
    const limits = this.limits;
    if (size > limits.maxBodySize - this.bodyLength) {
      return this.fail(new HttpBodyTooLargeError(`chunked body exceeds maxBodySize (${limits.maxBodySize} bytes)`));
    }
    if (size === 0) {
      this.state = S_TRAILER;
      return;
    }
    this.bodyLength += size;
    this.remaining = size;
    this.state = S_CHUNK_DATA;
  }

  /** Validates `*( ";" token [ "=" ( token / quoted-string ) ] )`; false after failing. */
  private chunkExtensions(line: Buffer, i: number, end: number): boolean {
    if (end - i > this.limits.maxChunkExtensionSize) {
      this.fail(new HttpBodyTooLargeError(`chunk extensions exceed ${this.limits.maxChunkExtensionSize} bytes`));
      return false;
    }
    while (i < end) {
      if (line[i] !== SEMICOLON) return this.badExtension();
      i++;
      const nameStart = i;
      while (i < end && TOKEN[line[i]!] === 1) i++;
      if (i === nameStart) return this.badExtension();
      if (i < end && line[i] === EQUALS) {
        i++;
        if (i < end && line[i] === DQUOTE) {
          i++;
          for (;;) {
            if (i >= end) return this.badExtension();
            const b = line[i]!;
            if (b === DQUOTE) break;
            if (b === BACKSLASH) i++;
            else if (b !== HTAB && (b < 0x20 || b === 0x7f)) return this.badExtension();
            i++;
          }
          i++;
        } else {
          while (i < end && TOKEN[line[i]!] === 1) i++;
        }
      }
    }
    return true;
  }

  private badExtension(): false {
    this.fail(new HttpBadRequestError('invalid chunk extension'));
    return false;
  }

  /** A whole request: hand it over, then get ready for the next one. */
  private complete(): void {
    const request = this.request!;
    if (this.body.length > 0) request.body = this.body.take();
    if (this.trailers) request.trailers = this.trailers;
    this.reset();
    if (!this.events.request(request) && this.state !== S_DONE) this.stopped = true;
  }

  private reset(): void {
    this.state = S_START;
    this.headers = Object.create(null) as HttpHeaders;
    this.trailers = undefined;
    this.headerCount = 0;
    this.counted = 0;
    this.rawHead = 0;
    this.contentLength = -1;
    this.transferEncoding = undefined;
    this.hostCount = 0;
    this.close = false;
    this.keepAliveToken = false;
    this.expect = undefined;
    this.request = undefined;
    this.remaining = 0;
    this.bodyLength = 0;
  }

  private fail(error: SkeinError): void {
    this.finish();
    this.events.error(error);
  }
}

/** True when an Expect value lists `100-continue` (node:http's test, without its regex). */
function asksContinue(value: string): boolean {
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === '100-continue') return true;
  }
  return false;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** `scheme "://"`: the start of an absolute-form target (RFC 9112 §3.2.2). */
function isAbsoluteForm(line: Buffer, start: number, end: number): boolean {
  let i = start;
  const first = line[i]! | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  i++;
  while (i < end) {
    const b = line[i]!;
    const lower = b | 0x20;
    if ((lower >= 0x61 && lower <= 0x7a) || isDigit(b) || b === 0x2b || b === 0x2d || b === 0x2e) i++;
    else break;
  }
  return end - i >= 3 && line[i] === COLON && line[i + 1] === 0x2f && line[i + 2] === 0x2f;
}

/** The method as a string; the common ones without slicing. */
function methodName(line: Buffer, start: number, end: number): string {
  const n = end - start;
  const a = line[start];
  if (n === 3 && a === 0x47 && line[start + 1] === 0x45 && line[start + 2] === 0x54) return 'GET';
  if (n === 4 && a === 0x50 && line[start + 1] === 0x4f && line[start + 2] === 0x53 && line[start + 3] === 0x54) return 'POST';
  return latin1(line, start, end);
}

const COMMON_FIELDS = ['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'user-agent', 'accept', 'content-type', 'accept-encoding'];
/** Lower-case field names by length, for lookup without building a string. */
const FIELDS_BY_LENGTH: string[][] = [];
for (const f of COMMON_FIELDS) (FIELDS_BY_LENGTH[f.length] ??= []).push(f);

/** The lower-case field name; common names come from a table, without a new string. */
function fieldName(line: Buffer, start: number, end: number): string {
  const candidates = FIELDS_BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (const c of candidates) if (equalsLower(line, start, c)) return c;
  }
  return latin1(line, start, end).toLowerCase();
}

/** True when line[start…] equals the lower-case ASCII `word`, ignoring case. */
function equalsLower(line: Buffer, start: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) {
    if ((line[start + k]! | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

function addField(headers: HttpHeaders, name: string, value: string): void {
  const previous = headers[name];
  headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
}

const MAX_UINT64 = 2n ** 64n - 1n;

/**
 * Content-Length = 1*DIGIT (no sign, no list). -1 when malformed or above
 * 2^64-1 (node:http answers 400 too), Infinity when merely far above any body limit.
 */
function parseLength(line: Buffer, start: number, end: number): number {
  if (end === start) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = line[i]!;
    if (b < 0x30 || b > 0x39) return -1;
    n = n * 10 + (b - 0x30);
  }
  if (end - start <= MAX_LENGTH_DIGITS) return n;
  return BigInt(latin1(line, start, end)) > MAX_UINT64 ? -1 : Infinity;
}

/**
 * RFC 9112 §6.1 and §7: the codings must end with exactly one `chunked`
 * (else 400); codings skein does not implement are a 501.
 */
function checkTransferCodings(value: string): SkeinError | undefined {
  const codings = value.split(',');
  let chunkedAt = -1;
  let other: string | undefined;
  for (let k = 0; k < codings.length; k++) {
    const coding = codings[k]!.trim();
    if (coding.length === 0) return new HttpBadRequestError('empty transfer coding');
    const semi = coding.indexOf(';');
    const name = (semi >= 0 ? coding.slice(0, semi).trimEnd() : coding).toLowerCase();
    if (!isToken(name)) return new HttpBadRequestError(`invalid transfer coding '${coding}'`);
    if (name === 'chunked') {
      if (chunkedAt >= 0) return new HttpBadRequestError('chunked applied more than once');
      if (semi >= 0) return new HttpBadRequestError('chunked takes no parameters');
      chunkedAt = k;
    } else {
      other ??= name;
    }
  }
  if (chunkedAt !== codings.length - 1) return new HttpBadRequestError('Transfer-Encoding does not end with chunked: the body length is unknown');
  if (other !== undefined) return new HttpNotImplementedError(`transfer coding '${other}' is not implemented`);
  return undefined;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) return false;
  }
  return true;
}
