/**
 * Issue 15, case 10: a worker whose event loop stops (SIGSTOP here; a protocol
 * stuck in a loop alike) is noticed by its missing heartbeat: not ready, no new
 * connections from the acceptor, then killed and replaced; counted and logged.
 */
import { describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';

async function readyz(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
}

describe('worker heartbeat', () => {
  it('a stopped worker is marked not ready, gets no new connections, and is replaced', async () => {
    const metricsPort = await freePort();
    const server = await startServer(
      ['processed', '--port', '0', '--workers', '1', '--balance', 'least-connections', '--heartbeat-timeout', '1', '--heartbeat-kill-timeout', '5', '--metrics-timeout', '1', '--metrics-port', String(metricsPort)],
    );
    const stuck = server.pids[0]!;
    try {
      expect(await readyz(metricsPort)).toBe(200);
      process.kill(stuck, 'SIGSTOP');
      await server.waitForLog((l) => /missed its heartbeat/.test(String(l.msg)));
      expect(await readyz(metricsPort)).toBe(503);
      const m = await scrape(metricsPort);
      expect(sumSeries(m, 'skein_workers_alive')).toBe(0);
      expect(sumSeries(m, 'skein_workers_unresponsive_total')).toBe(1);
      // A new client is held for a live worker, not handed to the stuck one: the replacement greets it.
      const client = await connectClient(server.port);
      await server.waitForLog((l) => /unresponsive for \d+s: killing it/.test(String(l.msg)), 20_000);
      await client.waitFor((t) => t.startsWith(WELCOME), 20_000);
      await eventually(async () => (await readyz(metricsPort)) === 200);
      const after = await scrape(metricsPort);
      expect(sumSeries(after, 'skein_workers_alive')).toBe(1);
      expect(sumSeries(after, 'skein_worker_restarts_total')).toBe(1);
      client.write('x');
      await client.waitFor((t) => t.endsWith('Processed: x'));
      client.end();
    } finally {
      try {
        process.kill(stuck, 'SIGKILL');
      } catch {
        /* replaced already */
      }
      expect(await server.stop()).toBe(0);
    }
  });
});
