/**
 * Message counting and timing on the hot path: plain numbers and arrays,
 * copied into the metrics registry only when a scrape collects. Recording a
 * message costs an addition and an array slot; pairing it with its reply costs
 * one timestamp and a short bucket scan.
 */

/**
 * Bucket counts of a duration histogram, not yet cumulative. `counts[i]`
 * holds observations `<= bounds[i]` and `> bounds[i - 1]`; the last slot holds
 * those above every bound (Prometheus' `+Inf` bucket).
 */
export class DurationCounts {
  readonly counts: Float64Array;
  /** Sum of every observation, seconds. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  private readonly boundsMs: Float64Array;

  /** @param bounds upper bounds in seconds, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.boundsMs = Float64Array.from(bounds, (b) => b * 1000);
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one duration, in milliseconds (what `performance.now()` differences give). */
  observeMs(ms: number): void {
    const bounds = this.boundsMs;
    let i = 0;
    // Most messages land in the first few buckets: a linear scan beats a binary search here.
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += ms / 1000;
    this.count++;
  }
}

/** Where a meter reports (one per service in a worker). */
export interface MessageSink {
  /** Messages received (frames parsed). */
  messages: number;
  /** Time from a frame's arrival to its reply being written. */
  readonly durations: DurationCounts;
}

/**
 * Counters of protocols that hold sessions of their own on a connection and
 * send messages unasked (WebSocket): messages sent, open sessions, close codes,
 * and protocol errors that closed a session gracefully (with a close frame
 * rather than an abort).
 */
export interface SessionSink {
  messagesSent: number;
  sessionsActive: number;
  /** Sessions closed, by close code. */
  readonly closes: Map<number, number>;
  error(code: string): void;
}

/** Frames waiting for a reply beyond this many are counted but not timed. */
const MAX_PENDING = 4096;

/**
 * One connection's message timer. The reactor notes when bytes arrive
 * ({@link MessageMeter.arrived}); a framing protocol calls
 * {@link MessageMeter.received} for each frame it parses; the transport calls
 * {@link MessageMeter.replied} for each reply write and
 * {@link MessageMeter.flushed} when its corked writes leave in one syscall.
 * Replies pair with the oldest frames still waiting (first in, first out, as
 * pipelined replies leave).
 *
 * A frame's arrival is read from the clock when the first frame of a chunk is
 * parsed, and its reply's time when the writes of that tick are flushed: at
 * most two clock reads per chunk however many frames it holds, and none for a
 * protocol that never reports frames.
 */
export class MessageMeter {
  /** Arrival times of the frames waiting, in `pending[head..tail)`; slots are reused, never truncated (setting an array's length is slow). */
  private readonly pending: number[] = [];
  private head = 0;
  private tail = 0;
  private lastArrival = 0;
  private fresh = false;
  /** Replies written since the last flush that pair with a waiting frame. */
  private replies = 0;

  constructor(
    private readonly sink: MessageSink,
    private readonly now: () => number = () => performance.now(),
    private readonly sessions?: SessionSink,
  ) {}

  /** A message was sent (counted in `skein_messages_sent_total`). */
  sent(): void {
    if (this.sessions) this.sessions.messagesSent++;
  }

  /** A session (a WebSocket) opened on this connection. */
  sessionOpened(): void {
    if (this.sessions) this.sessions.sessionsActive++;
  }

  /** The session closed with `code`. */
  sessionClosed(code: number): void {
    const s = this.sessions;
    if (!s) return;
    s.sessionsActive--;
    s.closes.set(code, (s.closes.get(code) ?? 0) + 1);
  }

  /** A protocol error closed the session gracefully: counted in `skein_protocol_errors_total{code}` like an abort would be. */
  protocolError(code: string): void {
    this.sessions?.error(code);
  }

  /** Bytes arrived (called by the reactor once per chunk read). */
  arrived(): void {
    this.fresh = true;
  }

  /** A frame was parsed: count it and remember when it arrived. */
  received(): void {
    this.sink.messages++;
    if (this.fresh) {
      this.fresh = false;
      this.lastArrival = this.now();
    }
    // A protocol that never replies must not make us keep a timestamp per frame forever.
    if (this.tail - this.head >= MAX_PENDING) this.drop(1);
    if (this.tail < this.pending.length) this.pending[this.tail] = this.lastArrival;
    else this.pending.push(this.lastArrival);
    this.tail++;
  }

  /** A reply was written (it leaves at the next flush). Writes with no frame waiting are not replies. */
  replied(): void {
    if (this.replies < this.tail - this.head) this.replies++;
  }

  /** The writes of this tick left: time the frames they answered. */
  flushed(): void {
    let n = this.replies;
    if (n === 0) return;
    this.replies = 0;
    const now = this.now();
    const durations = this.sink.durations;
    while (n-- > 0 && this.head < this.tail) {
      durations.observeMs(now - this.pending[this.head]!);
      this.drop(1);
    }
  }

  /** Frames received and not yet answered by a flushed reply. */
  get waiting(): number {
    return this.tail - this.head;
  }

  private drop(n: number): void {
    this.head += n;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else if (this.head >= 1024) {
      this.pending.copyWithin(0, this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
  }
}
