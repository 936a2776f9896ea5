/**
 * The baseline for `bench/http.ts`: node:http under node:cluster with the same
 * worker count as skein, answering `GET /` with the same bytes as skein's demo
 * route (status, headers, body), and `POST /process` as skein's demo does:
 * the whole body read (up to 1 MiB, as skein's default `maxBodySize`; 413
 * beyond), then answered `Processed: ` + body (here inline, not on a pool).
 * Prints one JSON line `{ port, pids }` when every worker listens.
 *
 *   node --import tsx bench/baselines/node-http-cluster.ts --port 0 --workers 2 [--sched rr|none]
 *
 * `--sched none` is node:cluster's SCHED_NONE: every worker accepts from the
 * shared listening socket itself (the kernel picks one), instead of the primary
 * accepting and handing each connection over IPC (SCHED_RR, node's default on Linux).
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { startClusterPrimary } from './cluster-main.mjs';

const BODY = 'Hello from skein\n';
const PREFIX = Buffer.from('Processed: ');
const MAX_BODY = 1024 * 1024;

if (cluster.isPrimary) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, workers: { type: 'string', default: '2' }, sched: { type: 'string', default: 'rr' } },
  });
  if (values.sched !== 'rr' && values.sched !== 'none') throw new TypeError(`--sched must be rr or none, got ${values.sched}`);
  await startClusterPrimary({
    port: Number(values.port),
    workers: Number(values.workers),
    schedulingPolicy: values.sched === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR,
  });
} else {
  createServer((req, res) => {
    if (req.url === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(BODY) });
      res.end(BODY);
    } else if (req.url === '/process' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          res.writeHead(413, { Connection: 'close' }).end();
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        const out = Buffer.concat([PREFIX, ...chunks]);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': out.length });
        res.end(out);
      });
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not Found\n');
    }
  }).listen(Number(process.env.BASELINE_PORT), '127.0.0.1');
}
