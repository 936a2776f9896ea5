import { describe, expect, it } from 'vitest';
import { WorkerMetrics } from '../../src/worker/metrics.js';


describe('WorkerMetrics', () => {
  it('registers the runtime collectors only when asked to (the worker skips them with metrics off)', async () => {
    const names = async (metrics: WorkerMetrics) => (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    const full = await names(new WorkerMetrics());
    expect(full).toContain('process_cpu_seconds_total');
    expect(full).toContain('skein_connections_active');
    const lean = await names(new WorkerMetrics({ runtime: false }));
    expect(lean).not.toContain('process_cpu_seconds_total');
    expect(lean).not.toContain('nodejs_gc_duration_seconds');
    expect(lean).toContain('skein_connections_active');
  });
});
