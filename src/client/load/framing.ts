/**
 * How `skein load` frames its requests and recognises the end of each reply.
 * The load generator does not check what a reply says, only where it ends:
 * that is enough to time each request in a closed loop.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../shared/protocol/errors.js';

/**
 * `line`: LineReceiver; `int32`: Int32StringReceiver (4-byte big-endian length); `raw`: no framing;
 * `websocket`: an upgrade request first, then each request is a masked text message and each reply a message.
 */
export type Framing = 'line' | 'int32' | 'raw' | 'websocket';

export const FRAMINGS: readonly Framing[] = ['line', 'int32', 'raw', 'websocket'];

/** What the generator needs to know to frame requests and count replies. */
export interface FramingSpec {
  readonly framing: Framing;
  /** The request body (without framing). */
  readonly payload: Buffer;
  /** `line`: the request delimiter (replies end at `\n`). Default `\r\n`, Twisted's. */
  readonly delimiter?: string;
  /**
   * `raw`: the server answers each chunk it reads with this prefix and then the
   * chunk (`processed`: `Processed: `). Empty (the default): an echo server.
   */
  readonly replyPrefix?: string;
  /** `raw`: each request gets exactly this many bytes back (overrides `replyPrefix`). */
  readonly replySize?: number;
  /** `websocket`: the path of the upgrade request (default `/`). */
  readonly path?: string;
}

/** Counts complete replies in a byte stream. */
export interface ReplyCounter {
  /** Consumes `chunk` and returns how many more replies are now complete. */
  consume(chunk: Buffer): number;
}

/** One request's bytes on the wire. */
export function encodeRequest(spec: FramingSpec): Buffer {
  switch (spec.framing) {
    case 'line':
      return Buffer.concat([spec.payload, Buffer.from(spec.delimiter ?? '\r\n')]);
    case 'int32': {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(spec.payload.length);
      return Buffer.concat([header, spec.payload]);
    }
    case 'raw':
      return spec.payload;
    case 'websocket':
      return maskedTextFrame(spec.payload);
  }
}

/** What a connection sends first and reads up to before its first request (a greeting line, a WebSocket upgrade). */
export interface Opening {
  /** Bytes to send on connecting, if any. */
  readonly request?: Buffer;
  /** The opening ends after these bytes. */
  readonly end: Buffer;
  /** When set, the opening must start with this (`HTTP/1.1 101`), or the connection is dropped. */
  readonly expect?: string;
}

/** The opening of a connection for `spec`: a WebSocket upgrade, a greeting line, or none. */
export function openingFor(spec: FramingSpec, host: string, port: number, greeting: boolean): Opening | undefined {
  if (spec.framing === 'websocket') {
    const key = randomBytes(16).toString('base64');
    const request = `GET ${spec.path ?? '/'} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    return { request: Buffer.from(request), end: Buffer.from('\r\n\r\n'), expect: 'HTTP/1.1 101' };
  }
  return greeting ? { end: Buffer.from('\n') } : undefined;
}

/** A client's text frame: FIN, masked (RFC 6455 §5.3; one random key per run is enough for load). */
function maskedTextFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const size = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const frame = Buffer.alloc(size + 4 + n);
  frame[0] = 0x81;
  if (n < 126) frame[1] = 0x80 | n;
  else if (n < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, size);
  for (let i = 0; i < n; i++) frame[size + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/**
 * Checks that replies to `spec` can be told apart from each other.
 * @throws InvalidOptionError naming the option that makes them ambiguous.
 */
export function validateFraming(spec: FramingSpec): void {
  if (spec.payload.length === 0) throw new InvalidOptionError('--payload must not be empty');
  if (spec.framing === 'line') {
    const delimiter = spec.delimiter ?? '\r\n';
    if (!delimiter.endsWith('\n')) throw new InvalidOptionError('--delimiter must end with \\n (replies are counted by line feeds)');
    if (spec.payload.includes(0x0a)) throw new InvalidOptionError('--payload must not contain a line feed with line framing');
  }
  if (spec.framing === 'raw' && spec.replySize === undefined && spec.replyPrefix) {
    // A server that answers each *chunk* with prefix + chunk coalesces pipelined
    // requests; the replies stay countable only if the prefix's first byte never
    // occurs in the payload (see PrefixedEchoCounter).
    if (spec.payload.includes(spec.replyPrefix.charCodeAt(0))) {
      throw new InvalidOptionError(`--payload must not contain '${spec.replyPrefix[0]}', the first byte of --reply-prefix`);
    }
  }
  if (spec.replySize !== undefined && !(Number.isInteger(spec.replySize) && spec.replySize > 0)) {
    throw new InvalidOptionError('--reply-size must be a positive integer');
  }
}

/** A reply counter for `spec` (one per connection: counters keep partial replies). */
export function replyCounter(spec: FramingSpec): ReplyCounter {
  switch (spec.framing) {
    case 'line':
      return new LineCounter();
    case 'int32':
      return new Int32Counter();
    case 'raw':
      if (spec.replySize !== undefined) return new FixedSizeCounter(spec.replySize);
      return new PrefixedEchoCounter(Buffer.from(spec.replyPrefix ?? ''), spec.payload.length);
    case 'websocket':
      return new WebSocketMessageCounter();
  }
}

/** Counts the messages a WebSocket server sends (frames with FIN that end a data message; control frames are skipped). */
export class WebSocketMessageCounter implements ReplyCounter {
  private readonly header = Buffer.alloc(10);
  private have = 0;
  private skip = 0;

  consume(chunk: Buffer): number {
    let n = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - i);
        this.skip -= take;
        i += take;
        continue;
      }
      this.header[this.have++] = chunk[i++]!;
      if (this.have < 2) continue;
      const len7 = this.header[1]! & 0x7f;
      const size = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      if (this.have < size) continue;
      this.skip = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
      const b0 = this.header[0]!;
      if ((b0 & 0x80) !== 0 && (b0 & 0x0f) < 8) n++;
      this.have = 0;
    }
    return n;
  }
}

/** Replies end at a line feed (so both `\n` and `\r\n` servers are counted). */
export class LineCounter implements ReplyCounter {
  consume(chunk: Buffer): number {
    let n = 0;
    let i = chunk.indexOf(0x0a);
    while (i !== -1) {
      n++;
      i = chunk.indexOf(0x0a, i + 1);
    }
    return n;
  }
}

/** Replies are 4-byte big-endian length-prefixed frames. */
export class Int32Counter implements ReplyCounter {
  private readonly header = Buffer.alloc(4);
  private headerBytes = 0;
  private bodyLeft = 0;

  consume(chunk: Buffer): number {
    let n = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) n++;
        continue;
      }
      this.header[this.headerBytes++] = chunk[i++]!;
      if (this.headerBytes === 4) {
        this.headerBytes = 0;
        this.bodyLeft = this.header.readUInt32BE(0);
        if (this.bodyLeft === 0) n++;
      }
    }
    return n;
  }
}

/** Each request gets exactly `size` bytes back. */
export class FixedSizeCounter implements ReplyCounter {
  private partial = 0;

  constructor(private readonly size: number) {}

  consume(chunk: Buffer): number {
    const total = this.partial + chunk.length;
    const n = Math.floor(total / this.size);
    this.partial = total - n * this.size;
    return n;
  }
}

/**
 * For servers that answer each chunk they read with `prefix` + the chunk
 * (`processed`). Pipelined requests may reach the server as one chunk and come
 * back under one prefix, so replies are counted by echoed payload bytes: every
 * prefix is stripped (its first byte never occurs in the payload, checked by
 * {@link validateFraming}) and each `requestSize` bytes of echo complete one
 * request. With an empty prefix this counts an echo server's replies.
 */
export class PrefixedEchoCounter implements ReplyCounter {
  /** Bytes of the current prefix matched so far (0: reading echoed data). */
  private matched = 0;
  private echoed = 0;

  constructor(
    private readonly prefix: Buffer,
    private readonly requestSize: number,
  ) {}

  consume(chunk: Buffer): number {
    const prefix = this.prefix;
    if (prefix.length === 0) return this.complete(chunk.length);
    let i = 0;
    let data = 0;
    while (i < chunk.length) {
      if (this.matched > 0) {
        const take = Math.min(prefix.length - this.matched, chunk.length - i);
        this.matched = (this.matched + take) % prefix.length;
        i += take;
        continue;
      }
      const start = chunk.indexOf(prefix[0]!, i);
      if (start === -1) {
        data += chunk.length - i;
        break;
      }
      data += start - i;
      this.matched = prefix.length === 1 ? 0 : 1;
      i = start + 1;
    }
    return this.complete(data);
  }

  private complete(bytes: number): number {
    const total = this.echoed + bytes;
    const n = Math.floor(total / this.requestSize);
    this.echoed = total - n * this.requestSize;
    return n;
  }
}
