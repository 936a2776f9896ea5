import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../../shared/protocol/errors.js';
import { FRAMINGS, validateFraming, type Framing, type FramingSpec } from './framing.js';

/** Everything `skein load` runs with. */
export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  /** Requests in flight per connection. */
  readonly pipeline: number;
  /** Seconds of load (duration mode); exclusive with `requests`. */
  readonly duration?: number | undefined;
  /** Requests in all (request-count mode). */
  readonly requests?: number | undefined;
  /** Read and skip one line after connecting (a server's welcome). */
  readonly greeting: boolean;
  readonly spec: FramingSpec;
  /** Worker threads the connections are spread over; 0 runs in the calling thread. */
  readonly threads: number;
  /** Seconds each connection attempt may take. */
  readonly connectTimeout: number;
  /** Seconds of load before the measurement window opens (not counted, not timed). */
  readonly warmup: number;
  readonly json: boolean;
  /** No progress lines on stderr. */
  readonly quiet: boolean;
}

/** Defaults of `skein load`, units on each line. */
export const LOAD_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 9000,
  connections: 10,
  pipeline: 1, // requests in flight per connection
  duration: 10, // seconds, when --requests is not given
  payload: 64, // bytes of 'x'
  framing: 'line' as Framing,
  connectTimeout: 10, // seconds
  warmup: 0, // seconds
});

/** Named settings for skein's built-in protocols. */
const PRESETS: Record<string, Partial<{ framing: Framing; replyPrefix: string; greeting: boolean }>> = {
  processed: { framing: 'raw', replyPrefix: 'Processed: ', greeting: true },
  lines: { framing: 'line' },
  'ws-echo': { framing: 'websocket' },
};

export const LOAD_USAGE = `usage: skein load [--host H] [--port N] [--preset processed|lines|ws-echo] [--framing line|int32|raw|websocket]
                  [--connections N] [--pipeline N] [--duration S | --requests N] [--payload SIZE|TEXT]
                  [--greeting] [--reply-prefix TEXT] [--reply-size N] [--delimiter TEXT] [--path P] [--threads N]
                  [--connect-timeout S] [--warmup S] [--json] [--quiet]

A closed-loop TCP load generator: each connection keeps --pipeline requests in
flight and sends a new one for each reply. Prints progress each second (stderr),
then throughput and latency percentiles (stdout; JSON with --json).

  --framing line        requests end with --delimiter (default \\r\\n); a reply ends at \\n
  --framing int32       4-byte big-endian length prefix both ways
  --framing raw         a request is the payload; a reply is --reply-prefix + the echoed
                        request bytes (default: plain echo), or --reply-size bytes
  --framing websocket   each connection upgrades (GET --path, default /), then sends each request as
                        a masked text message of --payload bytes; each message back is a reply (an echo)
  --preset processed    = --framing raw --reply-prefix 'Processed: ' --greeting
  --preset ws-echo      = --framing websocket
  --payload 64          64 bytes of 'x'; any non-numeric value is sent as text
  --greeting            read and skip one line after connecting (a welcome message)
  --threads N           worker threads (default: min(connections, cores)); 0 = main thread
  --warmup S            run S seconds of load first, then open the measurement window (replies
                        in the warm-up are neither counted nor timed; connections lost in it are)
  Defaults: --host ${LOAD_DEFAULTS.host} --port ${LOAD_DEFAULTS.port} --framing ${LOAD_DEFAULTS.framing} --connections ${LOAD_DEFAULTS.connections} --pipeline ${LOAD_DEFAULTS.pipeline} --duration ${LOAD_DEFAULTS.duration}
`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new InvalidOptionError(`--${name} must be an integer >= ${min} (got '${raw}')`);
  return Number(raw);
}

function positiveNumber(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new InvalidOptionError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number (got '${raw}')`);
  }
  return value;
}

/** `\r\n` and `\n` written as escapes on a command line. */
function unescape(text: string): string {
  return text.replace(/\\r/g, '\r').replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}

/**
 * Parses `skein load …` arguments.
 * @throws InvalidOptionError naming the flag.
 */
export function parseLoadArgs(args: string[]): LoadOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        preset: { type: 'string' },
        framing: { type: 'string' },
        connections: { type: 'string', short: 'c' },
        pipeline: { type: 'string', short: 'p' },
        duration: { type: 'string', short: 'd' },
        requests: { type: 'string', short: 'n' },
        payload: { type: 'string' },
        greeting: { type: 'boolean' },
        'reply-prefix': { type: 'string' },
        'reply-size': { type: 'string' },
        delimiter: { type: 'string' },
        path: { type: 'string' },
        threads: { type: 'string', short: 't' },
        'connect-timeout': { type: 'string' },
        warmup: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
      },
    });
  } catch (error) {
    throw new InvalidOptionError((error as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option'));
  }
  const v = parsed.values;
  const preset = v.preset === undefined ? {} : PRESETS[v.preset];
  if (!preset) throw new InvalidOptionError(`--preset must be one of ${Object.keys(PRESETS).join(', ')} (got '${v.preset}')`);
  const framing = (v.framing ?? preset.framing ?? LOAD_DEFAULTS.framing) as Framing;
  if (!FRAMINGS.includes(framing)) throw new InvalidOptionError(`--framing must be one of ${FRAMINGS.join(', ')} (got '${framing}')`);
  if (v.duration !== undefined && v.requests !== undefined) throw new InvalidOptionError('--duration and --requests are exclusive');
  const port = positiveInt('port', v.port, LOAD_DEFAULTS.port);
  if (port > 65535) throw new InvalidOptionError(`--port must be 1-65535 (got ${port})`);
  const connections = positiveInt('connections', v.connections, LOAD_DEFAULTS.connections);
  const payloadText = v.payload ?? String(LOAD_DEFAULTS.payload);
  const payload = /^\d+$/.test(payloadText) ? Buffer.alloc(positiveInt('payload', payloadText, 0), 'x') : Buffer.from(unescape(payloadText));
  const replyPrefix = v['reply-prefix'] ?? preset.replyPrefix;
  const spec: FramingSpec = {
    framing,
    payload,
    ...(v.delimiter !== undefined ? { delimiter: unescape(v.delimiter) } : {}),
    ...(replyPrefix !== undefined ? { replyPrefix: unescape(replyPrefix) } : {}),
    ...(v['reply-size'] !== undefined ? { replySize: positiveInt('reply-size', v['reply-size'], 0) } : {}),
    ...(v.path !== undefined ? { path: v.path } : {}),
  };
  if (spec.path !== undefined && (framing !== 'websocket' || !/^\/[\x21-\x7e]*$/.test(spec.path))) {
    throw new InvalidOptionError(`--path must start with / and have no spaces, with --framing websocket (got '${spec.path}')`);
  }
  validateFraming(spec);
  const requests = v.requests === undefined ? undefined : positiveInt('requests', v.requests, 0);
  return {
    host: v.host ?? LOAD_DEFAULTS.host,
    port,
    connections,
    pipeline: positiveInt('pipeline', v.pipeline, LOAD_DEFAULTS.pipeline),
    duration: requests === undefined ? positiveNumber('duration', v.duration, LOAD_DEFAULTS.duration) : undefined,
    requests,
    greeting: v.greeting ?? preset.greeting ?? false,
    spec,
    threads: positiveInt('threads', v.threads, Math.min(connections, availableParallelism()), 0),
    connectTimeout: positiveNumber('connect-timeout', v['connect-timeout'], LOAD_DEFAULTS.connectTimeout),
    warmup: positiveNumber('warmup', v.warmup, LOAD_DEFAULTS.warmup, true),
    json: v.json ?? false,
    quiet: v.quiet ?? false,
  };
}
