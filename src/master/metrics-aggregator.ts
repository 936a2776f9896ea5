import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { isPerWorkerMetric, METRICS } from '../shared/metric-names.js';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** A worker the aggregator can ask for its metrics. */
export interface ScrapeTarget {
  readonly slot: number;
  /**
   * The worker process (unique for the primary's life; defaults to the slot).
   * During a reload two workers share a slot: state is kept per worker.
   */
  readonly worker?: number;
  /** Sends a metrics request; false when the channel is closed. */
  request(id: number): boolean;
}


function isCumulative(metric: MetricJson): boolean {
  const type = metric.type as unknown as string;
  return type === 'counter' || type === 'histogram' || type === 'summary';
}

/**
 * Aggregates the workers' registries into one exposition.
 *
 * A scrape asks every live worker and answers at its deadline with whatever
 * came back. A worker that is late or dead contributes the last counter and
 * histogram values it reported (so sums never fall) and no gauges. Values of
 * workers that died are kept and added, so counters stay monotonic across
 * restarts. The `worker` label is the slot index, reused by a replacement.
 */
export class MetricsAggregator {
  /** The primary's own metrics (workers alive, restarts, scrape failures). */
  readonly registry = new Registry();
  readonly workersAlive: Gauge<string>;
  readonly workerRestarts: Counter<string>;
  private readonly scrapeFailures: Counter<string>;
  private nextId = 1;
  private readonly pending = new Map<number, { worker: number; resolve: (metrics: MetricJson[] | undefined) => void }>();
  /** Last cumulative metrics reported by each live worker (keyed by worker), with its slot. */
  private readonly last = new Map<number, { slot: number; metrics: MetricJson[] }>();
  /** Workers already folded into `retired`: a late answer from one must not count twice. */
  private readonly gone = new Set<number>();
  /** Cumulative metrics of workers that are gone, summed. */
  private retired: MetricJson[] = [];

  constructor(private readonly timeoutMs: number) {
    const registers = [this.registry];
    this.workersAlive = new Gauge({ name: METRICS.workersAlive, help: 'Worker processes alive and listening.', registers });
    this.workerRestarts = new Counter({ name: METRICS.workerRestarts, help: 'Workers replaced after dying.', registers });
    this.scrapeFailures = new Counter({
      name: METRICS.scrapeWorkerFailures,
      help: 'Scrapes in which a worker did not answer before the deadline.',
      labelNames: ['worker'],
      registers,
    });
  }

  /** Handles a worker's `skein:metrics:res`. */
  receive(id: number, metrics: unknown[]): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    waiter.resolve(metrics as MetricJson[]);
  }

  /**
   * A worker left for good (died or retired): keep its counters under its slot.
   * `worker` identifies it when targets carry one; `final` is what it reported
   * last (on a graceful exit), newer than any scrape.
   */
  retire(slot: number, worker?: number, final?: unknown[]): void {
    const key = worker ?? slot;
    if (worker !== undefined) {
      if (this.gone.has(worker)) return;
      this.gone.add(worker);
    }
    const metrics = final ? (final as MetricJson[]).filter((m) => isCumulative(m)) : this.last.get(key)?.metrics;
    this.last.delete(key);
    if (metrics && metrics.length > 0) this.retired = sumMetrics([this.retired, labelled(metrics, slot)]);
    // Nobody will answer for it now: settle its outstanding requests.
    for (const [id, waiter] of this.pending) {
      if (waiter.worker !== key) continue;
      this.pending.delete(id);
      waiter.resolve(undefined);
    }
  }

  /** Collects from every target within the deadline and returns the exposition. */
  async scrape(targets: readonly ScrapeTarget[], contentType?: string): Promise<{ body: string; contentType: string }> {
    const answers = await Promise.all(targets.map((t) => this.ask(t)));
    const sets: MetricJson[][] = [];
    const asked = new Set<number>();
    targets.forEach((target, i) => {
      const worker = target.worker ?? target.slot;
      asked.add(worker);
      // Retired while we waited: its totals are already in `retired`.
      if (this.gone.has(worker)) return;
      const answer = answers[i];
      if (answer) {
        this.last.set(worker, { slot: target.slot, metrics: answer.filter((m) => isCumulative(m)) });
        sets.push(labelled(answer, target.slot));
      } else {
        this.scrapeFailures.inc({ worker: String(target.slot) });
        const last = this.last.get(worker);
        if (last) sets.push(labelled(last.metrics, target.slot));
      }
    });
    // Workers not asked this time still count their last cumulative values.
    for (const [worker, last] of this.last) {
      if (!asked.has(worker)) sets.push(labelled(last.metrics, last.slot));
    }
    if (this.retired.length > 0) sets.push(this.retired);
    const workers = AggregatorRegistry.aggregate(sets as never) as unknown as Registry;
    const merged: Registry = Registry.merge([workers, this.registry as unknown as Registry]) as unknown as Registry;
    if (contentType) merged.setContentType(contentType as never);
    return { body: await merged.metrics(), contentType: merged.contentType };
  }

  private ask(target: ScrapeTarget): Promise<MetricJson[] | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, {
        worker: target.worker ?? target.slot,
        resolve: (metrics) => {
          clearTimeout(timer);
          resolve(metrics);
        },
      });
      if (!target.request(id)) {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      }
    });
  }
}

/** Adds a `worker` label to per-process metrics so they are not summed. */
function labelled(metrics: MetricJson[], slot: number): MetricJson[] {
  const worker = String(slot);
  return metrics.map((m) =>
    isPerWorkerMetric(m.name)
      ? // Distinct worker labels keep the series apart; 'sum' keeps every one (some default metrics say 'omit').
        { ...m, aggregator: 'sum' as const, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) }
      : m,
  );
}

/** Sums sets of cumulative metrics into one set (to keep dead workers' totals). */
function sumMetrics(sets: MetricJson[][]): MetricJson[] {
  const byName = new Map<string, MetricJson>();
  for (const set of sets) {
    for (const metric of set) {
      const existing = byName.get(metric.name);
      if (!existing) {
        byName.set(metric.name, { ...metric, values: metric.values.map((v) => ({ ...v, labels: { ...v.labels } })) });
        continue;
      }
      for (const value of metric.values) {
        const key = labelKey(value);
        const match = existing.values.find((v) => labelKey(v) === key);
        if (match) (match as { value: number }).value += value.value;
        else existing.values.push({ ...value, labels: { ...value.labels } });
      }
    }
  }
  return [...byName.values()];
}

function labelKey(value: MetricValue<string> & { metricName?: string }): string {
  const labels = Object.entries(value.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return `${value.metricName ?? ''}{${labels}}`;
}
