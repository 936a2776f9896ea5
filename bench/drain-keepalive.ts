/**
 * Requests lost to a rolling reload and to a shutdown, with keep-alive HTTP
 * clients: skein's `http` against node:http under node:cluster (the usual
 * reload recipe, bench/baselines/cluster-reload.mjs with PROTOCOL=http), 2 workers each.
 *
 * CONNS closed-loop clients each send `GET /` on a keep-alive connection, read
 * the response, and send the next at once. A connection closed by the server
 * (after `Connection: close`, or while idle) is replaced by a new one; a
 * request written on a connection that closes before its response is
 * "sent and unanswered" (the client does not retry). Phase 1: 5 reloads
 * (SIGHUP, waiting for each to complete); phase 2: SIGTERM under load.
 *
 *   npm run build && node --import tsx bench/drain-keepalive.ts      (env: CONNS=32)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { keepAliveLoad, type KeepAliveCounts } from '../test/helpers/keepalive.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONNS = Number(process.env.CONNS ?? 32);
const RELOADS = 5;
type Counts = KeepAliveCounts;

const TARGETS = {
  skein: [`${ROOT}dist/cli.js`, 'serve', 'http', '--port', '0', '--workers', '2', '--metrics-port', '0'],
  'node:http cluster': [`${ROOT}bench/baselines/cluster-reload.mjs`],
} as const;

async function start(args: readonly string[]): Promise<{ child: ChildProcess; port: number; reloads: () => number }> {
  const env = { ...process.env, SKEIN_LOG_LEVEL: 'info', PROTOCOL: 'http' };
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env });
  let reloads = 0;
  let tail = '';
  let port: number | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (tail + chunk.toString()).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('reload complete')) reloads++;
      if (port === undefined) {
        try {
          const parsed = JSON.parse(line) as { port?: number; msg?: string; endpoints?: Array<{ port: number }> };
          if (parsed.port !== undefined) port = parsed.port;
          else if (parsed.msg?.startsWith('skein ready')) port = parsed.endpoints![0]!.port;
        } catch {
          /* not JSON */
        }
      }
    }
  });
  const deadline = Date.now() + 30_000;
  while (port === undefined) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${args.join(' ')} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, reloads: () => reloads };
}

async function reloads(name: keyof typeof TARGETS): Promise<Counts> {
  const server = await start(TARGETS[name]);
  const clients = keepAliveLoad(server.port, CONNS);
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 1; i <= RELOADS; i++) {
      server.child.kill('SIGHUP');
      const deadline = Date.now() + 60_000;
      while (server.reloads() < i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    await clients.stop();
    return clients.counts;
  } finally {
    server.child.kill('SIGKILL');
  }
}

async function shutdown(name: keyof typeof TARGETS): Promise<Counts> {
  const server = await start(TARGETS[name]);
  const clients = keepAliveLoad(server.port, CONNS);
  await new Promise((r) => setTimeout(r, 1000));
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
  await clients.stop();
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
  return clients.counts;
}

const rows: Array<{ target: string; phase: string } & Counts> = [];
console.log(`drain-keepalive: ${CONNS} keep-alive clients, ${RELOADS} reloads, then SIGTERM; ${availableParallelism()} cores, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`);
for (const name of Object.keys(TARGETS) as Array<keyof typeof TARGETS>) {
  for (const [phase, run] of [
    [`${RELOADS} reloads`, reloads],
    ['SIGTERM', shutdown],
  ] as const) {
    const counts = await run(name);
    rows.push({ target: name, phase, ...counts });
    console.log(
      `${name.padEnd(18)} ${phase.padEnd(10)} sent ${counts.sent}, answered ${counts.answered}, sent and unanswered ${counts.unanswered} (${counts.unansweredFirst} of them first on a new connection), Connection: close ${counts.connectionClose}, connections ${counts.connections}`,
    );
  }
}
const md = [
  '| server | phase | requests sent | answered | sent and unanswered | of which first on a new connection | responses with `Connection: close` |',
  '|---|---|---|---|---|---|---|',
];
for (const r of rows) md.push(`| ${r.target} | ${r.phase} | ${r.sent} | ${r.answered} | ${r.unanswered} | ${r.unansweredFirst} | ${r.connectionClose} |`);
console.log(`\n${md.join('\n')}`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(new URL(`./results/drain-keepalive-${stamp}.json`, import.meta.url), `${JSON.stringify({ bench: 'drain-keepalive', conns: CONNS, machine: { cores: availableParallelism(), node: process.version }, rows }, null, 2)}\n`);
