import { describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries, type TestClient } from './helpers/client.js';
import { eventually, freePort, startServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';

async function welcomed(port: number, localAddress: string): Promise<TestClient> {
  const c = await connectClient(port, '127.0.0.1', localAddress);
  await c.waitFor((t) => t === WELCOME);
  return c;
}

async function refused(port: number, localAddress: string): Promise<void> {
  const c = await connectClient(port, '127.0.0.1', localAddress);
  await c.closed();
  expect(c.received()).toBe('');
}

describe('connection limits (real sockets, real CLI)', () => {
  it('refuses over --max-connections-per-ip and --max-connections-per-worker, counted by reason', async () => {
    const metricsPort = await freePort();
    const server = await startServer([
      'processed', '--port', '0', '--workers', '1', '--metrics-port', String(metricsPort),
      '--max-connections-per-worker', '3', '--max-connections-per-ip', '1',
    ]);
    try {
      const held = [await welcomed(server.port, '127.0.0.1')];
      await refused(server.port, '127.0.0.1'); // same IP again
      held.push(await welcomed(server.port, '127.0.0.2'), await welcomed(server.port, '127.0.0.3'));
      await refused(server.port, '127.0.0.4'); // the worker is full
      const m = await eventually(async () => {
        const s = await scrape(metricsPort);
        return sumSeries(s, 'skein_connections_rejected_total') === 2 ? s : undefined;
      });
      expect(sumSeries(m, 'skein_connections_rejected_total', 'reason="max_connections_per_ip"')).toBe(1);
      expect(sumSeries(m, 'skein_connections_rejected_total', 'reason="max_connections_per_worker"')).toBe(1);
      expect(sumSeries(m, 'skein_connections_active')).toBe(3);
      // A closed connection frees its slot and its IP's.
      held[0]!.end();
      await held[0]!.closed();
      held.push(await eventually(() => welcomed(server.port, '127.0.0.1')));
      for (const c of held.slice(1)) c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('closes connections idle longer than --idle-timeout, counted as SKEIN_ERR_IDLE_TIMEOUT, and keeps busy ones', async () => {
    const metricsPort = await freePort();
    const server = await startServer(['lines', '--port', '0', '--workers', '1', '--metrics-port', String(metricsPort), '--idle-timeout', '2']);
    try {
      const idle = await connectClient(server.port);
      const busy = await connectClient(server.port);
      let n = 0;
      const chatter = setInterval(() => busy.write(`ping ${n++}\n`), 200);
      await idle.closed();
      const m = await eventually(async () => {
        const s = await scrape(metricsPort);
        return sumSeries(s, 'skein_protocol_errors_total', 'code="SKEIN_ERR_IDLE_TIMEOUT"') === 1 ? s : undefined;
      });
      clearInterval(chatter);
      expect(busy.socket.destroyed).toBe(false);
      expect(sumSeries(m, 'skein_connections_active')).toBe(1);
      busy.write('last\n');
      await busy.waitFor((t) => t.endsWith('Processed: last\r\n'));
      busy.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
