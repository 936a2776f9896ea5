/**
 * Baseline for bench/reload-churn.ts and bench/drain-keepalive.ts: the usual bare
 * node:cluster rolling reload. Workers answer each line with `echo LINE`, or with
 * `PROTOCOL=http` they are node:http servers answering as skein's demo `GET /` does. On SIGHUP, for each worker in turn:
 * fork a new one, wait for 'listening', then `old.disconnect()` (close its server,
 * let its connections end, exit). Prints `{"port":N}` when every worker listens.
 */
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { Buffer } from 'node:buffer';
import process from 'node:process';

const WORKERS = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const probe = createServer().listen(0);
  await once(probe, 'listening');
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const fork = () => cluster.fork({ PORT: String(port) });
  const first = Array.from({ length: WORKERS }, fork);
  await Promise.all(first.map((w) => once(w, 'listening')));
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  let reloading = false;
  process.on('SIGHUP', async () => {
    if (reloading) return;
    reloading = true;
    for (const old of Object.values(cluster.workers)) {
      const next = fork();
      await once(next, 'listening');
      old.disconnect();
    }
    reloading = false;
    process.stdout.write('reload complete\n');
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.disconnect();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
    });
  });
} else if (process.env.PROTOCOL === 'http') {
  const body = 'Hello from skein\n';
  createHttpServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(Number(process.env.PORT), '127.0.0.1');
} else {
  createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        socket.write(`echo ${buffer.slice(0, nl)}\n`);
        buffer = buffer.slice(nl + 1);
      }
    });
    socket.on('error', () => {});
  }).listen(Number(process.env.PORT));
}
