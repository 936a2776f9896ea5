/** Metric names users see (prefix `skein_`). Counters end in `_total`, durations are in seconds. */
export const METRICS = {
  /** Gauge: open connections, by `protocol`. */
  connectionsActive: 'skein_connections_active',
  /** Counter: connections accepted and handed to a protocol. */
  connectionsTotal: 'skein_connections_total',
  /** Counter: connections refused, by `reason`. */
  connectionsRejected: 'skein_connections_rejected_total',
  /** Counter: bytes read from clients. */
  bytesReceived: 'skein_bytes_received_total',
  /** Counter: bytes written to clients. */
  bytesSent: 'skein_bytes_sent_total',
  /** Counter: messages (frames) received. */
  messages: 'skein_messages_total',
  /** Histogram: seconds from a frame's arrival to its reply being written. */
  messageDuration: 'skein_message_duration_seconds',
  /** Messages sent, for protocols that report them (WebSocket: one per message, whatever its frames). */
  messagesSent: 'skein_messages_sent_total',
  /** Open WebSocket connections (upgraded or on a plain WebSocket endpoint). */
  websocketConnectionsActive: 'skein_websocket_connections_active',
  /** WebSocket connections closed, by close code (1000 normal, 1001 going away, 1002, 1006 abnormal, 1007, 1009…). */
  websocketCloses: 'skein_websocket_closes_total',
  /** Counter: connections closed by a protocol error, by `code`. */
  protocolErrors: 'skein_protocol_errors_total',
  /** Counter: offloaded tasks, by `status` (`completed`, `failed`, `cancelled`, `rejected`). */
  offloadTasks: 'skein_offload_tasks_total',
  /** Gauge: tasks waiting for a pool thread. */
  offloadQueueSize: 'skein_offload_queue_size',
  /** Histogram: seconds from dispatch to result. */
  offloadDuration: 'skein_offload_duration_seconds',
  /** Gauge, per worker: fraction of pool thread time spent on tasks since the previous scrape. */
  offloadUtilization: 'skein_offload_utilization',
  /** Gauge: workers listening and not draining. */
  workersAlive: 'skein_workers_alive',
  /** Counter: workers replaced after dying. */
  workerRestarts: 'skein_worker_restarts_total',
  /** Counter: times a worker missed its event-loop heartbeat for --heartbeat-timeout. */
  workersUnresponsive: 'skein_workers_unresponsive_total',
  /** Counter, per worker: scrapes that worker did not answer in time. */
  scrapeWorkerFailures: 'skein_metrics_scrape_worker_failures_total',
  /** Per worker: 1 when the scrape used the worker's last report because it did not answer within `--metrics-worker-wait`. */
  workerStale: 'skein_worker_stale',
  /** Gauge, per worker: p99 event-loop delay since the previous scrape, seconds. */
  eventLoopLag: 'skein_event_loop_lag_seconds',
  /** Per worker (labelled `worker`, never summed): how connections spread over workers. */
  workerConnectionsActive: 'skein_worker_connections_active',
  /** Counter, per worker: connections that worker accepted. */
  workerConnectionsTotal: 'skein_worker_connections_total',
} as const;

/** Histogram buckets (seconds) for message and offload durations. */
export const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Metrics each worker reports under its own `worker` label instead of being summed. */
export function isPerWorkerMetric(name: string): boolean {
  return (
    !name.startsWith('skein_') ||
    name === METRICS.eventLoopLag ||
    // A fraction of one worker's pool time: summing it over workers means nothing.
    name === METRICS.offloadUtilization ||
    name === METRICS.workerConnectionsActive ||
    name === METRICS.workerStale ||
    name === METRICS.workerConnectionsTotal
  );
}
