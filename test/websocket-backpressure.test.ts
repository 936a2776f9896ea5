import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';
import { clientFrame, upgradeRequest } from './helpers/websocket.js';

describe('WebSocket backpressure: a client that sends but never reads', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer(['ws-echo', '--port', '0', '--workers', '1', '--metrics-port', String(await freePort())]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('stops being read once its unread echoes pass the high-water mark, and the worker stays up', async () => {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(upgradeRequest());
    // Never read: the echoes pile up in the kernel buffers, then in the worker's, which must stop reading.
    socket.pause();
    const frame = clientFrame(2, Buffer.alloc(60 * 1024, 7));
    const total = 64 * 1024 * 1024;
    let sent = 0;
    const deadline = Date.now() + 20_000;
    while (sent < total && Date.now() < deadline) {
      if (!socket.write(frame)) {
        // Wait for room, but not forever: a server that stopped reading never makes room.
        const drained = await Promise.race([once(socket, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
        if (!drained) break;
      }
      sent += frame.length;
    }
    const received = await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      const bytes = sumSeries(m, 'skein_bytes_received_total', 'protocol="ws-echo"');
      // Settled: what the worker read no longer grows.
      await new Promise((r) => setTimeout(r, 500));
      const again = sumSeries(await scrape(server.metricsPort!), 'skein_bytes_received_total', 'protocol="ws-echo"');
      return again === bytes && bytes > 0 ? bytes : undefined;
    });
    expect(sent).toBeGreaterThan(received);
    // The kernel buffers on loopback hold some megabytes; the worker itself holds about its high-water mark.
    expect(received).toBeLessThan(48 * 1024 * 1024);
    const m = await scrape(server.metricsPort!);
    expect(sumSeries(m, 'skein_worker_restarts_total')).toBe(0);
    socket.destroy();
  });
});
