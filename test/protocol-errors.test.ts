import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/throwing-protocol.ts', import.meta.url));

describe('a protocol callback that throws', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer([FIXTURE, '--port', '0', '--workers', '1', '--metrics-port', String(await freePort())]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('aborts only that connection, is counted, and the worker keeps serving', async () => {
    const bystander = await connectClient(server.port);
    bystander.write('one\n');
    await bystander.waitFor((t) => t === 'echo: one\n');

    for (const trigger of ['boom', 'reject']) {
      const victim = await connectClient(server.port);
      victim.write(`${trigger}\n`);
      await victim.closed();
    }
    bystander.write('two\n');
    await bystander.waitFor((t) => t === 'echo: one\necho: two\n');
    const metrics = await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return sumSeries(m, 'skein_protocol_errors_total', 'code="SKEIN_ERR_PROTOCOL_CALLBACK"') === 2 ? m : undefined;
    });
    expect(sumSeries(metrics, 'skein_worker_restarts_total')).toBe(0);
    expect(server.logs.some((l) => String(l.msg).includes('dataReceived failed'))).toBe(true);
    bystander.end();
  });
});
