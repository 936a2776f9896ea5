import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';

describe('skein serve processed, 2 workers', () => {
  let server: StartedServer;

  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '2', '--metrics-port', String(await freePort())]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('greets, then answers each chunk with Processed: + data', async () => {
    const client = await connectClient(server.port);
    await client.waitFor((t) => t === WELCOME);
    client.write('hello\r\n');
    await client.waitFor((t) => t === `${WELCOME}Processed: hello\r\n`);
    client.end();
    await client.closed();
  });

  it('spreads connections over both workers and sums them in /metrics', async () => {
    const before = await scrape(server.metricsPort!);
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const c = await connectClient(server.port);
      await c.waitFor((t) => t.startsWith(WELCOME));
      clients.push(c);
    }
    const metrics = await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return sumSeries(m, 'skein_connections_active') === 6 ? m : undefined;
    });
    const perWorker = [0, 1].map((w) => sumSeries(metrics, 'skein_worker_connections_active', `worker="${w}"`));
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);
    expect(perWorker[0]! + perWorker[1]!).toBe(6);
    expect(sumSeries(metrics, 'skein_connections_total') - sumSeries(before, 'skein_connections_total')).toBe(6);
    expect(sumSeries(metrics, 'skein_workers_alive')).toBe(2);
    expect(sumSeries(metrics, 'skein_bytes_sent_total')).toBeGreaterThan(0);
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.closed()));
  });

  it('serves the health endpoints', async () => {
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/nope`)).status).toBe(404);
  });

  it('a client that resets mid-stream does not disturb another client', async () => {
    const steady = await connectClient(server.port);
    await steady.waitFor((t) => t.startsWith(WELCOME));
    const rude = await connectClient(server.port);
    await rude.waitFor((t) => t.startsWith(WELCOME));
    rude.write('half a mess');
    rude.socket.resetAndDestroy();
    steady.write('still here\r\n');
    await steady.waitFor((t) => t.endsWith('Processed: still here\r\n'));
    steady.end();
    await steady.closed();
  });

  it('replaces a worker killed with SIGKILL and keeps answering', async () => {
    const victim = server.pids[0]!;
    process.kill(victim, 'SIGKILL');
    await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return sumSeries(m, 'skein_worker_restarts_total') >= 1 && sumSeries(m, 'skein_workers_alive') === 2;
    });
    for (let i = 0; i < 4; i++) {
      const c = await connectClient(server.port);
      c.write('again\r\n');
      await c.waitFor((t) => t.endsWith('Processed: again\r\n'));
      c.end();
      await c.closed();
    }
  });
});

describe('skein serve processed --offload', () => {
  it('processes on the pool and keeps replies in order', async () => {
    const server = await startServer(['processed', '--offload', '--port', '0', '--workers', '1', '--metrics-port', '0']);
    try {
      const client = await connectClient(server.port);
      await client.waitFor((t) => t === WELCOME);
      for (let i = 0; i < 20; i++) {
        client.write(`m${i};`);
        await new Promise((r) => setImmediate(r));
      }
      // TCP may merge chunks, so count payloads, not prefixes; their order must be the request order.
      await client.waitFor((t) => t.endsWith('m19;'));
      const payload = client.received().slice(WELCOME.length).replace(/Processed: /g, '');
      expect(payload).toBe(Array.from({ length: 20 }, (_, i) => `m${i};`).join(''));
      client.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
