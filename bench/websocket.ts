/**
 * WebSocket benchmark: skein's `ws-echo` against `ws` on node:http under
 * node:cluster, same worker count, in the same run, rounds alternating.
 *
 *   npm run bench:ws -- [--workers 2] [--rounds 3] [--seconds 5] [--warmup 1] [--connections 50]
 *                       [--depths 1,16] [--payload 32] [--idle 10000] [--deflate-connections 500]
 *                       (--idle 0 / --deflate-connections 0 leave those parts out)
 *
 * 1. Echo throughput: bench/native/ws-load.c (C, one thread, closed loop, masked text messages of
 *    --payload bytes, --depths messages in flight per connection) against each server in turn;
 *    messages/s, p50/p99, the generator's CPU and the servers' CPU over each window, split into
 *    user and kernel µs per message. The ratio is the median of the per-round skein/ws ratios (each
 *    round runs every server, order rotating). A third server, the node:net floor
 *    (bench/baselines/net-ws-floor.mjs: a canned 101 and an unmasking echo, no WebSocket rules, not
 *    a WebSocket server), shows what node:net itself costs: floor/ws bounds what any server on
 *    node:net can reach against ws on this machine (--no-floor leaves it out).
 * 2. Idle connections: --idle upgraded WebSockets held open (ws-load -i) on ONE worker; that
 *    worker's RSS before and while they are open.
 * 3. permessage-deflate: --deflate-connections ws clients (in this process) each exchange one
 *    compressed 2 KiB message and stay open; RSS of the server's single worker before and after,
 *    per connection: skein's default (no context takeover, shared zlib contexts), skein with
 *    context takeover both ways, and ws's default (context takeover both ways).
 * Writes bench/results/websocket-<date>.json. A busy host (load average above the core count)
 * is flagged in the output: figures from it compare the two servers, not absolute capacity.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { cpuTimes, readyLine, ROOT, rssBytes, server, startSkein, type BenchServer } from './lib/proc.js';
import { median, MiB, round } from './lib/stats.js';
import { buildWsLoad, runWsLoad, type WsLoadResult } from './lib/ws-load.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    depths: { type: 'string', default: '1,16' },
    payload: { type: 'string', default: '32' },
    idle: { type: 'string', default: '10000' },
    'deflate-connections': { type: 'string', default: '500' },
    'no-floor': { type: 'boolean', default: false },
  },
});
const WORKERS = Number(values.workers);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONNECTIONS = Number(values.connections);
const DEPTHS = values.depths.split(',').map(Number);
const PAYLOAD = Number(values.payload);
const IDLE = count('idle');
const DEFLATE_CONNECTIONS = count('deflate-connections');

/** A count option: a whole number ≥ 0 (0 leaves its part out), else a one-line error naming it. */
function count(name: 'idle' | 'deflate-connections'): number {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`bench:ws: --${name} must be a whole number ≥ 0 (got ${JSON.stringify(values[name])})\n`);
    process.exit(2);
  }
  return n;
}
const BASELINE = join(ROOT, 'bench', 'baselines', 'ws-cluster.mjs');
const FLOOR = join(ROOT, 'bench', 'baselines', 'net-ws-floor.mjs');

async function startWsBaseline(workers: number, deflate = false): Promise<BenchServer> {
  const child = spawn(process.execPath, [BASELINE, '--port', '0', '--workers', String(workers), ...(deflate ? ['--deflate'] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = await readyLine(child, (line) => {
    const parsed = JSON.parse(line) as { port?: number; pids?: number[] };
    return parsed.port ? (parsed as { port: number; pids: number[] }) : undefined;
  });
  return server(`ws on node:http, node:cluster ×${workers}${deflate ? ', permessage-deflate' : ''}`, child, ready.port, ready.pids.slice(1));
}

async function startFloor(workers: number): Promise<BenchServer> {
  const child = spawn(process.execPath, [FLOOR, '--port', '0', '--workers', String(workers)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = await readyLine(child, (line) => {
    const parsed = JSON.parse(line) as { port?: number; pids?: number[] };
    return parsed.port ? (parsed as { port: number; pids: number[] }) : undefined;
  });
  return server(`node:net floor ×${workers}`, child, ready.port, ready.pids.slice(1));
}

/** User and kernel CPU seconds of every process of `s`. */
function serverCpu(s: BenchServer): { user: number; system: number } {
  const total = { user: 0, system: 0 };
  for (const pid of s.allPids) {
    const t = cpuTimes(pid);
    total.user += t.user;
    total.system += t.system;
  }
  return total;
}

type ServerName = 'skein' | 'ws' | 'floor';

interface Cell {
  server: ServerName;
  depth: number;
  round: number;
  load: WsLoadResult;
  /** Server CPU over the window, in cores. */
  serverCores: number;
  /** Server CPU per echoed message over the window, in µs: user space and kernel. */
  userUs: number;
  systemUs: number;
}

async function measure(s: BenchServer, depth: number): Promise<Omit<Cell, 'server' | 'depth' | 'round'>> {
  let cpuAt = { user: 0, system: 0 };
  let cpuEnd = { user: Number.NaN, system: Number.NaN };
  let startedAt = 0;
  let elapsed = Number.NaN;
  const load = await runWsLoad(
    { port: s.port, connections: CONNECTIONS, depth, seconds: SECONDS, warmup: WARMUP, payload: PAYLOAD },
    {
      onStarted: () => {
        cpuAt = serverCpu(s);
        startedAt = performance.now();
      },
      onFinished: () => {
        cpuEnd = serverCpu(s);
        elapsed = (performance.now() - startedAt) / 1000;
      },
    },
  );
  const user = cpuEnd.user - cpuAt.user;
  const system = cpuEnd.system - cpuAt.system;
  const messages = load.throughput * elapsed;
  return { load, serverCores: (user + system) / elapsed, userUs: (user * 1e6) / messages, systemUs: (system * 1e6) / messages };
}

async function throughput(): Promise<Cell[]> {
  const servers: Array<[ServerName, BenchServer]> = [
    ['skein', await startSkein('ws-echo', WORKERS)],
    ['ws', await startWsBaseline(WORKERS)],
    ...(values['no-floor'] ? [] : [['floor', await startFloor(WORKERS)] as [ServerName, BenchServer]]),
  ];
  const cells: Cell[] = [];
  try {
    for (const depth of DEPTHS) {
      for (let r = 0; r < ROUNDS; r++) {
        // Each round runs every server; the order rotates so that none is always first (or always after another).
        const order = servers.map((_, i) => servers[(i + r) % servers.length]!);
        for (const [name, s] of order) {
          const m = await measure(s, depth);
          cells.push({ server: name, depth, round: r, ...m });
          process.stderr.write(`  depth ${depth} round ${r + 1}/${ROUNDS} ${name}: ${Math.round(m.load.throughput)} msg/s, ${round(m.userUs, 2)} + ${round(m.systemUs, 2)} µs/msg, errors ${m.load.errors}\n`);
        }
      }
    }
  } finally {
    for (const [, s] of servers) await s.stop();
  }
  return cells;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RSS of a one-worker server before and while `IDLE` upgraded connections are held open. */
async function idleRss(s: BenchServer): Promise<{ server: string; connections: number; beforeMiB: number; withMiB: number; perConnectionKiB: number }> {
  const pid = s.workerPids[0]!;
  await sleep(1000);
  const before = rssBytes(pid);
  let during = 0;
  await runWsLoad({ port: s.port, connections: IDLE, seconds: 8, idle: true }, {
    onStarted: async () => {
      await sleep(4000);
      during = rssBytes(pid);
    },
  });
  return { server: s.name, connections: IDLE, beforeMiB: round(before / MiB, 1), withMiB: round(during / MiB, 1), perConnectionKiB: round((during - before) / IDLE / 1024, 2) };
}

/** RSS per connection of a one-worker server whose clients each exchanged one compressed message. */
async function deflateRss(s: BenchServer): Promise<{ server: string; connections: number; beforeMiB: number; withMiB: number; perConnectionKiB: number }> {
  const pid = s.workerPids[0]!;
  await sleep(1000);
  const before = rssBytes(pid);
  const text = 'the same words, compressible, '.repeat(70);
  const clients: WebSocket[] = [];
  for (let i = 0; i < DEFLATE_CONNECTIONS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, DEFLATE_CONNECTIONS - i) }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${s.port}/`, { perMessageDeflate: true });
        clients.push(ws);
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        if (!ws.extensions.includes('permessage-deflate')) throw new Error(`${s.name}: permessage-deflate was not negotiated`);
        await new Promise((resolve) => {
          ws.once('message', resolve);
          ws.send(text);
        });
      }),
    );
  }
  await sleep(2000);
  const after = rssBytes(pid);
  for (const ws of clients) ws.terminate();
  return { server: s.name, connections: DEFLATE_CONNECTIONS, beforeMiB: round(before / MiB, 1), withMiB: round(after / MiB, 1), perConnectionKiB: round((after - before) / DEFLATE_CONNECTIONS / 1024, 2) };
}

function table(rows: Array<Record<string, string | number>>): string {
  const keys = Object.keys(rows[0] ?? {});
  return [`| ${keys.join(' | ')} |`, `|${keys.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${keys.map((k) => r[k]).join(' | ')} |`)].join('\n');
}

async function main(): Promise<void> {
  buildWsLoad();
  const load = loadavg();
  const busy = load[0]! > availableParallelism();
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${load.map((l) => l.toFixed(2)).join(' ')}${busy ? ' — BUSY MACHINE: compare the two servers, not the absolute figures' : ''}`;
  process.stderr.write(`bench:ws on ${machine}\n1. echo throughput (${ROUNDS} rounds × ${SECONDS} s per server and depth, ${CONNECTIONS} connections, ${PAYLOAD}-byte text messages)\n`);
  const cells = await throughput();

  const names: ServerName[] = values['no-floor'] ? ['skein', 'ws'] : ['skein', 'ws', 'floor'];
  const label: Record<ServerName, string> = { skein: `skein ws-echo ×${WORKERS}`, ws: `ws on node:http ×${WORKERS}`, floor: `node:net floor ×${WORKERS} (not a WebSocket server)` };
  const summary = DEPTHS.flatMap((depth) => {
    const of = (name: string) => cells.filter((c) => c.depth === depth && c.server === name);
    const ratiosOf = (name: ServerName) =>
      Array.from({ length: ROUNDS }, (_, r) => {
        const a = cells.find((c) => c.depth === depth && c.round === r && c.server === name)!;
        const b = cells.find((c) => c.depth === depth && c.round === r && c.server === 'ws')!;
        return a.load.throughput / b.load.throughput;
      });
    return names.map((name) => {
      const rows = of(name);
      const tput = median(rows.map((c) => c.load.throughput));
      const cores = median(rows.map((c) => c.serverCores));
      const ratios = name === 'ws' ? [] : ratiosOf(name);
      return {
        server: label[name],
        depth,
        'msg/s (median)': Math.round(tput),
        'min–max': `${Math.round(Math.min(...rows.map((c) => c.load.throughput)))}–${Math.round(Math.max(...rows.map((c) => c.load.throughput)))}`,
        'p50 ms': round(median(rows.map((c) => c.load.latencyUs.p50)) / 1000, 2),
        'p99 ms': round(median(rows.map((c) => c.load.latencyUs.p99)) / 1000, 2),
        'server CPU (cores)': round(cores, 2),
        'msg per server CPU-s': Math.round(tput / cores),
        'server µs/msg user + kernel': `${round(median(rows.map((c) => c.userUs)), 2)} + ${round(median(rows.map((c) => c.systemUs)), 2)}`,
        'generator CPU (% of a core)': round(median(rows.map((c) => c.load.cpu.percent)), 1),
        errors: rows.reduce((n, c) => n + c.load.errors, 0),
        '/ws (paired median)': ratios.length > 0 ? round(median(ratios), 2) : '',
        'per-round ratios': ratios.map((r) => round(r, 2)).join(' '),
      };
    });
  });

  process.stderr.write(`2. ${IDLE} idle WebSockets on one worker\n`);
  const idle = [];
  for (const start of IDLE > 0 ? [() => startSkein('ws-echo', 1), () => startWsBaseline(1)] : []) {
    const s = await start();
    try {
      idle.push(await idleRss(s));
    } finally {
      await s.stop();
    }
  }

  process.stderr.write(`3. permessage-deflate: ${DEFLATE_CONNECTIONS} connections, one compressed message each, on one worker\n`);
  const configDir = mkdtempSync(join(tmpdir(), 'skein-bench-ws-'));
  const takeover = join(configDir, 'takeover.json');
  writeFileSync(takeover, JSON.stringify({ services: [{ protocol: 'ws-echo', listen: ['tcp:0'], options: { perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } } }] }));
  const deflate = [];
  const starts: Array<[string, () => Promise<BenchServer>]> = [
    ['skein, default (no context takeover, shared zlib contexts)', () => startSkein('ws-echo', 1, ['--option', 'perMessageDeflate=true'])],
    ['skein, context takeover both ways', () => startSkein('ws-echo', 1, ['--config', takeover])],
    ['ws, default (context takeover both ways)', () => startWsBaseline(1, true)],
  ];
  for (const [label, start] of DEFLATE_CONNECTIONS > 0 ? starts : []) {
    const s = await start();
    try {
      deflate.push({ ...(await deflateRss(s)), server: label });
    } finally {
      await s.stop();
    }
  }

  const out = [
    `WebSocket echo, skein vs ws on node:http (same worker count), ${machine}`,
    `Load: bench/native/ws-load.c, 1 thread, ${CONNECTIONS} connections, ${PAYLOAD}-byte masked text messages, closed loop (coordinated omission applies).`,
    '',
    table(summary),
    '',
    `Idle: ${IDLE} upgraded WebSockets held by ONE worker (ws-load -i); worker RSS (VmRSS) before and while open.`,
    '',
    table(idle.map((r) => ({ server: r.server, connections: r.connections, 'worker RSS before (MiB)': r.beforeMiB, 'worker RSS with them (MiB)': r.withMiB, 'KiB per connection': r.perConnectionKiB }))),
    '',
    `permessage-deflate: ${DEFLATE_CONNECTIONS} ws clients, each one compressed 2 KiB exchange, left open; the single worker's RSS.`,
    '',
    table(deflate.map((r) => ({ server: r.server, connections: r.connections, 'worker RSS before (MiB)': r.beforeMiB, 'worker RSS with them (MiB)': r.withMiB, 'KiB per connection': r.perConnectionKiB }))),
  ].join('\n');
  process.stdout.write(`${out}\n`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `websocket-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ command: `npm run bench:ws -- ${process.argv.slice(2).join(' ')}`.trim(), machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadAverage: load, busy }, options: values, summary, cells, idle, deflate }, null, 2),
  );
  process.stdout.write(`\nwrote ${file}\n`);
}

await main();
