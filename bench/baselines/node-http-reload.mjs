/**
 * Baseline for bench/drain-keepalive.ts: node:http under node:cluster with the
 * usual rolling reload. Workers answer `GET /` as skein's demo does. On SIGHUP,
 * for each worker in turn: fork a new one, wait for 'listening', then
 * `old.disconnect()` (its server closes: Node closes idle keep-alive
 * connections and lets in-flight requests finish). SIGTERM disconnects every
 * worker and exits when they are gone. Prints `{"port":N}` when every worker listens.
 */
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import process from 'node:process';

const WORKERS = Number(process.env.WORKERS ?? 2);
const BODY = 'Hello from skein\n';

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const probe = createNetServer().listen(0, '127.0.0.1');
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
} else {
  createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(BODY) });
    res.end(BODY);
  }).listen(Number(process.env.PORT), '127.0.0.1');
}
