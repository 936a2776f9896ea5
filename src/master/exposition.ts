import { Registry } from 'prom-client';
import type { MetricJson } from './metric-sum.js';

/** The two exposition formats a scraper may ask for. */
export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/**
 * Picks the format from an `Accept` header: OpenMetrics when the scraper names
 * `application/openmetrics-text` with a quality at least that of the classic
 * text format (Prometheus does), the classic text format otherwise (curl's
 * `*` + `/*`, no header, browsers).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let openmetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') openmetrics = Math.max(openmetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return openmetrics > 0 && openmetrics >= text ? 'openmetrics' : 'text';
}

/** Renders metrics (already aggregated) in `format` with prom-client's formatter. */
export async function render(metrics: readonly MetricJson[], format: ExpositionFormat): Promise<string> {
  const registry = new Registry();
  registry.setContentType(CONTENT_TYPES[format] as never);
  for (const metric of metrics) {
    // prom-client renames a counter entry (drops `_total`) before rendering OpenMetrics; `get` must
    // follow that rename, and the entry must be a fresh object so a live metric is never renamed.
    const entry = {
      name: metric.name,
      help: metric.help,
      type: metric.type,
      get: () => ({ ...metric, name: entry.name }),
    };
    registry.registerMetric(entry as never);
  }
  return registry.metrics();
}
