import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, METRICS } from '../shared/metric-names.js';
import type { OffloadPool } from './pool/offload-pool.js';

/** What a scrape reads from the pool. */
type PoolFigures = Pick<OffloadPool, 'stats' | 'sampleUtilization'>;
const NO_POOL: PoolFigures = { stats: [], sampleUtilization: () => 0 };
import { ProtocolStats } from './stats.js';

/**
 * The worker's prom-client registry. Hot-path figures live in plain numbers
 * ({@link ProtocolStats}, the pool's stats) and are copied in by `collect`
 * callbacks when the primary scrapes, so a frame costs an addition, not a
 * registry call.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly services = new Map<string, ProtocolStats>();
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private readonly offloadDuration: Histogram<string>;
  /** The pool whose figures a scrape copies in (set once it exists: it reports into {@link WorkerMetrics.observeOffload}). */
  private pool: PoolFigures = NO_POOL;

  /** Told each offloaded task's time on its thread, in seconds (hand it to the pool). */
  readonly observeOffload = (protocol: string, seconds: number): void => {
    this.offloadDuration.observe({ protocol }, seconds);
  };

  /** Copies `pool`'s figures in at each scrape. */
  watchPool(pool: PoolFigures): void {
    this.pool = pool;
  }

  /** `runtime: false` leaves out the collectors that cost CPU between scrapes (GC observer, event-loop monitors). */
  constructor({ runtime = true }: { runtime?: boolean } = {}) {
    const services = this.services;
    const pool = () => this.pool;
    const registers = [this.registry];

    const copyCounter = (counter: Counter<string>, pick: (s: ProtocolStats) => number) => {
      counter.reset();
      for (const s of services.values()) counter.inc({ protocol: s.protocol }, pick(s));
    };
    new Gauge({
      name: METRICS.connectionsActive,
      help: 'Open connections.',
      labelNames: ['protocol'],
      registers,
      collect() {
        for (const s of services.values()) this.set({ protocol: s.protocol }, s.connectionsActive);
      },
    });
    new Counter({
      name: METRICS.connectionsTotal,
      help: 'Connections accepted and handed to a protocol.',
      labelNames: ['protocol'],
      registers,
      collect() {
        copyCounter(this, (s) => s.connectionsTotal);
      },
    });
    new Gauge({
      name: METRICS.workerConnectionsActive,
      help: 'Open connections of this worker (labelled by worker slot).',
      registers,
      collect() {
        let n = 0;
        for (const s of services.values()) n += s.connectionsActive;
        this.set(n);
      },
    });
    new Counter({
      name: METRICS.workerConnectionsTotal,
      help: 'Connections this worker accepted (labelled by worker slot).',
      registers,
      collect() {
        let n = 0;
        for (const s of services.values()) n += s.connectionsTotal;
        this.reset();
        this.inc(n);
      },
    });
    new Counter({
      name: METRICS.messages,
      help: 'Messages (frames) received, as the protocol reports them with frameReceived().',
      labelNames: ['protocol'],
      registers,
      collect() {
        copyCounter(this, (s) => s.messages);
      },
    });
    new Counter({
      name: METRICS.messagesSent,
      help: 'Messages sent, for protocols that report them (WebSocket: one per message).',
      labelNames: ['protocol'],
      registers,
      collect() {
        copyCounter(this, (s) => s.messagesSent);
      },
    });
    new Gauge({
      name: METRICS.websocketConnectionsActive,
      help: 'Open WebSocket connections.',
      labelNames: ['protocol'],
      registers,
      collect() {
        for (const s of services.values()) this.set({ protocol: s.protocol }, s.sessionsActive);
      },
    });
    new Counter({
      name: METRICS.websocketCloses,
      help: 'WebSocket connections closed, by close code.',
      labelNames: ['protocol', 'code'],
      registers,
      collect() {
        this.reset();
        for (const s of services.values()) for (const [code, n] of s.closes) this.inc({ protocol: s.protocol, code: String(code) }, n);
      },
    });
    this.registry.registerMetric(durationHistogram(services.values.bind(services)) as never);
    new Counter({
      name: METRICS.bytesReceived,
      help: 'Bytes read from clients.',
      labelNames: ['protocol'],
      registers,
      collect() {
        copyCounter(this, (s) => s.bytesReceived);
      },
    });
    new Counter({
      name: METRICS.bytesSent,
      help: 'Bytes written to clients.',
      labelNames: ['protocol'],
      registers,
      collect() {
        copyCounter(this, (s) => s.bytesSent);
      },
    });
    new Counter({
      name: METRICS.connectionsRejected,
      help: 'Connections refused, by reason.',
      labelNames: ['protocol', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const s of services.values()) for (const [reason, n] of s.rejected) this.inc({ protocol: s.protocol, reason }, n);
      },
    });
    new Counter({
      name: METRICS.protocolErrors,
      help: 'Connections closed by a protocol error, by code.',
      labelNames: ['protocol', 'code'],
      registers,
      collect() {
        this.reset();
        for (const s of services.values()) for (const [code, n] of s.errors) this.inc({ protocol: s.protocol, code }, n);
      },
    });
    new Counter({
      name: METRICS.offloadTasks,
      help: 'Offloaded tasks by outcome: completed, failed (threw, or its thread died), cancelled, rejected (queue full, policy reject).',
      labelNames: ['protocol', 'status'],
      registers,
      collect() {
        this.reset();
        for (const c of pool().stats) {
          this.inc({ protocol: c.protocol, status: 'completed' }, c.completed);
          this.inc({ protocol: c.protocol, status: 'failed' }, c.failed);
          this.inc({ protocol: c.protocol, status: 'cancelled' }, c.cancelled);
          this.inc({ protocol: c.protocol, status: 'rejected' }, c.rejected);
        }
      },
    });
    new Gauge({
      name: METRICS.offloadQueueSize,
      help: 'Tasks waiting in the pool queue for a thread (bounded by --pool-max-queue per worker).',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const c of pool().stats) this.set({ protocol: c.protocol }, c.queued);
      },
    });
    new Gauge({
      name: METRICS.offloadUtilization,
      help: 'Fraction of pool thread time spent running tasks since the previous scrape (averaged over workers).',
      registers,
      // A fraction: the cluster figure is the workers' average, not their sum.
      aggregator: 'average',
      collect() {
        this.set(pool().sampleUtilization());
      },
    });
    // Offloaded tasks take a millisecond or more: one observe() per task is cheap enough.
    this.offloadDuration = new Histogram({
      name: METRICS.offloadDuration,
      help: 'Time of offloaded tasks on their thread, from dispatch to result (seconds).',
      labelNames: ['protocol'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    const lag = this.lag;
    new Gauge({
      name: METRICS.eventLoopLag,
      help: 'Event-loop delay of the worker since the last scrape (p99, seconds).',
      registers,
      collect() {
        this.set(lag.percentile(99) / 1e9);
        lag.reset();
      },
    });
    if (!runtime) return;
    this.lag.enable();
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters (promtool rejects them), and each is the sum over `type` of its
    // namesake without the suffix (`nodejs_active_handles{type}`), which stays.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /**
   * Counters and histograms only, without running gauge collectors (which may
   * reset windows, like the event-loop lag). `skein`: skein's own, for the
   * primary's background refresh (cheap: copies of plain numbers); `all`: with
   * the process metrics too, for a retiring worker's final report.
   */
  async cumulativeJSON(scope: 'skein' | 'all' = 'all'): Promise<MetricJson[]> {
    const metrics = this.registry.getMetricsAsArray() as unknown as Array<{ name: string; type?: string; get(): Promise<MetricJson> | MetricJson }>;
    const wanted = metrics.filter((m) => (m.type === 'counter' || m.type === 'histogram') && (scope === 'all' || m.name.startsWith('skein_')));
    return Promise.all(wanted.map((m) => m.get()));
  }

  /** The stats object of a service, created on first use. */
  service(protocol: string): ProtocolStats {
    let stats = this.services.get(protocol);
    if (!stats) {
      stats = new ProtocolStats(protocol);
      this.services.set(protocol, stats);
    }
    return stats;
  }
}

/** A metric as `getMetricsAsJSON()` gives it (what travels to the primary). */
interface MetricJson {
  name: string;
  type: string;
  values: unknown[];
}

/**
 * `skein_message_duration_seconds` as a registry entry whose values are built
 * from the plain bucket arrays at collect time (prom-client's Histogram has no
 * bulk update, and one `observe()` per message is what the hot path avoids).
 */
function durationHistogram(services: () => Iterable<ProtocolStats>) {
  const base = { name: METRICS.messageDuration, help: 'Time from a frame\'s arrival to its reply being written.', type: 'histogram', aggregator: 'sum' };
  return {
    ...base,
    get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const s of services()) {
        const { bounds, counts, sum, count } = s.durations;
        const protocol = s.protocol;
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += counts[i]!;
          values.push({ labels: { le, protocol }, value: cumulative, metricName: `${METRICS.messageDuration}_bucket` });
        });
        values.push({ labels: { le: '+Inf', protocol }, value: count, metricName: `${METRICS.messageDuration}_bucket` });
        values.push({ labels: { protocol }, value: sum, metricName: `${METRICS.messageDuration}_sum` });
        values.push({ labels: { protocol }, value: count, metricName: `${METRICS.messageDuration}_count` });
      }
      return { ...base, values };
    },
  };
}
