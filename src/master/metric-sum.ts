import { isPerWorkerMetric } from '../shared/metric-names.js';

/** One sample: a histogram's samples name their series (`_bucket`, `_sum`, `_count`). */
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** One metric as prom-client's `getMetricsAsJSON()` gives it (and IPC carries it). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: Sample[];
}

/** Counters and histograms: values that only grow, so a dead worker's last ones still count. */
export function isCumulative(metric: MetricJson): boolean {
  return metric.type === 'counter' || metric.type === 'histogram' || metric.type === 'summary';
}

/** The cumulative metrics of a set. */
export function cumulativeOnly(metrics: readonly MetricJson[]): MetricJson[] {
  return metrics.filter(isCumulative);
}

/**
 * Adds a `worker` label (the slot) to per-process metrics, so that summing
 * keeps one series per worker instead of adding, say, two heap sizes or two
 * event-loop percentiles together.
 */
export function labelWorker(metrics: readonly MetricJson[], slot: number): MetricJson[] {
  const worker = String(slot);
  return metrics.map((m) =>
    isPerWorkerMetric(m.name) ? { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) } : m,
  );
}

/**
 * Sums sets of metrics: values with the same metric name, sample name and
 * labels are added. Linear in the number of samples (one map lookup each), so
 * many workers with many label sets stay cheap. Metadata comes from the first
 * set that has the metric.
 */
export function sumMetrics(sets: ReadonlyArray<readonly MetricJson[]>): MetricJson[] {
  const byName = new Map<string, { metric: MetricJson; samples: Map<string, Sample> }>();
  for (const set of sets) {
    for (const metric of set) {
      let entry = byName.get(metric.name);
      if (!entry) {
        entry = { metric, samples: new Map() };
        byName.set(metric.name, entry);
      }
      for (const value of metric.values) {
        const key = sampleKey(value);
        const existing = entry.samples.get(key);
        if (existing) existing.value += value.value;
        else entry.samples.set(key, { ...value, labels: { ...value.labels } });
      }
    }
  }
  return [...byName.values()].map(({ metric, samples }) => ({
    name: metric.name,
    help: metric.help,
    type: metric.type,
    values: [...samples.values()],
  }));
}

function sampleKey(value: Sample): string {
  const labels = value.labels ?? {};
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = value.metricName ?? '';
  for (const name of names) key += `\u0000${name}\u0001${String(labels[name])}`;
  return key;
}
