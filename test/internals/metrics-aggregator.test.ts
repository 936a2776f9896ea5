import { parseExposition } from '../helpers/client.js';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricsAggregator, type ScrapeTarget } from '../../src/master/metrics-aggregator.js';
import type { MetricJson } from '../../src/master/metric-sum.js';
import type { MetricsKind } from '../../src/shared/ipc.js';

const TIMEOUT = 1000;

/** A worker that answers only when told to. */
class FakeWorker implements ScrapeTarget {
  connected = true;
  messages = 0;
  active = 0;
  readonly requests: Array<{ id: number; kind: MetricsKind }> = [];
  constructor(
    readonly slot: number,
    readonly id: number,
  ) {}

  request(id: number, kind: MetricsKind): boolean {
    if (!this.connected) return false;
    this.requests.push({ id, kind });
    return true;
  }

  metrics(kind: MetricsKind = 'full'): MetricJson[] {
    const counters: MetricJson[] = [
      { name: 'skein_messages_total', help: 'm', type: 'counter', values: [{ value: this.messages, labels: { protocol: 'p' } }] },
      { name: 'process_cpu_seconds_total', help: 'c', type: 'counter', values: [{ value: this.messages / 10, labels: {} }] },
    ];
    const gauges: MetricJson[] = [{ name: 'skein_connections_active', help: 'a', type: 'gauge', values: [{ value: this.active, labels: { protocol: 'p' } }] }];
    return kind === 'full' ? [...counters, ...gauges] : counters;
  }

  /** Answers every outstanding request. */
  answer(aggregator: MetricsAggregator): void {
    for (const r of this.requests.splice(0)) aggregator.receive(this.id, r.id, this.metrics(r.kind));
  }
}


/** Runs a scrape to completion under fake timers, answering with `answering` first. */
async function scrape(aggregator: MetricsAggregator, targets: FakeWorker[], answering: FakeWorker[] = targets) {
  let done = false;
  const result = aggregator.scrape(targets).then((body) => {
    done = true;
    return parseExposition(body);
  });
  await vi.advanceTimersByTimeAsync(0);
  for (const w of answering) w.answer(aggregator);
  await vi.advanceTimersByTimeAsync(TIMEOUT);
  expect(done).toBe(true);
  return result;
}

describe('MetricsAggregator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sums skein series and labels per-process ones with the worker slot', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const [a, b] = [new FakeWorker(0, 1), new FakeWorker(1, 2)];
    a.messages = 10;
    b.messages = 5;
    a.active = 2;
    const m = await scrape(aggregator, [a, b]);
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(15);
    expect(m.get('skein_connections_active{protocol="p"}')).toBe(2);
    expect(m.get('process_cpu_seconds_total{worker="0"}')).toBe(1);
    expect(m.get('process_cpu_seconds_total{worker="1"}')).toBe(0.5);
  });

  it('answers by the deadline without a silent worker, using its last counters and counting the miss', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const [a, b] = [new FakeWorker(0, 1), new FakeWorker(1, 2)];
    a.messages = 10;
    b.messages = 5;
    b.active = 3;
    await scrape(aggregator, [a, b]);
    b.messages = 7; // b is frozen from now on: it never reports this
    const m = await scrape(aggregator, [a, b], [a]);
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(15);
    // A silent worker's gauges are dropped: its connections may be gone.
    expect(m.get('skein_connections_active{protocol="p"}')).toBe(0);
    expect(m.get('skein_metrics_scrape_worker_failures_total{worker="1"}')).toBe(1);
    expect(m.get('skein_worker_stale{worker="1"}')).toBe(1);
    expect(m.get('skein_worker_stale{worker="0"}')).toBe(0);
    // The frozen worker is not sent a second request while the first is unanswered.
    await scrape(aggregator, [a, b], [a]);
    expect(b.requests).toHaveLength(1);
    // When it thaws, its answer is used, late or not.
    b.answer(aggregator);
    const after = await scrape(aggregator, [a, b]);
    expect(after.get('skein_messages_total{protocol="p"}')).toBe(17);
    expect(after.get('skein_metrics_scrape_worker_failures_total{worker="1"}')).toBe(2);
    expect(after.get('skein_worker_stale{worker="1"}')).toBe(0);
  });

  it('answers after the worker wait, not the deadline, when a worker is silent', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: 5000, workerWaitMs: 100 });
    const [a, b] = [new FakeWorker(0, 1), new FakeWorker(1, 2)];
    a.messages = 3;
    let body: string | undefined;
    void aggregator.scrape([a, b]).then((text) => (body = text));
    await vi.advanceTimersByTimeAsync(0);
    a.answer(aggregator);
    await vi.advanceTimersByTimeAsync(99);
    expect(body).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(body).toBeDefined();
    const m = parseExposition(body!);
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(3);
    expect(m.get('skein_worker_stale{worker="1"}')).toBe(1);
  });

  it('answers by the deadline with 64 workers of which half never answer', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const workers = Array.from({ length: 64 }, (_, i) => new FakeWorker(i, i + 1));
    for (const w of workers) w.messages = 1;
    const m = await scrape(aggregator, workers, workers.filter((w) => w.slot % 2 === 0));
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(32);
    expect([...m.keys()].filter((k) => k.startsWith('skein_metrics_scrape_worker_failures_total'))).toHaveLength(32);
  });

  it('keeps the counters of a worker that died and adds its replacement to them', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const a = new FakeWorker(0, 1);
    a.messages = 10;
    await scrape(aggregator, [a]);
    aggregator.workerGone(a.id);
    aggregator.retire(a.id);
    const a2 = new FakeWorker(0, 2);
    a2.messages = 1;
    const m = await scrape(aggregator, [a2]);
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(11);
    expect(m.get('process_cpu_seconds_total{worker="0"}')).toBeCloseTo(1.1);
  });

  it('fails the outstanding request of a worker that exits at once, not at the deadline', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const a = new FakeWorker(0, 1);
    let done = false;
    const result = aggregator.scrape([a]).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    aggregator.workerGone(a.id);
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await result;
  });

  it('a final report and background refreshes keep what a worker counted after the last scrape', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT, refreshMs: 100 });
    const [a, b] = [new FakeWorker(0, 1), new FakeWorker(1, 2)];
    await scrape(aggregator, [a, b]);
    aggregator.startRefresh(() => [a, b]);
    a.messages = 4;
    b.messages = 6;
    await vi.advanceTimersByTimeAsync(100);
    expect(a.requests.map((r) => r.kind)).toEqual(['cumulative']);
    a.answer(aggregator);
    b.answer(aggregator);
    // a dies without another word: it loses nothing it reported; b retires and sends a final report.
    a.messages = 5;
    aggregator.workerGone(a.id);
    aggregator.retire(a.id);
    b.messages = 9;
    aggregator.receiveFinal(b, b.metrics('cumulative'));
    aggregator.workerGone(b.id);
    aggregator.retire(b.id);
    aggregator.stopRefresh();
    const m = await scrape(aggregator, []);
    expect(m.get('skein_messages_total{protocol="p"}')).toBe(4 + 9);
  });

  it('concurrent scrapes share one request per worker and each gets the answer', async () => {
    const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
    const a = new FakeWorker(0, 1);
    a.messages = 3;
    const first = aggregator.scrape([a]);
    const second = aggregator.scrape([a]);
    await vi.advanceTimersByTimeAsync(0);
    expect(a.requests).toHaveLength(1);
    a.answer(aggregator);
    await vi.advanceTimersByTimeAsync(0);
    for (const body of await Promise.all([first, second])) expect(parseExposition(body).get('skein_messages_total{protocol="p"}')).toBe(3);
  });

  it('sums never fall, whatever workers do between scrapes', async () => {
    type Step =
      | { op: 'work'; slot: number; n: number }
      | { op: 'refresh' }
      | { op: 'scrape'; silent: number[] }
      | { op: 'kill'; slot: number; final: boolean };
    const step = fc.oneof(
      fc.record({ op: fc.constant('work' as const), slot: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ op: fc.constant('refresh' as const) }),
      fc.record({ op: fc.constant('scrape' as const), silent: fc.subarray([0, 1, 2]) }),
      fc.record({ op: fc.constant('kill' as const), slot: fc.integer({ min: 0, max: 2 }), final: fc.boolean() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps: Step[]) => {
        const aggregator = new MetricsAggregator({ timeoutMs: TIMEOUT });
        let nextId = 1;
        const workers = [0, 1, 2].map((slot) => new FakeWorker(slot, nextId++));
        let previous = 0;
        let counted = 0; // increments ever made
        let lost = 0; // increments of killed workers that were never reported
        const reported = new Map<number, number>(); // worker id -> messages last reported
        const noteAnswers = (w: FakeWorker) => {
          if (w.requests.length > 0) reported.set(w.id, w.messages);
          w.answer(aggregator);
        };
        for (const s of steps) {
          if (s.op === 'work') {
            workers[s.slot]!.messages += s.n;
            counted += s.n;
          } else if (s.op === 'refresh') {
            aggregator.refresh(workers);
            workers.forEach(noteAnswers);
          } else if (s.op === 'scrape') {
            let body = '';
            const done = aggregator.scrape(workers).then((b) => (body = b));
            await vi.advanceTimersByTimeAsync(0);
            workers.filter((w) => !s.silent.includes(w.slot)).forEach(noteAnswers);
            await vi.advanceTimersByTimeAsync(TIMEOUT);
            await done;
            const total = parseExposition(body).get('skein_messages_total{protocol="p"}') ?? 0;
            expect(total).toBeGreaterThanOrEqual(previous);
            expect(total).toBeLessThanOrEqual(counted);
            previous = total;
          } else {
            const w = workers[s.slot]!;
            if (s.final) aggregator.receiveFinal(w, w.metrics('cumulative'));
            else lost += w.messages - (reported.get(w.id) ?? 0);
            aggregator.workerGone(w.id);
            aggregator.retire(w.id);
            workers[s.slot] = new FakeWorker(s.slot, nextId++);
          }
        }
        // Everything reported, final reports included, is in the sum.
        let body = '';
        const done = aggregator.scrape(workers).then((b) => (body = b));
        await vi.advanceTimersByTimeAsync(0);
        workers.forEach((w) => w.answer(aggregator));
        await vi.advanceTimersByTimeAsync(0);
        await done;
        expect(parseExposition(body).get('skein_messages_total{protocol="p"}') ?? 0).toBe(counted - lost);
      }),
      { numRuns: 60 },
    );
  });
});
