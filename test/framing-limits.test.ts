import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

function int32(body: string): Buffer {
  const b = Buffer.from(body);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(b.length);
  return Buffer.concat([prefix, b]);
}

describe('length-prefixed and netstring services over their limits (real CLI)', () => {
  let server: StartedServer;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    // Distinct ports: two services both on 'tcp:0' would share one pinned port (the primary keys them by endpoint text).
    const [intPort, netstringPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'skein-framing-'));
    const config = join(dir, 'skein.json');
    writeFileSync(
      config,
      JSON.stringify({
        workers: 1,
        metricsPort,
        services: [
          { name: 'int32', protocol: fixture('int32-echo'), listen: [`tcp:${intPort}:interface=127.0.0.1`], options: { maxLength: 100 } },
          { name: 'netstring', protocol: fixture('netstring-echo'), listen: [`tcp:${netstringPort}:interface=127.0.0.1`], options: { maxLength: 100 } },
        ],
      }),
    );
    server = await startServer(['--config', config]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  const port = (service: string) => server.endpoints.find((e) => e.service === service)!.port!;

  it('an over-limit Int32 frame closes only its connection, with SKEIN_ERR_LENGTH_LIMIT_EXCEEDED', async () => {
    const bystander = await connectClient(port('int32'));
    bystander.write(int32('one'));
    await bystander.waitFor((t) => t === int32('one').toString('latin1'));
    const hostile = await connectClient(port('int32'));
    hostile.write(int32('x'.repeat(101)));
    await hostile.closed();
    expect(hostile.received()).toBe('');
    bystander.write(int32('two'));
    await bystander.waitFor((t) => t === Buffer.concat([int32('one'), int32('two')]).toString('latin1'));
    await eventually(async () => {
      const m = await scrape(metricsPort);
      return sumSeries(m, 'skein_protocol_errors_total', 'protocol="int32",code="SKEIN_ERR_LENGTH_LIMIT_EXCEEDED"') === 1;
    });
    bystander.end();
  });

  it('a malformed netstring closes only its connection, with SKEIN_ERR_NETSTRING_PARSE', async () => {
    const bystander = await connectClient(port('netstring'));
    bystander.write('3:one,');
    await bystander.waitFor((t) => t === '3:one,');
    const hostile = await connectClient(port('netstring'));
    hostile.write('3:abc;');
    await hostile.closed();
    const tooLong = await connectClient(port('netstring'));
    tooLong.write('101:');
    await tooLong.closed();
    bystander.write('3:two,');
    await bystander.waitFor((t) => t === '3:one,3:two,');
    const m = await eventually(async () => {
      const s = await scrape(metricsPort);
      return sumSeries(s, 'skein_protocol_errors_total', 'protocol="netstring"') === 2 ? s : undefined;
    });
    expect(sumSeries(m, 'skein_protocol_errors_total', 'protocol="netstring",code="SKEIN_ERR_NETSTRING_PARSE"')).toBe(1);
    expect(sumSeries(m, 'skein_protocol_errors_total', 'protocol="netstring",code="SKEIN_ERR_LENGTH_LIMIT_EXCEEDED"')).toBe(1);
    bystander.end();
  });
});
