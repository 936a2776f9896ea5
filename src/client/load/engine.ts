import { build, type Histogram } from 'hdr-histogram-js';
import { ConnectError } from '../../shared/protocol/errors.js';
import { ClientFactory } from '../client-factory.js';
import { connectTCP } from '../connector.js';
import { encodeRequest, openingFor, replyCounter } from './framing.js';
import { LoadProtocol, type LoadRun } from './load-protocol.js';
import type { LoadOptions } from './options.js';

/** What one engine (one thread) runs: `skein load`'s options less the ones about threads and output. */
export type EngineOptions = Omit<LoadOptions, 'threads' | 'json' | 'quiet'> & {
  /** Seconds without a single reply after which a request-count run gives up. */
  readonly stallTimeout?: number;
};

/** Cumulative counts, reported about once a second. */
export interface EngineProgress {
  readonly completed: number;
  readonly errors: number;
}

export interface EngineResult extends EngineProgress {
  /** Seconds from the first request to the end of the window (or the last reply). */
  readonly elapsed: number;
  /** Latency of each request in microseconds. */
  readonly histogram: Histogram;
  /** True when a request-count run stopped because replies stopped coming. */
  readonly stalled: boolean;
}

/** Connections opened at once while connecting (a burst of thousands overflows the server's accept backlog). */
const CONNECT_BATCH = 256;

/** A new latency histogram: microseconds, 3 significant digits, resizing as needed. */
export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/**
 * A closed-loop load generator in one thread: `connect()` opens every
 * connection (and waits for the greetings), `warm()` optionally runs the load
 * unmeasured, `run()` starts the clock.
 */
export class LoadEngine {
  private readonly protocols: LoadProtocol[] = [];
  private readonly state: LoadRun & { budget: number };
  private open = 0;
  private loading = false;
  private allClosed: () => void = () => {};

  constructor(private readonly options: EngineOptions) {
    const budget = options.requests ?? Number.POSITIVE_INFINITY;
    this.state = {
      histogram: newHistogram(),
      completed: 0,
      errors: 0,
      measuring: true,
      stopping: false,
      lastReplyAt: 0,
      budget,
      take(n: number): number {
        if (this.stopping) return 0;
        // Warm-up requests do not come out of the request budget.
        if (!this.measuring) return n;
        const k = n < this.budget ? n : this.budget;
        this.budget -= k;
        return k;
      },
      get exhausted(): boolean {
        return this.budget === 0;
      },
      closed: () => {
        if (--this.open === 0) this.allClosed();
      },
    };
  }

  /**
   * Opens every connection and waits until each is ready (greeting read).
   * @throws ConnectError or ConnectTimeoutError from the first connection that fails.
   */
  async connect(): Promise<void> {
    const { options, state } = this;
    const request = encodeRequest(options.spec);
    const batch = Buffer.concat(Array.from({ length: options.pipeline }, () => request));
    const factory = new ClientFactory<LoadProtocol>();
    factory.buildProtocol = () => {
      const opening = openingFor(options.spec, options.host, options.port, options.greeting);
      const protocol = new LoadProtocol(state, replyCounter(options.spec), batch, request.length, options.pipeline, opening);
      protocol.factory = factory;
      return protocol;
    };
    for (let i = 0; i < options.connections; i += CONNECT_BATCH) {
      const n = Math.min(CONNECT_BATCH, options.connections - i);
      const attempts = await Promise.allSettled(
        Array.from({ length: n }, () => connectTCP(options.host, options.port, factory, { timeout: options.connectTimeout })),
      );
      for (const a of attempts) if (a.status === 'fulfilled') this.protocols.push(a.value);
      this.open = this.protocols.length;
      const failed = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
      if (failed) {
        for (const p of this.protocols) p.stop();
        throw failed.reason;
      }
    }
    await Promise.all(this.protocols.map((p) => p.ready));
    if (this.protocols.some((p) => !p.connected)) throw new ConnectError('a connection closed before it was ready (greeting or WebSocket upgrade not received?)');
  }

  /**
   * Starts the load without measuring it, for `seconds`: the connections and
   * the server reach their steady state before `run` opens the window.
   */
  async warm(seconds: number): Promise<void> {
    if (this.loading || seconds <= 0) return;
    this.state.measuring = false;
    this.startLoad();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }

  /** Runs the load (on from a warm-up without a pause); resolves when the window closes or every request was answered. */
  run(onProgress?: (progress: EngineProgress) => void): Promise<EngineResult> {
    const { options, state, protocols } = this;
    state.measuring = true;
    const start = performance.now();
    let lastProgressAt = start;
    let lastCompleted = 0;
    let stalled = false;
    return new Promise<EngineResult>((resolve) => {
      let end = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (end !== 0) return;
        end = performance.now();
        state.stopping = true;
        clearInterval(ticker);
        if (timer) clearTimeout(timer);
        for (const p of protocols) p.stop();
        // In request-count mode the run ends with the last reply, not with the closing handshakes.
        const last = options.duration === undefined && state.lastReplyAt > start ? state.lastReplyAt : end;
        resolve({ completed: state.completed, errors: state.errors, elapsed: (last - start) / 1000, histogram: state.histogram, stalled });
      };
      const ticker = setInterval(() => {
        onProgress?.({ completed: state.completed, errors: state.errors });
        const now = performance.now();
        if (state.completed !== lastCompleted) {
          lastCompleted = state.completed;
          lastProgressAt = now;
        } else if (now - lastProgressAt > (options.stallTimeout ?? 10) * 1000) {
          stalled = true;
          finish();
        }
      }, 1000);
      if (options.duration !== undefined) timer = setTimeout(finish, options.duration * 1000);
      // Request-count mode ends when each connection has closed after its last reply; any mode ends if all are lost.
      this.allClosed = finish;
      this.startLoad();
      // Every connection may already be gone (lost during the warm-up).
      if (this.open === 0) finish();
    });
  }

  /** Sends each connection's first requests, once. */
  private startLoad(): void {
    if (this.loading) return;
    this.loading = true;
    for (const p of this.protocols) p.start();
  }
}
