import type { Histogram } from 'hdr-histogram-js';
import { Protocol } from '../../shared/protocol/protocol.js';
import type { Opening, ReplyCounter } from './framing.js';

/** State shared by every connection of one load engine (one thread). */
export interface LoadRun {
  readonly histogram: Histogram;
  completed: number;
  errors: number;
  /** False during a warm-up: replies keep the loop going but are neither counted nor timed. */
  measuring: boolean;
  /** True once the measurement window closed: replies are no longer counted. */
  stopping: boolean;
  /** Takes up to `n` requests from the request budget; returns how many may be sent. */
  take(n: number): number;
  /** True when the budget is spent (request-count mode). */
  readonly exhausted: boolean;
  /** `performance.now()` of the last counted reply. */
  lastReplyAt: number;
  /** Called once per connection when it closes. */
  closed(): void;
}

/**
 * One closed-loop connection: keeps `pipeline` requests in flight, times each
 * one from its write to the end of its reply (replies come back in order), and
 * sends a new request for each reply.
 */
export class LoadProtocol extends Protocol {
  /** Resolves once the connection is ready for requests (after its opening: a greeting line, a WebSocket upgrade). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private greeted: boolean;
  /** The opening read so far (only while it is incomplete; it is small). */
  private openingSoFar = '';
  private readonly sentAt: Float64Array;
  private head = 0;
  private tail = 0;
  private inFlight = 0;
  private finished = false;

  constructor(
    private readonly run: LoadRun,
    private readonly counter: ReplyCounter,
    /** `pipeline` requests back to back: a burst of k requests is its first k × request bytes. */
    private readonly batch: Buffer,
    private readonly requestBytes: number,
    private readonly pipeline: number,
    private readonly opening: Opening | undefined,
  ) {
    super();
    this.greeted = opening === undefined;
    this.sentAt = new Float64Array(pipeline);
    this.ready = new Promise<void>((resolve) => (this.markReady = resolve));
  }

  override connectionMade(): void {
    this.transport.setTcpNoDelay(true);
    if (this.opening?.request) this.transport.write(this.opening.request);
    if (this.greeted) this.markReady();
  }

  /** Sends the first `pipeline` requests. */
  start(): void {
    this.send(this.pipeline);
  }

  /** Stops sending and closes (the window closed). */
  stop(): void {
    this.finished = true;
    if (this.connected) this.transport.loseConnection();
  }

  override dataReceived(data: Buffer): void {
    let chunk = data;
    if (!this.greeted) {
      const opening = this.opening!;
      const seen = this.openingSoFar + chunk.toString('latin1');
      const end = seen.indexOf(opening.end.toString('latin1'));
      if (end === -1) {
        // Only what the opening's end could still start in matters, unless the start must be checked.
        this.openingSoFar = opening.expect ? seen.slice(0, 64 * 1024) : seen.slice(-opening.end.length);
        return;
      }
      if (opening.expect && !seen.startsWith(opening.expect)) {
        this.transport.loseConnection();
        return;
      }
      this.greeted = true;
      this.openingSoFar = '';
      this.markReady();
      chunk = Buffer.from(seen.slice(end + opening.end.length), 'latin1');
      if (chunk.length === 0) return;
    }
    const n = Math.min(this.counter.consume(chunk), this.inFlight);
    if (n === 0 || this.run.stopping) return;
    const now = performance.now();
    const histogram = this.run.histogram;
    const sentAt = this.sentAt;
    const size = sentAt.length;
    let measured = 0;
    for (let i = 0; i < n; i++) {
      const at = sentAt[this.head]!;
      // A request sent during the warm-up (marked -1) is answered but not counted or timed.
      if (at >= 0) {
        // Microseconds; hdr histograms record integers >= 1.
        histogram.recordValue(Math.max(1, Math.round((now - at) * 1000)));
        measured++;
      }
      this.head = this.head + 1 === size ? 0 : this.head + 1;
    }
    if (measured > 0) {
      this.run.completed += measured;
      this.run.lastReplyAt = now;
    }
    this.inFlight -= n;
    this.send(n);
  }

  override connectionLost(_reason: Error): void {
    if (!this.finished && !this.run.stopping) this.run.errors++;
    this.finished = true;
    this.markReady();
    this.run.closed();
  }

  private send(n: number): void {
    const k = this.run.take(n);
    if (k > 0) {
      const now = this.run.measuring ? performance.now() : -1;
      const sentAt = this.sentAt;
      const size = sentAt.length;
      for (let i = 0; i < k; i++) {
        sentAt[this.tail] = now;
        this.tail = this.tail + 1 === size ? 0 : this.tail + 1;
      }
      this.inFlight += k;
      this.transport.write(k === this.pipeline ? this.batch : this.batch.subarray(0, k * this.requestBytes));
    } else if (this.inFlight === 0 && this.run.exhausted) {
      this.stop();
    }
  }
}
