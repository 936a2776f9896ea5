/**
 * Issue 15, item 7: HTTP is observable like the other protocols. Each request
 * counts in skein_messages_total and is timed in skein_message_duration_seconds;
 * refusals count in skein_protocol_errors_total by code.
 */
import { describe, expect, it } from 'vitest';
import { scrape, sumSeries } from './helpers/client.js';
import { exchange } from './helpers/raw-http.js';
import { eventually, freePort, startServer } from './helpers/server.js';

describe('http metrics', () => {
  it('counts and times each request, and counts 400/413/414/431 refusals by code', async () => {
    const metricsPort = await freePort();
    const server = await startServer(['http', '--port', '0', '--workers', '1', '--metrics-port', String(metricsPort), '--option', 'maxBodySize=10']);
    try {
      // 3 pipelined requests on one connection, and 2 more on another.
      await exchange(server.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(3));
      await exchange(server.port, 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n');
      const refusals = [
        ['GET / HTTP/1.1\r\n\r\n', 400], // no Host
        ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world', 413],
        [`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
        [`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431],
      ] as const;
      for (const [raw, status] of refusals) expect((await exchange(server.port, raw)).statuses).toEqual([status]);
      const m = await eventually(async () => {
        const now = await scrape(metricsPort);
        return sumSeries(now, 'skein_messages_total', 'protocol="http"') >= 5 ? now : undefined;
      });
      expect(sumSeries(m, 'skein_messages_total', 'protocol="http"')).toBe(5);
      expect(sumSeries(m, 'skein_message_duration_seconds_count', 'protocol="http"')).toBe(5);
      const byCode = (code: string) => sumSeries(m, 'skein_protocol_errors_total', `code="${code}"`);
      expect(byCode('SKEIN_ERR_HTTP_BAD_REQUEST')).toBe(1);
      expect(byCode('SKEIN_ERR_HTTP_BODY_TOO_LARGE')).toBe(1);
      expect(byCode('SKEIN_ERR_HTTP_URI_TOO_LONG')).toBe(1);
      expect(byCode('SKEIN_ERR_HTTP_HEADERS_TOO_LARGE')).toBe(1);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
