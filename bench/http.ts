/**
 * `npm run bench:http`: skein's `http` protocol against node:http, same run,
 * same machine, same worker count, alternating rounds.
 *
 * Starts `skein serve http` (the built CLI, N workers) and node:http under
 * node:cluster with N workers (bench/baselines/node-http-cluster.ts), then for
 * each pipeline depth runs autocannon (as a library, in worker threads) and,
 * when installed, wrk against each server in turn (A B, then B A, …). Prints
 * the median req/s, p50/p99 latency, the ratio skein/node:http, and the load
 * generator's own CPU and the servers' CPU; writes bench/results/http-<date>.json.
 *
 *   npm run bench:http -- --workers 2 --rounds 3 --duration 5
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baselines/node-http-cluster.ts', import.meta.url));

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: String(availableParallelism()) },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    pipelining: { type: 'string', default: '1,10' },
    'autocannon-workers': { type: 'string', default: String(Math.min(2, availableParallelism())) },
    tools: { type: 'string', default: 'autocannon,wrk' },
  },
});
const WORKERS = Number(values.workers);
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const DEPTHS = values.pipelining!.split(',').map(Number);
const AC_WORKERS = Number(values['autocannon-workers']);
const TICK = 100; // USER_HZ of /proc/PID/stat times (Linux default)

interface Server {
  readonly name: 'skein' | 'node:http';
  readonly port: number;
  readonly pids: number[];
  readonly child: ChildProcess;
}

interface Sample {
  tool: string;
  pipelining: number;
  server: string;
  round: number;
  rps: number;
  p50: number; // ms
  p99: number; // ms
  errors: number;
  non2xx: number;
  /** CPU of the load generator, in cores (1.0 = one core busy). */
  loadCpu: number;
  /** CPU of the server's processes, in cores. */
  serverCpu: number;
}

/** Starts a process and resolves with the first stdout line that `match` accepts. */
async function startProcess(args: string[], match: (line: string) => unknown): Promise<{ child: ChildProcess; line: unknown }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SKEIN_LOG_LEVEL: 'info' } });
  let buffered = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const found = match(text);
        if (found) resolve({ child, line: found });
      }
    });
  });
}

async function startSkein(): Promise<Server> {
  const { child, line } = await startProcess([CLI, 'serve', 'http', '--port', '0', '--workers', String(WORKERS), '--metrics-port', '0'], (text) => {
    try {
      const log = JSON.parse(text) as { msg?: string; endpoints?: Array<{ port: number }>; pids?: number[] };
      return log.msg?.startsWith('skein ready') ? log : undefined;
    } catch {
      return undefined;
    }
  });
  const ready = line as { endpoints: Array<{ port: number }>; pids: number[] };
  return { name: 'skein', port: ready.endpoints[0]!.port, pids: [child.pid!, ...ready.pids], child };
}

async function startNode(): Promise<Server> {
  const { child, line } = await startProcess(['--import', 'tsx', BASELINE, '--port', '0', '--workers', String(WORKERS)], (text) => {
    try {
      return JSON.parse(text) as { port: number; pids: number[] };
    } catch {
      return undefined;
    }
  });
  const ready = line as { port: number; pids: number[] };
  return { name: 'node:http', port: ready.port, pids: ready.pids, child };
}

/** utime + stime of `pids`, in seconds. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // process gone
    }
  }
  return ticks / TICK;
}

async function runAutocannon(server: Server, pipelining: number, round: number): Promise<Sample> {
  const cpuBefore = process.cpuUsage();
  const serverBefore = cpuSeconds(server.pids);
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/`,
    connections: CONNECTIONS,
    pipelining,
    duration: DURATION,
    ...(AC_WORKERS > 1 ? { workers: AC_WORKERS } : {}),
  });
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    tool: `autocannon${AC_WORKERS > 1 ? ` (${AC_WORKERS} threads)` : ''}`,
    pipelining,
    server: server.name,
    round,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    loadCpu: (cpu.user + cpu.system) / 1e6 / wall,
    serverCpu: (cpuSeconds(server.pids) - serverBefore) / wall,
  };
}

const PIPELINE_LUA = fileURLToPath(new URL('./wrk-pipeline.lua', import.meta.url));

function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/** Runs wrk under a shell that reports its children's CPU (cutime + cstime) once wrk has exited. */
async function runWrk(server: Server, pipelining: number, round: number): Promise<Sample> {
  const threads = Math.min(2, availableParallelism());
  const script = pipelining > 1 ? `-s ${PIPELINE_LUA}` : '';
  const cmd = `PIPELINE=${pipelining} wrk -t${threads} -c${CONNECTIONS} -d${DURATION}s --latency ${script} http://127.0.0.1:${server.port}/; echo; echo CHILD_CPU $(cut -d' ' -f16,17 /proc/$$/stat)`;
  const serverBefore = cpuSeconds(server.pids);
  const started = performance.now();
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await once(child, 'exit');
  const wall = (performance.now() - started) / 1000;
  const serverCpu = (cpuSeconds(server.pids) - serverBefore) / wall;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const childCpu = /CHILD_CPU (\d+) (\d+)/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    tool: 'wrk',
    pipelining,
    server: server.name,
    round,
    rps,
    p50: wrkLatency(out, '50%'),
    p99: wrkLatency(out, '99%'),
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    loadCpu: childCpu ? (Number(childCpu[1]) + Number(childCpu[2])) / TICK / wall : NaN,
    serverCpu,
  };
}

/** A latency percentile from wrk's `--latency` table, in ms. */
function wrkLatency(out: string, label: string): number {
  const m = new RegExp(`\\s${label.replace('%', '%')}\\s+([\\d.]+)(us|ms|s)`).exec(out);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  const tools = values.tools!.split(',').filter((t) => t !== 'wrk' || hasWrk());
  if (values.tools!.includes('wrk') && !tools.includes('wrk')) console.log('wrk not installed (apt-get install -y wrk): autocannon only');
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, workers: WORKERS };
  console.log(`machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}; ${WORKERS} server workers each; ${CONNECTIONS} connections, ${DURATION} s x ${ROUNDS} rounds`);
  const skein = await startSkein();
  const node = await startNode();
  const samples: Sample[] = [];
  try {
    for (const tool of tools) {
      for (const depth of DEPTHS) {
        for (let round = 0; round < ROUNDS; round++) {
          // Alternate who goes first, so drift on a shared machine hits both.
          const order = round % 2 === 0 ? [skein, node] : [node, skein];
          for (const server of order) {
            const sample = tool === 'wrk' ? await runWrk(server, depth, round) : await runAutocannon(server, depth, round);
            samples.push(sample);
            console.log(
              `  ${sample.tool} -p ${depth} round ${round + 1} ${server.name.padEnd(9)} ${fmt(sample.rps).padStart(8)} req/s  p50 ${fmt(sample.p50, 2)} ms  p99 ${fmt(sample.p99, 2)} ms  load CPU ${fmt(sample.loadCpu, 2)}  server CPU ${fmt(sample.serverCpu, 2)}${sample.errors || sample.non2xx ? `  errors ${sample.errors} non2xx ${sample.non2xx}` : ''}`,
            );
          }
        }
      }
    }
  } finally {
    skein.child.kill('SIGTERM');
    node.child.kill('SIGTERM');
  }
  const rows: Array<Record<string, string | number>> = [];
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.tool}|${s.pipelining}|${s.server}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const tool of new Set(samples.map((s) => s.tool))) {
    for (const depth of DEPTHS) {
      const pick = (server: string) => groups.get(`${tool}|${depth}|${server}`) ?? [];
      const sk = pick('skein');
      const nd = pick('node:http');
      if (sk.length === 0 || nd.length === 0) continue;
      const stat = (ss: Sample[], f: (s: Sample) => number) => median(ss.map(f));
      const skRps = stat(sk, (s) => s.rps);
      const ndRps = stat(nd, (s) => s.rps);
      // Each round ran skein and node:http back to back: the median of those paired ratios resists drift.
      const paired = median(sk.map((s) => s.rps / (nd.find((n) => n.round === s.round)?.rps ?? NaN)).filter(Number.isFinite));
      for (const [server, ss] of [['skein', sk], ['node:http', nd]] as const) {
        rows.push({
          tool,
          pipelining: depth,
          server,
          'req/s (median)': Math.round(stat(ss, (s) => s.rps)),
          'p50 ms': Number(stat(ss, (s) => s.p50).toFixed(2)),
          'p99 ms': Number(stat(ss, (s) => s.p99).toFixed(2)),
          'load-gen CPU': Number(stat(ss, (s) => s.loadCpu).toFixed(2)),
          'server CPU': Number(stat(ss, (s) => s.serverCpu).toFixed(2)),
          'req per server CPU-s': Math.round(stat(ss, (s) => s.rps / s.serverCpu)),
          'skein/node': server === 'skein' ? Number((skRps / ndRps).toFixed(2)) : '',
          'paired ratio': server === 'skein' ? Number(paired.toFixed(2)) : '',
        });
      }
    }
  }
  console.log('\nmedians (CPU in cores: 1.00 = one core busy)');
  console.table(rows);
  console.log('\nmarkdown:\n');
  const headers = Object.keys(rows[0] ?? {});
  console.log(`| ${headers.join(' | ')} |\n|${headers.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${headers.map((h) => r[h]).join(' | ')} |`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify({ machine, options: { rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, depths: DEPTHS, autocannonWorkers: AC_WORKERS }, summary: rows, samples }, null, 2)}\n`);
  console.log(`\nwrote ${fileURLToPath(file)}`);
}

await main();
