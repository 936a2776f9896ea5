/**
 * Options of a WebSocket service: one typed defaults object, merged once with
 * the service options (config file `options`, `--option KEY=VALUE`, or the
 * factory's constructor) and frozen.
 */
import { InvalidOptionError } from '../../shared/protocol/errors.js';
import { PER_MESSAGE_DEFLATE_DEFAULTS, type PerMessageDeflateOptions } from './deflate.js';

/** Limits, timeouts and extensions of one WebSocket service. */
export interface WebSocketOptions {
  /** Bytes of one message, reassembled from its fragments and decompressed. Over it: close 1009. */
  readonly maxMessageBytes: number;
  /** Seconds the peer has to answer our Close frame before the connection is dropped. */
  readonly closeTimeout: number;
  /** Seconds without a byte from the peer before it is pinged; 0: never ping. */
  readonly pingInterval: number;
  /** Seconds a pinged peer has to send anything (its pong) before the connection is dropped (1006). */
  readonly pingTimeout: number;
  /** permessage-deflate settings, or false when it is not offered. */
  readonly perMessageDeflate: PerMessageDeflateOptions | false;
  /** Seconds a client on a plain WebSocket endpoint has to send its whole upgrade request. → 408 */
  readonly handshakeTimeout: number;
  /** Subprotocols the service speaks, in preference order: the first one the client also offers is selected. */
  readonly subprotocols: readonly string[];
}

/** Defaults (units on each line). */
export const WEBSOCKET_DEFAULTS: WebSocketOptions = Object.freeze({
  maxMessageBytes: 1024 * 1024, // bytes
  closeTimeout: 5, // seconds
  pingInterval: 30, // seconds; 0 turns pings off
  pingTimeout: 30, // seconds
  perMessageDeflate: false, // off unless enabled, as in ws
  handshakeTimeout: 10, // seconds
  subprotocols: Object.freeze([]) as readonly string[],
});

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function integerIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(`options.${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return v;
}

function seconds(name: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0) || v > 86400) {
    throw new InvalidOptionError(`options.${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds up to 86400 (got ${JSON.stringify(v)})`);
  }
  return v;
}

function deflateOptions(v: unknown): PerMessageDeflateOptions | false {
  if (v === undefined || v === false) return false;
  if (v === true) return PER_MESSAGE_DEFLATE_DEFAULTS;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidOptionError(`options.perMessageDeflate must be true, false or an object (got ${JSON.stringify(v)})`);
  }
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = { ...PER_MESSAGE_DEFLATE_DEFAULTS };
  for (const key of Object.keys(o)) {
    if (!(key in PER_MESSAGE_DEFLATE_DEFAULTS)) throw new InvalidOptionError(`options.perMessageDeflate.${key} is not an option`);
  }
  if (o.threshold !== undefined) out.threshold = integerIn('perMessageDeflate.threshold', o.threshold, 0, 2 ** 31);
  for (const key of ['serverNoContextTakeover', 'clientNoContextTakeover'] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== 'boolean') throw new InvalidOptionError(`options.perMessageDeflate.${key} must be true or false`);
    out[key] = o[key];
  }
  if (o.serverMaxWindowBits !== undefined) out.serverMaxWindowBits = integerIn('perMessageDeflate.serverMaxWindowBits', o.serverMaxWindowBits, 9, 15);
  if (o.clientMaxWindowBits !== undefined) out.clientMaxWindowBits = integerIn('perMessageDeflate.clientMaxWindowBits', o.clientMaxWindowBits, 8, 15);
  if (o.level !== undefined) out.level = integerIn('perMessageDeflate.level', o.level, 0, 9);
  if (o.memLevel !== undefined) out.memLevel = integerIn('perMessageDeflate.memLevel', o.memLevel, 1, 9);
  return Object.freeze(out as unknown as PerMessageDeflateOptions);
}

/**
 * Merges service options over the defaults. Unknown keys are ignored (the
 * service entry carries other options too).
 * @throws InvalidOptionError naming the option, e.g. `options.maxMessageBytes must be an integer from 1 to …`.
 */
export function resolveWebSocketOptions(options: Readonly<Record<string, unknown>> = {}): WebSocketOptions {
  const out: Record<string, unknown> = { ...WEBSOCKET_DEFAULTS };
  if (options.maxMessageBytes !== undefined) out.maxMessageBytes = integerIn('maxMessageBytes', options.maxMessageBytes, 1, 2 ** 31);
  if (options.closeTimeout !== undefined) out.closeTimeout = seconds('closeTimeout', options.closeTimeout, false);
  if (options.pingInterval !== undefined) out.pingInterval = seconds('pingInterval', options.pingInterval, true);
  if (options.pingTimeout !== undefined) out.pingTimeout = seconds('pingTimeout', options.pingTimeout, false);
  if (options.handshakeTimeout !== undefined) out.handshakeTimeout = seconds('handshakeTimeout', options.handshakeTimeout, false);
  out.perMessageDeflate = deflateOptions(options.perMessageDeflate);
  const subprotocols = options.subprotocols;
  if (subprotocols !== undefined) {
    const list = typeof subprotocols === 'string' ? subprotocols.split(',').map((s) => s.trim()) : subprotocols;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && TOKEN.test(p))) {
      throw new InvalidOptionError(`options.subprotocols must be a list of tokens (got ${JSON.stringify(subprotocols)})`);
    }
    out.subprotocols = Object.freeze([...(list as string[])]);
  }
  return Object.freeze(out as unknown as WebSocketOptions);
}
