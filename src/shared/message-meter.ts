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

/** Frames waiting for a reply beyond this many are counted but not timed. */
const MAX_PENDING = 4096;

/**
 * One connection's message timer. The reactor notes when bytes arrive
 * ({@link MessageMeter.arrived}); a framing protocol calls
 * {@link MessageMeter.received} for each frame it parses; the transport calls
 * {@link MessageMeter.replied} for each reply write, which pairs with the oldest
 * frame still waiting (first in, first out, as pipelined replies leave).
 *
 * A frame's arrival is the arrival of the chunk that completed it.
 */
export class MessageMeter {
  private readonly pending: number[] = [];
  private head = 0;
  private lastArrival = 0;

  constructor(
    private readonly sink: MessageSink,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes arrived now (called by the reactor once per chunk read). */
  arrived(): void {
    this.lastArrival = this.now();
  }

  /** A frame was parsed: count it and remember when it arrived. */
  received(): void {
    this.sink.messages++;
    // A protocol that never replies must not make us keep a timestamp per frame forever.
    if (this.pending.length - this.head >= MAX_PENDING) this.drop(1);
    this.pending.push(this.lastArrival);
  }

  /** A reply was written: time the oldest frame still waiting, if any. */
  replied(): void {
    const pending = this.pending;
    if (this.head === pending.length) return;
    const arrival = pending[this.head]!;
    this.drop(1);
    this.sink.durations.observeMs(this.now() - arrival);
  }

  /** Frames received and not yet replied to. */
  get waiting(): number {
    return this.pending.length - this.head;
  }

  private drop(n: number): void {
    const pending = this.pending;
    this.head += n;
    if (this.head === pending.length) {
      pending.length = 0;
      this.head = 0;
    } else if (this.head >= 1024) {
      pending.splice(0, this.head);
      this.head = 0;
    }
  }
}
