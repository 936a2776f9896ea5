/**
 * The baseline for `bench/websocket.ts`: `ws` on node:http under node:cluster
 * with the same worker count as skein, echoing every message (text as text,
 * binary as binary), as the usual Node WebSocket server is written. Prints one
 * JSON line `{ port, pids }` when every worker listens.
 *
 *   node bench/baselines/ws-cluster.mjs --port 0 --workers 2 [--deflate]
 *
 * `--deflate` turns on ws's permessage-deflate with its defaults (context
 * takeover both ways, zlib on libuv's thread pool).
 */
import cluster from 'node:cluster';
import process from 'node:process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { startClusterPrimary } from './cluster-main.mjs';

if (cluster.isPrimary) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, workers: { type: 'string', default: '2' }, deflate: { type: 'boolean', default: false } } });
  await startClusterPrimary({ port: Number(values.port), workers: Number(values.workers), env: { BASELINE_DEFLATE: values.deflate ? '1' : '' } });
} else {
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('Upgrade Required\n');
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: process.env.BASELINE_DEFLATE === '1' });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  server.listen(Number(process.env.BASELINE_PORT), '127.0.0.1');
}
