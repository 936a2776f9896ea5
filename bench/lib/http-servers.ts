/**
 * The HTTP servers of the bench, each answering `GET /` with the same bytes
 * ("Hello from skein\n", text/plain; charset=utf-8): skein's `http`, node:http
 * under node:cluster (round-robin, or SCHED_NONE where the workers accept), and
 * nginx with the same worker count (bench/baselines/nginx.conf).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, readyLine, ROOT, server, type BenchServer } from './proc.js';

const NODE_HTTP = fileURLToPath(new URL('../baselines/node-http-cluster.ts', import.meta.url));
const NGINX_CONF = fileURLToPath(new URL('../baselines/nginx.conf', import.meta.url));

/** node:http under node:cluster; `sched: 'none'` lets the workers accept themselves. */
export async function startNodeHttp(workers: number, sched: 'rr' | 'none' = 'rr'): Promise<BenchServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_HTTP, '--port', '0', '--workers', String(workers), '--sched', sched], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await readyLine(child, (line) => JSON.parse(line) as { port: number; pids: number[] });
  return server(`node:http ×${workers}${sched === 'none' ? ' SCHED_NONE' : ''}`, child, ready.port, ready.pids.slice(1));
}

/** The pids of `pid`'s children (from /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** nginx with `workers` worker processes, in a temporary prefix (its config, pid, logs), not daemonised. */
export async function startNginx(workers: number): Promise<BenchServer> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'skein-bench-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  writeFileSync(join(prefix, 'nginx.conf'), readFileSync(NGINX_CONF, 'utf8').replaceAll('__WORKERS__', String(workers)).replaceAll('__PORT__', String(port)));
  const binary = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const child = spawn(binary, ['-p', `${prefix}/`, '-c', 'nginx.conf', '-e', 'error.log'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // Ready when every worker runs and the port answers.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}${readSafe(join(prefix, 'error.log'))}`);
    if (childrenOf(child.pid!).length >= workers && (await answers(port))) break;
    if (i > 200) throw new Error(`nginx not ready after 10 s: ${stderr}${readSafe(join(prefix, 'error.log'))}`);
    await sleep(50);
  }
  const base = server(`nginx ×${workers}`, child, port, childrenOf(child.pid!));
  return {
    ...base,
    async stop() {
      await base.stop();
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function readSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/`)).ok;
  } catch {
    return false;
  }
}
