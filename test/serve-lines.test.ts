import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

describe('skein serve lines', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer(['lines', '--port', '0', '--workers', '1', '--metrics-port', String(await freePort()), '--option', 'maxLength=1000']);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('answers each line with Processed: <line>, however the bytes are split', async () => {
    const client = await connectClient(server.port);
    client.write('hel');
    client.write('lo\r\nwor');
    client.write('ld\nthird\r\n');
    await client.waitFor((t) => t === 'Processed: hello\r\nProcessed: world\r\nProcessed: third\r\n');
    client.end();
    await client.closed();
  });

  it('closes a connection that sends a line over maxLength with SKEIN_ERR_LINE_TOO_LONG, and keeps serving the others', async () => {
    const bystander = await connectClient(server.port);
    bystander.write('before\n');
    await bystander.waitFor((t) => t === 'Processed: before\r\n');

    const hostile = await connectClient(server.port);
    hostile.write('ok\n');
    await hostile.waitFor((t) => t === 'Processed: ok\r\n');
    hostile.write('x'.repeat(5000));
    await hostile.closed();
    expect(hostile.received()).toBe('Processed: ok\r\n');

    bystander.write('after\n');
    await bystander.waitFor((t) => t === 'Processed: before\r\nProcessed: after\r\n');
    const metrics = await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return sumSeries(m, 'skein_protocol_errors_total', 'code="SKEIN_ERR_LINE_TOO_LONG"') === 1 ? m : undefined;
    });
    expect(sumSeries(metrics, 'skein_protocol_errors_total', 'code="SKEIN_ERR_PROTOCOL_CALLBACK"')).toBe(0);
    expect(sumSeries(metrics, 'skein_worker_restarts_total')).toBe(0);
    bystander.end();
    await bystander.closed();
  });
});
