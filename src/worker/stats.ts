import { DurationCounts, type MessageSink, type SessionSink } from '../shared/protocol/message-meter.js';
import { DURATION_BUCKETS } from '../shared/metric-names.js';

/**
 * Hot-path counters of one service in one worker: plain numbers, bumped with an
 * addition per event and copied into prom-client only when a scrape collects.
 */
export class ProtocolStats implements MessageSink, SessionSink {
  connectionsActive = 0;
  connectionsTotal = 0;
  bytesReceived = 0;
  bytesSent = 0;
  messages = 0;
  /** Messages sent by protocols that report them (WebSocket). */
  messagesSent = 0;
  /** Open WebSocket sessions. */
  sessionsActive = 0;
  /** WebSocket sessions closed, by close code. */
  readonly closes = new Map<number, number>();
  /** Frame arrival to reply written (`skein_message_duration_seconds`). */
  readonly durations = new DurationCounts(DURATION_BUCKETS);
  /** Rejected connections by reason (`max_connections_per_worker`, `refused_by_factory`, …). */
  readonly rejected = new Map<string, number>();
  /** Protocol errors by code. */
  readonly errors = new Map<string, number>();

  constructor(readonly protocol: string) {}

  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
