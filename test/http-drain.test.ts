/**
 * Issue 15, case 7: during rolling reloads and a shutdown, keep-alive HTTP
 * clients lose no request: every request already received is answered, the
 * last responses say `Connection: close`, idle connections close between requests.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { keepAliveLoad } from './helpers/keepalive.js';
import { startServer } from './helpers/server.js';

describe('http: drain and reload under keep-alive load', () => {
  it('answers every request sent during 2 reloads and a SIGTERM, marking the last responses Connection: close', async () => {
    const server = await startServer(['http', '--port', '0', '--workers', '2', '--metrics-port', '0']);
    const load = keepAliveLoad(server.port, 8);
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 1; i <= 2; i++) {
        process.kill(server.child.pid!, 'SIGHUP');
        await server.waitForLog((l) => String(l.msg).startsWith('reload complete') && server.logs.filter((x) => String(x.msg).startsWith('reload complete')).length >= i, 60_000);
      }
      const afterReloads = { ...load.counts };
      expect(afterReloads.unanswered).toBe(0); // the port stays open through a reload: nothing at all is lost
      expect(afterReloads.connectionClose).toBeGreaterThanOrEqual(8); // each old worker's connections were told
      const exited = once(server.child, 'exit');
      server.child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
      await load.stop();
      // No request on a kept-alive connection is lost. A new connection that the kernel
      // completed just as the port closed can lose its first request (TCP: nobody accepted it).
      expect(load.counts.unanswered - load.counts.unansweredFirst).toBe(0);
      expect(load.counts.connectionClose).toBeGreaterThan(afterReloads.connectionClose);
    } finally {
      await load.stop();
      await server.stop();
    }
  });
});
