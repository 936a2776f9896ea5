/**
 * `skein serve http` on 2 workers, driven by real clients: fetch (undici, built
 * into Node 20) and autocannon (as a library), plus the demo config.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { freePort, startServer, type StartedServer } from './helpers/server.js';

describe('skein serve http, 2 workers', () => {
  let server: StartedServer;
  let base: string;

  beforeAll(async () => {
    server = await startServer(['http', '--port', '0', '--workers', '2', '--metrics-port', String(await freePort())]);
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('answers the demo routes to fetch', async () => {
    const hello = await fetch(`${base}/`);
    expect(hello.status).toBe(200);
    expect(hello.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await hello.text()).toBe('Hello from skein\n');
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    await missing.text();
    const wrong = await fetch(`${base}/process`);
    expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'POST']);
    await wrong.text();
  });

  it('processes POST /process bodies on a pool thread (sized and chunked)', async () => {
    const sized = await fetch(`${base}/process`, { method: 'POST', body: 'hello' });
    expect(await sized.text()).toBe('Processed: hello');
    expect(Number(sized.headers.get('x-processed-by-thread'))).toBeGreaterThan(0);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk one, '));
        controller.enqueue(new TextEncoder().encode('chunk two'));
        controller.close();
      },
    });
    const chunked = await fetch(`${base}/process`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(await chunked.text()).toBe('Processed: chunk one, chunk two');
  });

  it('keeps pipelined replies in request order across offloaded and inline routes', async () => {
    const client = await connectClient(server.port);
    const requests = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0 ? `POST /process HTTP/1.1\r\nHost: t\r\nContent-Length: ${String(i).length}\r\n\r\n${i}` : `GET /healthz?${i} HTTP/1.1\r\nHost: t\r\n\r\n`,
    );
    client.write(requests.join(''));
    const text = await client.waitFor((t) => (t.match(/HTTP\/1\.1 200/g) ?? []).length === 12);
    const bodies = text.split('HTTP/1.1 200 OK').slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
    expect(bodies).toEqual(requests.map((_, i) => (i % 3 === 0 ? `Processed: ${i}` : 'ok\n')));
    client.end();
  });

  it('serves autocannon with keep-alive and pipelining, without errors', async () => {
    const result = await autocannon({ url: `${base}/`, connections: 20, pipelining: 10, duration: 2 });
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result['2xx']).toBeGreaterThan(100);
    // `amount` with pipelining makes autocannon stop before the last replies arrive: count them at depth 1.
    const processed = await autocannon({ url: `${base}/process`, method: 'POST', body: 'x'.repeat(100), connections: 10, amount: 400 });
    expect(processed.errors).toBe(0);
    expect(processed['2xx']).toBe(400);
    const metrics = await scrape(server.metricsPort!);
    expect(sumSeries(metrics, 'skein_connections_total', 'protocol="http"')).toBeGreaterThanOrEqual(30);
  });

  it('answers a malformed request with 400 and closes that connection only', async () => {
    const bad = await connectClient(server.port);
    bad.write('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    await bad.waitFor((t) => t.startsWith('HTTP/1.1 400 Bad Request'));
    expect((await bad.closed()).hadError).toBe(false);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('the demo config', () => {
  it('serves http on tcp 8080 next to processed', () => {
    const config = JSON.parse(readFileSync(new URL('../config/demo.json', import.meta.url), 'utf8')) as { services: Array<{ protocol: string; listen: string[] }> };
    expect(config.services).toContainEqual({ name: 'http', protocol: 'http', listen: ['tcp:8080'] });
  });
});
