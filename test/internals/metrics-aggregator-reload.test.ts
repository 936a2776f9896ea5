import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsAggregator, type ScrapeTarget } from '../../src/master/metrics-aggregator.js';

/** A fake worker process: a registry with one counter, answering scrapes like a worker would. */
function fakeWorker(aggregator: MetricsAggregator, slot: number, worker: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'skein_connections_total', help: 'h', labelNames: ['protocol'], registers: [registry] });
  let answering = true;
  const target: ScrapeTarget = {
    slot,
    worker,
    request: (id) => {
      if (!answering) return true; // sent, but never answered (a dying worker)
      void registry.getMetricsAsJSON().then((m) => aggregator.receive(id, m));
      return true;
    },
  };
  return {
    target,
    inc: (n: number) => counter.inc({ protocol: 'p' }, n),
    json: () => registry.getMetricsAsJSON(),
    silence: () => (answering = false),
  };
}

function total(body: string): number {
  const line = body.split('\n').find((l) => l.startsWith('skein_connections_total{'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('MetricsAggregator while two workers share a slot (reload)', () => {
  it('keeps counters monotonic and counts a retired worker exactly once', async () => {
    const aggregator = new MetricsAggregator(200);
    const old = fakeWorker(aggregator, 0, 1);
    old.inc(5);
    expect(total((await aggregator.scrape([old.target])).body)).toBe(5);

    // The replacement joins slot 0 while the old worker still serves.
    const next = fakeWorker(aggregator, 0, 2);
    next.inc(2);
    old.inc(1);
    expect(total((await aggregator.scrape([old.target, next.target])).body)).toBe(8);

    // The old worker drains and reports its final values, then leaves.
    old.inc(3);
    aggregator.retire(0, 1, await old.json());
    expect(total((await aggregator.scrape([next.target])).body)).toBe(11);
    // Its exit retires it again: no double count.
    aggregator.retire(0, 1);
    expect(total((await aggregator.scrape([next.target])).body)).toBe(11);
  });

  it('does not wait for a worker that died during the scrape, and keeps its last values', async () => {
    const aggregator = new MetricsAggregator(60_000);
    const a = fakeWorker(aggregator, 0, 1);
    const b = fakeWorker(aggregator, 1, 2);
    a.inc(4);
    b.inc(1);
    await aggregator.scrape([a.target, b.target]);
    a.silence();
    const pending = aggregator.scrape([a.target, b.target]);
    aggregator.retire(0, 1);
    expect(total((await pending).body)).toBe(5);
  });
});
