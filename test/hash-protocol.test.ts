import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { freePort, startServer } from './helpers/server.js';

const ROUNDS = 200;

function expected(line: string): string {
  return pbkdf2Sync(line, 'skein-hash', ROUNDS, 32, 'sha256').toString('hex');
}

describe('built-in hash protocol', () => {
  it.each([
    ['offloaded', [] as string[], 4],
    ['inline', ['--option', 'inline=true'], 0],
  ])('%s: answers each line (LF or CRLF, split anywhere) with its digest, in order', async (_mode, flags, offloaded) => {
    const metricsPort = await freePort();
    const server = await startServer(['hash', '--port', '0', '--workers', '1', '--option', `rounds=${ROUNDS}`, ...flags, '--metrics-port', String(metricsPort)]);
    try {
      const client = await connectClient(server.port);
      const input = ['alpha', 'beta', '', 'gamma delta'];
      const wire = 'alpha\r\nbeta\n\ngamma delta\n';
      client.write(wire.slice(0, 3));
      client.write(wire.slice(3, 9));
      client.write(wire.slice(9));
      const text = await client.waitFor((t) => t.split('\n').length > input.length);
      expect(text).toBe(input.map((l) => `${expected(l)}\n`).join(''));
      client.end();
      const metrics = await scrape(metricsPort);
      expect(sumSeries(metrics, 'skein_offload_tasks_total', 'protocol="hash",status="completed"')).toBe(offloaded);
      expect(sumSeries(metrics, 'skein_offload_duration_seconds_count', 'protocol="hash"')).toBe(offloaded);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('answers a line over 16384 bytes, after the replies before it, with ERR SKEIN_ERR_LINE_TOO_LONG and closes', async () => {
    const server = await startServer(['hash', '--port', '0', '--workers', '1', '--option', `rounds=${ROUNDS}`, '--metrics-port', '0']);
    try {
      const client = await connectClient(server.port);
      const bystander = await connectClient(server.port);
      client.write(`first\n${'x'.repeat(20_000)}`);
      await client.closed();
      expect(client.received()).toMatch(new RegExp(`^${expected('first')}\nERR SKEIN_ERR_LINE_TOO_LONG [^\n]+\n$`));
      bystander.write('still here\n');
      expect(await bystander.waitFor((t) => t.endsWith('\n'))).toBe(`${expected('still here')}\n`);
      bystander.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
