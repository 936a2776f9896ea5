/**
 * The floor for `bench/websocket.ts`: what node:net itself costs per echoed WebSocket message, with no
 * framework and no WebSocket rules. NOT a WebSocket server: it answers any first chunk with a canned
 * `101` (no key check), then unmasks each client frame and echoes its payload unmasked, every frame a
 * chunk completes in one write. No UTF-8 check, no control frames, no limits. A server that does the
 * RFC's work cannot be cheaper than this; its ratio to `ws` bounds what any node:net server can reach.
 * Prints one JSON line `{ port, pids }` when every worker listens.
 *
 *   node bench/baselines/net-ws-floor.mjs --port 0 --workers 2
 */
import { Buffer } from 'node:buffer';
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { startClusterPrimary } from './cluster-main.mjs';

if (cluster.isPrimary) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, workers: { type: 'string', default: '2' } } });
  await startClusterPrimary({ port: Number(values.port), workers: Number(values.workers) });
} else {
  const HEAD = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: floor\r\n\r\n');
  createServer({ noDelay: true }, (socket) => {
    let upgraded = false;
    let rest = undefined;
    socket.on('data', (chunk) => {
      if (!upgraded) {
        upgraded = true;
        socket.write(HEAD);
        return;
      }
      const data = rest ? Buffer.concat([rest, chunk]) : chunk;
      rest = undefined;
      const out = [];
      let at = 0;
      while (at + 2 <= data.length) {
        const len7 = data[at + 1] & 0x7f;
        const head = len7 === 126 ? 4 : 2;
        if (at + head + 4 > data.length) break;
        const length = len7 === 126 ? data.readUInt16BE(at + 2) : len7;
        const start = at + head + 4;
        if (start + length > data.length) break;
        const frame = Buffer.allocUnsafe(head + length);
        frame[0] = data[at];
        frame[1] = len7;
        if (head === 4) frame.writeUInt16BE(length, 2);
        for (let i = 0; i < length; i++) frame[head + i] = data[start + i] ^ data[at + head + (i & 3)];
        out.push(frame);
        at = start + length;
      }
      if (at < data.length) rest = data.subarray(at);
      if (out.length === 1) socket.write(out[0]);
      else if (out.length > 1) socket.write(Buffer.concat(out));
    });
    socket.on('error', () => {});
  }).listen(Number(process.env.BASELINE_PORT), '127.0.0.1');
}
