/**
 * Issue 15, case 2: `lines` clients that each write 64 KiB of `\n` once (65,536
 * one-byte frames) and never read their replies. The worker stops delivering
 * frames once the unread replies pass the high-water mark, so what it holds per
 * connection stays near the mark, not one reply per frame. Before the fix, 16
 * such clients grew the worker by about 400 MiB (25 MiB each); now by under 20 MiB.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { startServer } from './helpers/server.js';

const CLIENTS = 16;
const SENT = 64 * 1024;

/** The worker's resident set size in bytes, from /proc. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

describe.skipIf(process.platform !== 'linux')('clients that send tiny frames and never read (issue 15, case 2)', () => {
  it(`lines: ${CLIENTS} clients × 64 KiB of \\n grow the worker by at most 4 MiB each, and a probe is still answered`, async () => {
    const server = await startServer(['lines', '--port', '0', '--workers', '1', '--metrics-port', '0']);
    const pid = server.pids[0]!;
    const sockets: Socket[] = [];
    try {
      const probe = await connectClient(server.port);
      probe.write('warm\n');
      await probe.waitFor((t) => t.endsWith('Processed: warm\r\n'));
      const before = rss(pid);
      for (let i = 0; i < CLIENTS; i++) {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.pause(); // never reads a reply
        socket.write(Buffer.alloc(SENT, '\n'));
        sockets.push(socket);
      }
      // Another client of the same worker is served meanwhile.
      probe.write('probe\n');
      await probe.waitFor((t) => t.endsWith('Processed: probe\r\n'), 30_000);
      // The worker's peak over the next 60 samples (a bounded window to look in, not a timing assertion).
      let peak = before;
      for (let i = 0; i < 60; i++) {
        peak = Math.max(peak, rss(pid));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(peak - before).toBeLessThan(CLIENTS * 4 * 1024 * 1024);
      probe.end();
    } finally {
      for (const socket of sockets) socket.destroy();
      expect(await server.stop()).toBe(0);
    }
  });
});
