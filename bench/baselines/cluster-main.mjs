/**
 * The node:cluster primary the baselines share (net-ws-floor.mjs, ws-cluster.mjs,
 * node-http-cluster.ts): picks the one port every worker binds (`port` 0: a free
 * one, probed here), forks `workers` workers with `env` plus BASELINE_PORT (a
 * worker listens on 127.0.0.1:BASELINE_PORT), prints one JSON line
 * `{ port, pids }` (the primary's pid first) when every worker listens, and on
 * SIGTERM or SIGINT kills the workers and exits.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import process from 'node:process';

/**
 * @param {{ port: number, workers: number, env?: Record<string, string>, schedulingPolicy?: number }} options
 *   `schedulingPolicy`: cluster.SCHED_RR (the default) or cluster.SCHED_NONE.
 */
export async function startClusterPrimary({ port, workers, env = {}, schedulingPolicy = cluster.SCHED_RR }) {
  // Read once, before the first fork.
  cluster.schedulingPolicy = schedulingPolicy;
  if (port === 0) {
    // Workers must share one port: pick it here so every worker binds the same one.
    const probe = createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
  }
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork({ ...env, BASELINE_PORT: String(port) }).on('listening', () => {
      if (++listening === workers) {
        process.stdout.write(`${JSON.stringify({ port, pids: [process.pid, ...Object.values(cluster.workers ?? {}).map((w) => w.process.pid)] })}\n`);
      }
    });
  }
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
