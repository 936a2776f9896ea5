import { describe, expect, it } from 'vitest';
import { negotiateFormat, render } from '../../src/master/exposition.js';
import { labelWorker, sumMetrics, type MetricJson } from '../../src/master/metric-sum.js';

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['application/openmetrics-text', 'openmetrics'],
    // Prometheus 2.x
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5', 'text'],
    ['application/openmetrics-text;q=0', 'text'],
  ])('Accept %j gives %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

const counter = (name: string, values: MetricJson['values']): MetricJson => ({ name, help: 'h', type: 'counter', values });

describe('sumMetrics and labelWorker', () => {
  it('adds samples with equal labels whatever the label order, and keeps per-process series apart by worker', () => {
    const a = [counter('skein_x_total', [{ value: 2, labels: { protocol: 'p', code: 'c' } }]), counter('process_cpu_seconds_total', [{ value: 1, labels: {} }])];
    const b = [counter('skein_x_total', [{ value: 3, labels: { code: 'c', protocol: 'p' } }]), counter('process_cpu_seconds_total', [{ value: 5, labels: {} }])];
    const summed = sumMetrics([labelWorker(a, 0), labelWorker(b, 1)]);
    expect(summed.find((m) => m.name === 'skein_x_total')!.values).toEqual([{ value: 5, labels: { protocol: 'p', code: 'c' } }]);
    expect(summed.find((m) => m.name === 'process_cpu_seconds_total')!.values).toEqual([
      { value: 1, labels: { worker: '0' } },
      { value: 5, labels: { worker: '1' } },
    ]);
  });
});

describe('render', () => {
  it('renders OpenMetrics counters without renaming the metrics it was given', async () => {
    const metrics = [counter('skein_x_total', [{ value: 1, labels: {} }])];
    const om = await render(metrics, 'openmetrics');
    expect(om).toContain('# TYPE skein_x counter\n');
    expect(om).toContain('\nskein_x_total 1\n');
    expect(om.endsWith('# EOF\n')).toBe(true);
    const text = await render(metrics, 'text');
    expect(text).toContain('# TYPE skein_x_total counter\n');
    expect(metrics[0]!.name).toBe('skein_x_total');
  });
});
