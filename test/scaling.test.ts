import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const OPS = fileURLToPath(new URL('./fixtures/ops-protocol.ts', import.meta.url));

/** Asks a fresh connection which worker pid serves it. */
async function servingPid(port: number): Promise<number> {
  const client = await connectClient(port);
  client.write('pid\n');
  const text = await client.waitFor((t) => t.includes('\n'));
  client.end();
  await client.closed();
  return Number(/pid (\d+)/.exec(text)![1]);
}

describe('runtime scaling and the memory ceiling', () => {
  let server: StartedServer;
  const alive = async () => sumSeries(await scrape(server.metricsPort!), 'skein_workers_alive');

  beforeAll(async () => {
    server = await startServer([OPS, '--port', '0', '--workers', '1', '--max-worker-rss', '200', '--metrics-port', String(await freePort())]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('recycles a worker above --max-worker-rss gracefully: replacement first, then drain', async () => {
    const [first] = server.pids as [number];
    const client = await connectClient(server.port);
    client.write('grow 160\n');
    await client.waitFor((t) => t === 'grew 160\n');
    const replaced = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('worker 0 replaced (max-worker-rss)'));
    expect(replaced.old).toBe(first);
    // The session on the old worker is not cut: it is still answered until it closes.
    client.write('still here\n');
    await client.waitFor((t) => t.endsWith('echo: still here\n'));
    client.end();
    await client.closed();
    expect(await servingPid(server.port)).toBe(replaced.new);
    expect(server.logs.some((l) => typeof l.msg === 'string' && /uses \d+ MiB \(over --max-worker-rss 200\)/.test(l.msg))).toBe(true);
    const metrics = await scrape(server.metricsPort!);
    expect(sumSeries(metrics, 'skein_workers_alive')).toBe(1);
    expect(sumSeries(metrics, 'skein_worker_restarts_total')).toBe(0);
  });

  it('SIGTTIN adds a worker, SIGTTOU retires one gracefully, never the last', async () => {
    server.child.kill('SIGTTIN');
    await eventually(async () => (await alive()) === 2);
    server.child.kill('SIGTTIN');
    await eventually(async () => (await alive()) === 3);
    const pids = new Set<number>();
    for (let i = 0; i < 3; i++) pids.add(await servingPid(server.port));
    expect(pids.size).toBe(3);

    server.child.kill('SIGTTOU');
    await eventually(async () => (await alive()) === 2);
    server.child.kill('SIGTTOU');
    await eventually(async () => (await alive()) === 1);
    server.child.kill('SIGTTOU');
    await server.waitForLog((l) => l.msg === 'not removing the last worker');
    expect(await alive()).toBe(1);
    // The one left still serves.
    expect(typeof (await servingPid(server.port))).toBe('number');
  });
});
