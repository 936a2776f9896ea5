import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsAggregator, type ScrapeTarget } from '../../src/master/metrics-aggregator.js';

/** A fake worker process: a registry with one counter, answering scrapes as a worker does. */
function fakeWorker(aggregator: MetricsAggregator, slot: number, id: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'skein_connections_total', help: 'h', labelNames: ['protocol'], registers: [registry] });
  const target: ScrapeTarget = {
    slot,
    id,
    request: (requestId) => {
      void registry.getMetricsAsJSON().then((m) => aggregator.receive(id, requestId, m));
      return true;
    },
  };
  return { target, inc: (n: number) => counter.inc({ protocol: 'p' }, n), json: () => registry.getMetricsAsJSON() };
}

function total(body: string): number {
  const line = body.split('\n').find((l) => l.startsWith('skein_connections_total{'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('MetricsAggregator while two workers share a slot (rolling reload)', () => {
  it('keeps counters monotonic and counts the retired worker exactly once', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: 500 });
    const old = fakeWorker(aggregator, 0, 1);
    old.inc(5);
    expect(total(await aggregator.scrape([old.target]))).toBe(5);

    // The replacement joins slot 0 while the old worker still serves.
    const next = fakeWorker(aggregator, 0, 2);
    next.inc(2);
    old.inc(1);
    expect(total(await aggregator.scrape([old.target, next.target]))).toBe(8);

    // The old worker drains, sends its final report, exits and is retired.
    old.inc(3);
    aggregator.receiveFinal({ id: 1, slot: 0 }, await old.json());
    aggregator.workerGone(1);
    expect(total(await aggregator.scrape([next.target]))).toBe(11);
    aggregator.retire(1);
    expect(total(await aggregator.scrape([next.target]))).toBe(11);
    aggregator.retire(1);
    expect(total(await aggregator.scrape([next.target]))).toBe(11);
  });
});
