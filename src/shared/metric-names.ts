/** Metric names users see (prefix `skein_`). Counters end in `_total`, durations are in seconds. */
export const METRICS = {
  connectionsActive: 'skein_connections_active',
  connectionsTotal: 'skein_connections_total',
  connectionsRejected: 'skein_connections_rejected_total',
  bytesReceived: 'skein_bytes_received_total',
  bytesSent: 'skein_bytes_sent_total',
  messages: 'skein_messages_total',
  messageDuration: 'skein_message_duration_seconds',
  /** Messages sent, for protocols that report them (WebSocket: one per message, whatever its frames). */
  messagesSent: 'skein_messages_sent_total',
  /** Open WebSocket connections (upgraded or on a plain WebSocket endpoint). */
  websocketConnectionsActive: 'skein_websocket_connections_active',
  /** WebSocket connections closed, by close code (1000 normal, 1001 going away, 1002, 1006 abnormal, 1007, 1009…). */
  websocketCloses: 'skein_websocket_closes_total',
  protocolErrors: 'skein_protocol_errors_total',
  offloadTasks: 'skein_offload_tasks_total',
  offloadQueueSize: 'skein_offload_queue_size',
  offloadDuration: 'skein_offload_duration_seconds',
  offloadUtilization: 'skein_offload_utilization',
  workersAlive: 'skein_workers_alive',
  workerRestarts: 'skein_worker_restarts_total',
  workersUnresponsive: 'skein_workers_unresponsive_total',
  scrapeWorkerFailures: 'skein_metrics_scrape_worker_failures_total',
  /** Per worker: 1 when the scrape used the worker's last report because it did not answer within `--metrics-worker-wait`. */
  workerStale: 'skein_worker_stale',
  eventLoopLag: 'skein_event_loop_lag_seconds',
  /** Per worker (labelled `worker`, never summed): how connections spread over workers. */
  workerConnectionsActive: 'skein_worker_connections_active',
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
