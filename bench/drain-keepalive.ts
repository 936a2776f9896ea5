/**
 * Requests lost to a rolling reload and to a shutdown, with keep-alive HTTP
 * clients: skein's `http` against node:http under node:cluster (the usual
 * reload recipe, bench/baselines/node-http-reload.mjs), 2 workers each.
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
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONNS = Number(process.env.CONNS ?? 32);
const RELOADS = 5;
const REQUEST = 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n';

interface Counts {
  sent: number;
  answered: number;
  unanswered: number;
  connectionClose: number;
  connections: number;
}

const TARGETS = {
  skein: [`${ROOT}dist/cli.js`, 'serve', 'http', '--port', '0', '--workers', '2', '--metrics-port', '0'],
  'node:http cluster': [`${ROOT}bench/baselines/node-http-reload.mjs`],
} as const;

async function start(args: readonly string[]): Promise<{ child: ChildProcess; port: number; reloads: () => number }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SKEIN_LOG_LEVEL: 'info' } });
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

/** Closed-loop keep-alive clients until `stop()`; counts what the server answered. */
function load(port: number) {
  const counts: Counts = { sent: 0, answered: 0, unanswered: 0, connectionClose: 0, connections: 0 };
  let stopped = false;
  const sockets = new Set<Socket>();
  const loop = () => {
    if (stopped) return;
    const socket = connect({ port, host: '127.0.0.1' });
    sockets.add(socket);
    let waiting = false;
    let text = '';
    let refused = false;
    socket.on('error', (e: NodeJS.ErrnoException) => (refused = e.code === 'ECONNREFUSED'));
    const send = () => {
      if (stopped) return void socket.end();
      waiting = true;
      text = '';
      counts.sent++;
      socket.write(REQUEST);
    };
    socket.on('connect', () => {
      counts.connections++;
      send();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
      if (text.length < head + 4 + length) return;
      waiting = false;
      counts.answered++;
      if (/\r\nconnection: *close\r\n/i.test(text.slice(0, head + 2))) {
        counts.connectionClose++;
        socket.end();
        return;
      }
      send();
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (waiting) counts.unanswered++;
      // A server that refuses new connections (shut down) ends this client.
      if (!refused) setImmediate(loop);
    });
  };
  for (let i = 0; i < CONNS; i++) loop();
  return {
    counts,
    async stop() {
      stopped = true;
      const deadline = Date.now() + 5000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sockets) s.destroy();
    },
  };
}

async function reloads(name: keyof typeof TARGETS): Promise<Counts> {
  const server = await start(TARGETS[name]);
  const clients = load(server.port);
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
  const clients = load(server.port);
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
    console.log(`${name.padEnd(18)} ${phase.padEnd(10)} sent ${counts.sent}, answered ${counts.answered}, sent and unanswered ${counts.unanswered}, Connection: close ${counts.connectionClose}, connections ${counts.connections}`);
  }
}
const md = ['| server | phase | requests sent | answered | sent and unanswered | responses with `Connection: close` |', '|---|---|---|---|---|---|'];
for (const r of rows) md.push(`| ${r.target} | ${r.phase} | ${r.sent} | ${r.answered} | ${r.unanswered} | ${r.connectionClose} |`);
console.log(`\n${md.join('\n')}`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(new URL(`./results/drain-keepalive-${stamp}.json`, import.meta.url), `${JSON.stringify({ bench: 'drain-keepalive', conns: CONNS, machine: { cores: availableParallelism(), node: process.version }, rows }, null, 2)}\n`);
