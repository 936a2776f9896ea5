import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, parseExposition, scrape, sumSeries, type TestClient } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';
const COUNTERS = ['skein_connections_total', 'skein_messages_total', 'skein_bytes_received_total', 'skein_bytes_sent_total', 'skein_message_duration_seconds_count'];

/** Opens connections until each worker slot has at least one open (round-robin spreads them). */
async function connectToEveryWorker(server: StartedServer, workers: number): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < workers * 2; i++) {
    const c = await connectClient(server.port);
    await c.waitFor((t) => t.startsWith(WELCOME));
    c.write(`hello ${i}\n`);
    await c.waitFor((t) => t.endsWith(`Processed: hello ${i}\n`));
    clients.push(c);
  }
  await eventually(async () => {
    const m = await scrape(server.metricsPort!);
    return Array.from({ length: workers }, (_, w) => sumSeries(m, 'skein_worker_connections_active', `worker="${w}"`)).every((n) => n > 0);
  });
  return clients;
}

describe('metrics when workers freeze or die (2 workers, --metrics-timeout 1)', () => {
  let server: StartedServer;

  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '2', '--metrics-port', String(await freePort()), '--metrics-timeout', '1']);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('answers a scrape while one worker is frozen with SIGSTOP, from its last report, marking it stale', async () => {
    const clients = await connectToEveryWorker(server, 2);
    const frozen = server.pids[0]!;
    process.kill(frozen, 'SIGSTOP');
    try {
      // Waiting for the frozen worker would never end: a bounded answer at all shows the wait is bounded.
      // Three concurrent scrapes (one in OpenMetrics) all answer; none waits for another.
      const started = Date.now();
      const url = `http://127.0.0.1:${server.metricsPort}/metrics`;
      const [res, ...others] = await Promise.all([
        fetch(url, { signal: AbortSignal.timeout(10_000) }),
        fetch(url, { signal: AbortSignal.timeout(10_000) }),
        fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/openmetrics-text' } }),
      ]);
      const elapsed = Date.now() - started;
      for (const r of [res!, ...others]) expect(r.status).toBe(200);
      expect(await others[1]!.text()).toMatch(/# EOF\n$/);
      const m = parseExposition(await res!.text());
      console.log(`3 concurrent scrapes with a frozen worker answered in ${elapsed} ms (worker wait 100 ms, deadline 1000 ms)`);
      // The frozen worker is answered for from its last report: stale, its counters kept, its gauges left out.
      expect(m.get('skein_worker_stale{worker="0"}')).toBe(1);
      expect(m.get('skein_metrics_scrape_worker_failures_total{worker="0"}')).toBeGreaterThanOrEqual(1);
      expect(m.has('skein_worker_connections_active{worker="0"}')).toBe(false);
      expect(m.get('skein_worker_connections_total{worker="0"}')).toBeGreaterThan(0);
      // The live worker answers fresh (polled: on a loaded host one scrape may find it slow too).
      await eventually(async () => {
        const live = await scrape(server.metricsPort!);
        if (live.get('skein_worker_stale{worker="1"}') !== 0) return false;
        expect(live.get('skein_worker_stale{worker="0"}')).toBe(1);
        expect(live.get('skein_worker_connections_active{worker="1"}')).toBeGreaterThan(0);
        expect(live.has('process_resident_memory_bytes{worker="1"}')).toBe(true);
        return true;
      });
    } finally {
      process.kill(frozen, 'SIGCONT');
    }
    // Thawed, it answers again and is no longer stale.
    await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return m.get('skein_worker_stale{worker="0"}') === 0 && sumSeries(m, 'skein_worker_connections_active', 'worker="0"') > 0;
    });
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.closed()));
  });

  it('keeps counters from falling when a worker that served traffic is killed with SIGKILL', async () => {
    const clients = await connectToEveryWorker(server, 2);
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.closed()));
    const before = await scrape(server.metricsPort!);
    const victim = server.pids[0]!;
    process.kill(victim, 'SIGKILL');
    let last = before;
    await eventually(
      async () => {
        const m = await scrape(server.metricsPort!);
        for (const name of COUNTERS) expect(sumSeries(m, name), name).toBeGreaterThanOrEqual(sumSeries(last, name));
        last = m;
        return sumSeries(m, 'skein_worker_restarts_total') >= 1 && sumSeries(m, 'skein_workers_alive') === 2;
      },
      20_000,
      50,
    );
    // Nothing new was served: the totals are what they were before the kill.
    for (const name of COUNTERS) expect(sumSeries(last, name), name).toBe(sumSeries(before, name));
  });
});
