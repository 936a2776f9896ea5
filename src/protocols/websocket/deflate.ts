/**
 * permessage-deflate (RFC 7692): negotiation and the per-connection codec.
 *
 * Memory is the point of the design. A zlib compressor costs about 256 KiB
 * and a decompressor about 40 KiB; one of each per connection is the classic
 * way a Node WebSocket server runs out of memory. By default skein negotiates
 * no context takeover in both directions (`server_no_context_takeover`,
 * `client_no_context_takeover`, which every client must accept), so each
 * message is compressed on its own and ONE compressor and ONE decompressor per
 * worker serve every connection, reset after each message: an idle
 * connection holds no zlib memory at all. Context takeover (better ratios for
 * streams of similar messages) is a choice per direction; then that
 * direction keeps a context per connection, made on first use.
 *
 * Decompression stops as soon as a message's output passes
 * `maxMessageBytes` (a zip bomb closes with 1009 after at most that much).
 */
import { createDeflateRaw, createInflateRaw } from 'node:zlib';
import { WebSocketInvalidPayloadError, WebSocketMessageTooBigError } from '../../shared/protocol/errors.js';
import { OutputLimitExceeded, SyncZlib } from './sync-zlib.js';

/** permessage-deflate settings of a WebSocket service. */
export interface PerMessageDeflateOptions {
  /** Messages shorter than this many bytes are sent uncompressed. */
  readonly threshold: number;
  /** Compress each outgoing message on its own: one shared compressor per worker instead of one per connection. */
  readonly serverNoContextTakeover: boolean;
  /** Require clients to compress each message on its own: one shared decompressor per worker instead of one per connection. */
  readonly clientNoContextTakeover: boolean;
  /** Window of our compressor, 9-15 (announced as `server_max_window_bits` when below 15). */
  readonly serverMaxWindowBits: number;
  /** Largest window a client may use, 8-15 (announced when the client offers `client_max_window_bits`). */
  readonly clientMaxWindowBits: number;
  /** zlib compression level, 0-9. */
  readonly level: number;
  /** zlib memLevel of our compressor, 1-9 (memory per compressor: about 2^(memLevel+9) + 2^(windowBits+2) bytes). */
  readonly memLevel: number;
}

/** Defaults: no context takeover either way (bounded memory), zlib's default level, ws's threshold. */
export const PER_MESSAGE_DEFLATE_DEFAULTS: PerMessageDeflateOptions = Object.freeze({
  threshold: 1024, // bytes, as ws
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15, // log2 bytes
  clientMaxWindowBits: 15, // log2 bytes
  level: 6, // zlib default
  memLevel: 8, // zlib default
});

/** What was agreed with one client. */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverWindowBits: number;
  readonly clientWindowBits: number;
}

/** One offered extension: its name and parameters (a parameter without a value maps to `true`). */
interface Offer {
  name: string;
  params: Map<string, string | true>;
  duplicate: boolean;
}

/** Parses `Sec-WebSocket-Extensions` (RFC 6455 §9.1); undefined when it is malformed. */
export function parseExtensions(header: string): Offer[] | undefined {
  const offers: Offer[] = [];
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && !' \t,;="'.includes(header[i]!)) i++;
    const t = header.slice(start, i);
    return TOKEN.test(t) ? t : '';
  };
  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (!name) return undefined;
    const offer: Offer = { name: name.toLowerCase(), params: new Map(), duplicate: false };
    skipSpace();
    while (header[i] === ';') {
      i++;
      skipSpace();
      const key = token().toLowerCase();
      if (!key) return undefined;
      skipSpace();
      let value: string | true = true;
      if (header[i] === '=') {
        i++;
        skipSpace();
        if (header[i] === '"') {
          const end = header.indexOf('"', i + 1);
          if (end < 0) return undefined;
          value = header.slice(i + 1, end);
          i = end + 1;
          if (!TOKEN.test(value)) return undefined;
        } else {
          value = token();
          if (!value) return undefined;
        }
        skipSpace();
      }
      if (offer.params.has(key)) offer.duplicate = true;
      offer.params.set(key, value);
    }
    if (i < n && header[i] !== ',') return undefined;
    offers.push(offer);
  }
  return offers;
}

function windowBits(value: string | true | undefined, min: number): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]{1,2}$/.test(value)) return undefined;
  const bits = Number(value);
  return bits >= min && bits <= 15 ? bits : undefined;
}

/**
 * Picks the first acceptable permessage-deflate offer of a client and builds
 * the response parameters. An offer with unknown, repeated or out-of-range
 * parameters is declined (RFC 7692 §5), and the next one is tried.
 */
export function negotiateDeflate(offers: readonly Offer[], options: PerMessageDeflateOptions): { params: DeflateParams; response: string } | undefined {
  for (const offer of offers) {
    if (offer.name !== 'permessage-deflate' || offer.duplicate) continue;
    let ok = true;
    let serverNoContextTakeover = options.serverNoContextTakeover;
    let clientNoContextTakeover = options.clientNoContextTakeover;
    let serverWindowBits = options.serverMaxWindowBits;
    let clientWindowBits = 15;
    let announceClientBits = false;
    for (const [key, value] of offer.params) {
      switch (key) {
        case 'server_no_context_takeover':
          if (value !== true) ok = false;
          serverNoContextTakeover = true;
          break;
        case 'client_no_context_takeover':
          if (value !== true) ok = false;
          clientNoContextTakeover = true;
          break;
        case 'server_max_window_bits': {
          // zlib cannot compress with an 8-bit window: an offer of 8 is declined (as ws does).
          const bits = windowBits(value, 8);
          if (bits === undefined || bits < 9) ok = false;
          else serverWindowBits = Math.min(serverWindowBits, bits);
          break;
        }
        case 'client_max_window_bits': {
          const bits = value === true ? 15 : windowBits(value, 8);
          if (bits === undefined) ok = false;
          else {
            clientWindowBits = Math.min(bits, options.clientMaxWindowBits);
            announceClientBits = true;
          }
          break;
        }
        default:
          ok = false;
      }
    }
    if (!ok) continue;
    let response = 'permessage-deflate';
    if (serverNoContextTakeover) response += '; server_no_context_takeover';
    if (clientNoContextTakeover) response += '; client_no_context_takeover';
    if (serverWindowBits < 15 || offer.params.has('server_max_window_bits')) response += `; server_max_window_bits=${serverWindowBits}`;
    if (announceClientBits && clientWindowBits < 15) response += `; client_max_window_bits=${clientWindowBits}`;
    return { params: { serverNoContextTakeover, clientNoContextTakeover, serverWindowBits, clientWindowBits }, response };
  }
  return undefined;
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Shared contexts (no context takeover): one per worker per setting, reset after each message. */
const sharedDeflaters = new Map<string, SyncZlib>();
let sharedInflater: SyncZlib | undefined;

function newDeflater(bits: number, options: PerMessageDeflateOptions): SyncZlib {
  return new SyncZlib(createDeflateRaw({ windowBits: bits, level: options.level, memLevel: options.memLevel }));
}

function newInflater(bits: number): SyncZlib {
  return new SyncZlib(createInflateRaw({ windowBits: bits }));
}

/** One connection's permessage-deflate codec (synchronous). */
export class PerMessageDeflate {
  /** Per-connection contexts, only with context takeover, made on first use. */
  private deflater: SyncZlib | undefined;
  private inflater: SyncZlib | undefined;

  constructor(
    readonly params: DeflateParams,
    private readonly options: PerMessageDeflateOptions,
  ) {}

  /** The threshold below which messages are sent uncompressed. */
  get threshold(): number {
    return this.options.threshold;
  }

  /** Compresses one message (RFC 7692 §7.2.1: sync flush, without the trailing 00 00 FF FF). */
  compress(data: Buffer): Buffer {
    let zlib: SyncZlib;
    const shared = this.params.serverNoContextTakeover;
    if (shared) {
      const key = `${this.params.serverWindowBits}:${this.options.level}:${this.options.memLevel}`;
      let found = sharedDeflaters.get(key);
      if (!found || found.isClosed) sharedDeflaters.set(key, (found = newDeflater(this.params.serverWindowBits, this.options)));
      zlib = found;
    } else {
      zlib = this.deflater ??= newDeflater(this.params.serverWindowBits, this.options);
    }
    try {
      const out = Buffer.concat(zlib.run(data));
      return out.subarray(0, out.length - 4);
    } finally {
      if (shared) zlib.reset();
    }
  }

  /**
   * Decompresses one message from its frames' payloads.
   * @throws WebSocketMessageTooBigError when the output passes `limit` (1009);
   *         WebSocketInvalidPayloadError for data zlib refuses (1007).
   */
  decompress(pieces: readonly Buffer[], limit: number): Buffer {
    const shared = this.params.clientNoContextTakeover;
    let zlib: SyncZlib;
    if (shared) zlib = sharedInflater && !sharedInflater.isClosed ? sharedInflater : (sharedInflater = newInflater(15));
    else zlib = this.inflater ??= newInflater(15);
    const out: Buffer[] = [];
    try {
      let produced = 0;
      for (const piece of pieces) {
        zlib.run(piece, limit, out, produced);
        produced = total(out);
      }
      zlib.run(TRAILER, limit, out, produced);
    } catch (error) {
      if (error instanceof OutputLimitExceeded) {
        // The context is mid-stream: a shared one starts over, a connection's own is dropped with the connection.
        throw new WebSocketMessageTooBigError(`decompressed message exceeds maxMessageBytes (${limit})`, { cause: error });
      }
      throw new WebSocketInvalidPayloadError(`invalid compressed data: ${(error as Error).message}`, { cause: error });
    } finally {
      if (shared) zlib.reset();
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Frees this connection's own contexts (shared ones stay for other connections). */
  close(): void {
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = undefined;
    this.inflater = undefined;
  }
}

function total(buffers: readonly Buffer[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

