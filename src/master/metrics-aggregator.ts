import { Counter, Gauge, Registry } from 'prom-client';
import type { MetricsKind } from '../shared/ipc.js';
import { METRICS } from '../shared/metric-names.js';
import { render, type ExpositionFormat } from './exposition.js';
import { cumulativeOnly, labelWorker, sumMetrics, type MetricJson } from './metric-sum.js';

/** A worker the aggregator can ask for its metrics. */
export interface ScrapeTarget {
  /** Slot index 0…N-1: the `worker` label, reused by a replacement. */
  readonly slot: number;
  /** Unique for the life of the primary (cluster's `worker.id`): tells a replacement from its predecessor. */
  readonly id: number;
  /** Sends a metrics request; false when the channel is closed. */
  request(requestId: number, kind: MetricsKind): boolean;
}

/** Tunables of the aggregator. */
export interface AggregatorOptions {
  /** Scrape deadline: a scrape answers within this, whatever the workers do. */
  readonly timeoutMs: number;
  /**
   * How long a scrape waits for the workers (at most the deadline less the time kept
   * for rendering): a worker that has not answered by then is answered for from its
   * last report and marked stale. Default {@link DEFAULT_WORKER_WAIT_MS}.
   */
  readonly workerWaitMs?: number;
  /** How often the background refresh asks workers for their counters (0: never). */
  readonly refreshMs?: number;
}

/** How long a scrape waits for a worker by default, ms: a stuck worker costs a scrape no more than this. */
export const DEFAULT_WORKER_WAIT_MS = 100;

/** The background refresh's period by default: a SIGKILLed worker loses at most this much of its increments. */
export const DEFAULT_REFRESH_MS = 1000;

interface InFlight {
  readonly id: number;
  readonly sentAt: number;
  readonly answer: Promise<MetricJson[] | undefined>;
  settle(metrics: MetricJson[] | undefined): void;
}

/** What the aggregator knows of one worker process. */
interface WorkerState {
  readonly slot: number;
  /**
   * Its latest counters and histograms by name (from a scrape, a refresh, or its final report),
   * each with the request id it answered (Infinity for the final report): an older answer
   * never replaces a newer one, and a refresh (skein's own counters only) leaves the others.
   */
  readonly last: Map<string, { readonly id: number; readonly metric: MetricJson }>;
  /** At most one request of each kind outstanding: a stuck worker is not sent a pile of them. */
  readonly inFlight: Map<MetricsKind, InFlight>;
  gone: boolean;
}

/**
 * Aggregates the workers' registries into one exposition.
 *
 * A scrape asks every live worker and waits a short while for them
 * ({@link AggregatorOptions.workerWaitMs}, never past the deadline): a worker
 * that has not answered by then, being frozen, busy or dead, contributes the
 * last counter and histogram values it reported (so sums never fall) and no
 * gauges, `skein_worker_stale{worker}` is 1 for it in that scrape (0 for the
 * workers that answered), and `skein_metrics_scrape_worker_failures_total{worker}`
 * counts the miss. Values
 * of workers that are gone are kept and added, so counters stay monotonic
 * across restarts. A background refresh keeps "last" at most
 * {@link DEFAULT_REFRESH_MS} old, and a worker that retires on purpose sends a
 * final report, so a restart loses no increments and a crash loses at most
 * the increments since the last refresh.
 *
 * Concurrent scrapes share the outstanding request to each worker and never
 * wait for each other.
 */
export class MetricsAggregator {
  /** The primary's own metrics (workers alive, restarts, scrape failures). */
  readonly registry = new Registry();
  /** More of the primary's registries, summed with the workers' series (the acceptor's rejections). */
  readonly extraRegistries: Registry[] = [];
  readonly workersAlive: Gauge<string>;
  readonly workerRestarts: Counter<string>;
  readonly workersUnresponsive: Counter<string>;
  private readonly scrapeFailures: Counter<string>;
  private readonly workers = new Map<number, WorkerState>();
  /** Cumulative metrics of workers that are gone, labelled and summed. */
  private retired: MetricJson[] = [];
  private nextRequest = 1;
  /** A decaying maximum of how long aggregating and rendering took, ms: kept free before the deadline. */
  private renderCostMs = 10;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AggregatorOptions) {
    const registers = [this.registry];
    this.workersAlive = new Gauge({ name: METRICS.workersAlive, help: 'Worker processes alive and listening.', registers });
    this.workerRestarts = new Counter({ name: METRICS.workerRestarts, help: 'Workers replaced after dying.', registers });
    this.workersUnresponsive = new Counter({
      name: METRICS.workersUnresponsive,
      help: 'Times a worker missed its event-loop heartbeat for --heartbeat-timeout (marked not ready; killed and replaced after --heartbeat-kill-timeout).',
      registers,
    });
    this.scrapeFailures = new Counter({
      name: METRICS.scrapeWorkerFailures,
      help: 'Scrapes in which a worker did not answer before the deadline (its last counters were used).',
      labelNames: ['worker'],
      registers,
    });
  }

  /** Handles a worker's `skein:metrics:res`. Late answers still freshen the worker's last values. */
  receive(workerId: number, requestId: number, metrics: unknown[]): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    const answer = metrics as MetricJson[];
    this.remember(state, requestId, answer);
    for (const [kind, flight] of state.inFlight) {
      if (flight.id !== requestId) continue;
      state.inFlight.delete(kind);
      flight.settle(answer);
    }
  }

  /** Handles a worker's `skein:metrics:final`: its counters as it retires. */
  receiveFinal(worker: { readonly id: number; readonly slot: number }, metrics: unknown[]): void {
    this.remember(this.state(worker), Infinity, metrics as MetricJson[]);
  }

  /** The worker process exited: outstanding requests fail now rather than at the deadline. */
  workerGone(workerId: number): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    state.gone = true;
    for (const flight of state.inFlight.values()) flight.settle(undefined);
    state.inFlight.clear();
  }

  /**
   * The worker left for good and every message it sent has arrived (call after
   * its exit and disconnect): its last counters join the retired sum.
   */
  retire(workerId: number): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    this.workerGone(workerId);
    this.workers.delete(workerId);
    if (state.last.size > 0) this.retired = sumMetrics([this.retired, labelWorker(lastOf(state), state.slot)]);
  }

  /** Collects from every target and renders, always within the deadline. */
  async scrape(targets: readonly ScrapeTarget[], format: ExpositionFormat = 'text'): Promise<string> {
    // Time kept free after the wait to aggregate and render (and for a late timer on a busy loop).
    const timeoutMs = this.options.timeoutMs;
    const reserve = Math.min(timeoutMs / 2, Math.max(150, timeoutMs * 0.1, 3 * this.renderCostMs));
    const waitMs = Math.max(0, Math.min(timeoutMs - reserve, this.options.workerWaitMs ?? DEFAULT_WORKER_WAIT_MS));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    const answers = await Promise.all(targets.map((t) => Promise.race([this.ask(t, 'full'), deadline])));
    clearTimeout(timer);

    const renderStart = performance.now();
    const sets: MetricJson[][] = [];
    const asked = new Set<number>();
    const stale: MetricJson = { name: METRICS.workerStale, help: STALE_HELP, type: 'gauge', values: [], aggregator: 'sum' };
    sets.push([stale]);
    targets.forEach((target, i) => {
      asked.add(target.id);
      const answer = answers[i];
      stale.values.push({ value: answer ? 0 : 1, labels: { worker: String(target.slot) } });
      if (answer) {
        sets.push(labelWorker(answer, target.slot));
        return;
      }
      this.scrapeFailures.inc({ worker: String(target.slot) });
      const state = this.workers.get(target.id);
      if (state) sets.push(labelWorker(lastOf(state), target.slot));
    });
    // Workers that exited but are not retired yet (their last messages may still be on the way).
    for (const [id, state] of this.workers) {
      if (!asked.has(id)) sets.push(labelWorker(lastOf(state), state.slot));
    }
    sets.push(this.retired);
    sets.push((await this.registry.getMetricsAsJSON()) as unknown as MetricJson[]);
    for (const extra of this.extraRegistries) sets.push((await extra.getMetricsAsJSON()) as unknown as MetricJson[]);
    const body = await render(sumMetrics(sets), format);
    const cost = performance.now() - renderStart;
    this.renderCostMs = Math.max(cost, this.renderCostMs * 0.9);
    return body;
  }

  /** Asks every target that has no refresh outstanding for skein's counters and histograms (the background refresh). */
  refresh(targets: readonly ScrapeTarget[]): void {
    for (const target of targets) void this.ask(target, 'cumulative');
  }

  /** Starts refreshing every `refreshMs` (unref'd: it never keeps the primary alive). */
  startRefresh(targets: () => readonly ScrapeTarget[]): void {
    const every = this.options.refreshMs ?? DEFAULT_REFRESH_MS;
    if (every <= 0 || this.refreshTimer) return;
    this.refreshTimer = setInterval(() => this.refresh(targets()), every);
    this.refreshTimer.unref();
  }

  stopRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private state(target: { readonly id: number; readonly slot: number }): WorkerState {
    let state = this.workers.get(target.id);
    if (!state) {
      state = { slot: target.slot, last: new Map(), inFlight: new Map(), gone: false };
      this.workers.set(target.id, state);
    }
    return state;
  }

  private remember(state: WorkerState, requestId: number, metrics: MetricJson[]): void {
    for (const metric of cumulativeOnly(metrics)) {
      const known = state.last.get(metric.name);
      if (!known || known.id < requestId) state.last.set(metric.name, { id: requestId, metric });
    }
  }

  /** The worker's answer to an outstanding request of `kind`, sending one if none is. Never rejects. */
  private ask(target: ScrapeTarget, kind: MetricsKind): Promise<MetricJson[] | undefined> {
    const state = this.state(target);
    if (state.gone) return Promise.resolve(undefined);
    const existing = state.inFlight.get(kind);
    // A request unanswered for this long is presumed lost (the worker is wedged): ask again.
    const staleMs = Math.max(30_000, 6 * this.options.timeoutMs);
    if (existing && performance.now() - existing.sentAt < staleMs) return existing.answer;
    if (existing) {
      state.inFlight.delete(kind);
      existing.settle(undefined);
    }
    const id = this.nextRequest++;
    let settle!: (metrics: MetricJson[] | undefined) => void;
    const answer = new Promise<MetricJson[] | undefined>((resolve) => (settle = resolve));
    const flight: InFlight = { id, sentAt: performance.now(), answer, settle };
    if (!target.request(id, kind)) return Promise.resolve(undefined);
    state.inFlight.set(kind, flight);
    return answer;
  }
}

const STALE_HELP = 'Whether this scrape answered for the worker from its last report (1) because it did not answer within --metrics-worker-wait, or with a fresh one (0).';

function lastOf(state: WorkerState): MetricJson[] {
  return Array.from(state.last.values(), (entry) => entry.metric);
}
