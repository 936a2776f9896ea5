import type { SerializedError } from './protocol/errors.js';
import type { ServerOptions, ServiceConfig } from './config/options.js';

/**
 * Messages between the primary and its workers over the cluster IPC channel.
 * Types are namespaced `skein:*`; requests carry an id and settle once.
 */

/** What a worker is told at fork time (JSON in the `SKEIN_WORKER_CONFIG` environment variable). */
export interface WorkerConfig {
  /** Slot index 0…N-1: the `worker` metric label; a replacement reuses its predecessor's slot. */
  readonly slot: number;
  /** Services with their endpoints (port-0 endpoints pinned to the port they got, once known). */
  readonly services: readonly ServiceConfig[];
  readonly options: Omit<ServerOptions, 'services' | 'metricsToken'>;
}

/** The name of the environment variable that carries a {@link WorkerConfig}. */
export const WORKER_CONFIG_ENV = 'SKEIN_WORKER_CONFIG';

/** One bound listener, as reported by a worker. */
export interface BoundEndpoint {
  /** The service it serves. */
  readonly service: string;
  /** The endpoint string the listener was configured with. */
  readonly endpoint: string;
  /** The port it got (undefined for unix sockets). */
  readonly port?: number;
  /** The address it listens on, as a string (`0.0.0.0:9000`, `unix:/path`). */
  readonly address: string;
}

/**
 * What a metrics request asks for: `full` (every metric, for a scrape) or
 * `cumulative` (skein's own counters and histograms, for the primary's
 * background refresh: cheap, and no gauge collector runs, so windows such as
 * the event-loop lag's are not reset).
 */
export type MetricsKind = 'full' | 'cumulative';

export type WorkerMessage =
  | { type: 'skein:ready'; endpoints: BoundEndpoint[] }
  /**
   * About to listen on TCP `port`: the primary frees it if it holds it for a
   * port-0 endpoint (sent before the listen, so the primary reads it first).
   */
  | { type: 'skein:binding'; port: number }
  | { type: 'skein:fatal'; error: SerializedError }
  | { type: 'skein:metrics:res'; id: number; metrics: unknown[] }
  /** A worker's counters and histograms as it retires (drain or fatal error), sent before it exits. */
  | { type: 'skein:metrics:final'; metrics: unknown[] }
  /** A drain finished; the worker exits when the primary answers `skein:exit`. */
  | { type: 'skein:drained' }
  /** An adopted connection (`skein:conn:adopt`) closed: keeps the primary's counts exact. */
  | { type: 'skein:conn:closed'; id: number }
  /** Sent from a timer on the worker's event loop: the loop turns (see `--heartbeat-timeout`). */
  | { type: 'skein:heartbeat' };

export type PrimaryMessage =
  | { type: 'skein:metrics:req'; id: number; kind?: MetricsKind }
  /**
   * Sent with a socket handle (least-connections, client-hash): run it as if the
   * worker's listener number `listener` (services' endpoints in config order) had accepted it.
   */
  | { type: 'skein:conn:adopt'; id: number; listener: number }
  /** Stop accepting and finish within `timeoutMs`; a second drain can only shorten the deadline (0: close now). */
  | { type: 'skein:drain'; timeoutMs: number }
  /**
   * Answer to `skein:drained`. The primary read the worker's listener close
   * before it, so it will hand the worker no more connections: exiting earlier
   * could drop a connection already on its way to the worker.
   */
  | { type: 'skein:exit' };

/** True when `message` is one of skein's IPC messages (user code may send its own). */
export function isSkeinMessage(message: unknown): message is WorkerMessage | PrimaryMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('skein:');
}
