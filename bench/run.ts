/**
 * `npm run bench`: the whole benchmark suite in one run (about 15 minutes on 2 cores;
 * `QUICK=1 npm run bench` or `-- --quick` for a smoke run of a minute or two).
 *
 *   npm run bench [-- --quick] [--rounds N] [--seconds S] [--sweep 1,50] [--connections N]
 *                 [--pipeline N] [--busy 50x1,16x16] [--capacity N] [--soak-messages N] [--soak-warmup N]
 *                 [--soak-connections N] [--skip throughput,http,scrape,offload,capacity,soak] [--no-build]
 *
 * Load generators are native: bench/native/line-load.c (compiled here with cc -O2) for
 * the TCP protocols, wrk (one thread per core) for HTTP; `apt-get install -y wrk nginx`.
 * 1. throughput: `processed` and `lines` on skein with 1 and N workers against the same
 *    protocol hand-written on node:net (single process / node:cluster ×N), alternating,
 *    several rounds; `lines` ×N also beside a CPU-bound neighbour (bench/throughput.ts);
 * 2. HTTP: skein against node:http (node:cluster) and nginx, keep-alive and
 *    `Connection: close` (bench/http.ts);
 * 3. a scrape of /metrics while a worker is stopped (bench/scrape.ts);
 * 4. bench/offload.ts;
 * 5. connection capacity and RSS per idle connection (bench/capacity.ts);
 * 6. a soak with the worker's RSS sampled (bench/soak.ts).
 * Writes bench/results/<date>.json, bench/results/<date>.md and the charts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCapacity } from './capacity.js';
import { runHttp } from './http.js';
import { buildLineLoad, INSTALL_HINT, missingHttpTools } from './lib/native.js';
import { ROOT } from './lib/proc.js';
import { MiB, round } from './lib/stats.js';
import { renderMarkdown, writeCharts, type BenchReport, type HookResult } from './report.js';
import { runScrape } from './scrape.js';
import { runSoak } from './soak.js';
import { runThroughput } from './throughput.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    sweep: { type: 'string' },
    connections: { type: 'string' },
    pipeline: { type: 'string' },
    busy: { type: 'string' },
    capacity: { type: 'string' },
    'soak-messages': { type: 'string' },
    'soak-connections': { type: 'string' },
    'soak-warmup': { type: 'string' },
    skip: { type: 'string' },
    'no-build': { type: 'boolean' },
  },
});
const quick = values.quick === true || process.env.QUICK === '1';
const num = (raw: string | undefined, normal: number, fast: number) => (raw !== undefined ? Number(raw) : quick ? fast : normal);
const settings = {
  rounds: num(values.rounds, 5, 1),
  seconds: num(values.seconds, 2, 1),
  sweep: (values.sweep ?? '1,50').split(',').map(Number),
  connections: num(values.connections, 16, 16),
  pipeline: num(values.pipeline, 16, 16),
  /** Cells (connections x depth) of `lines` ×N also measured beside a busy neighbour. */
  busy: (values.busy ?? '50x1,16x16').split(',').filter(Boolean).map((cell) => cell.split('x').map(Number) as [number, number]),
  httpRounds: num(values.rounds, 5, 1),
  httpSeconds: num(values.seconds, 3, 1),
  capacity: num(values.capacity, 10_000, 2_000),
  soakMessages: num(values['soak-messages'], 5_000_000, 200_000),
  scrapeRounds: num(undefined, 5, 2),
  soakConnections: num(values['soak-connections'], 32, 16),
  soakWarmup: num(values['soak-warmup'], 1_000_000, 50_000),
};
const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Each idle connection in the capacity run costs the bench process one descriptor: raise the soft limit once, by re-running under `ulimit -n`. */
function ensureFileLimit(needed: number): void {
  if (skip.has('capacity') || process.env.SKEIN_BENCH_ULIMIT) return;
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (!(soft < needed)) return;
  const hardText = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const hard = hardText === 'unlimited' ? 1 << 20 : Number(hardText);
  if (hard < needed) {
    log(`warning: ulimit -n is ${soft} (hard ${hard}); the capacity run needs ${needed}: lower --capacity or raise the hard limit`);
    return;
  }
  log(`raising ulimit -n from ${soft} to ${Math.min(hard, 65536)} for the capacity run`);
  const child = spawnSync('sh', ['-c', `ulimit -n ${Math.min(hard, 65536)} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, SKEIN_BENCH_ULIMIT: '1' },
  });
  process.exit(child.status ?? 1);
}

/** Runs bench/NAME.ts if another part of skein provides it, and keeps what it reports. */
async function runHook(name: string): Promise<HookResult | undefined> {
  const file = join(ROOT, 'bench', `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const out = join(ROOT, 'bench', 'results', `.${name}-latest.json`);
  const started = Date.now();
  log(`\n== bench/${name}.ts`);
  // Options reach the hook through the environment only: its own flags are its business.
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...(quick ? ['--quick'] : [])], {
    cwd: ROOT,
    env: { ...process.env, SKEIN_BENCH_JSON: out, ...(quick ? { SKEIN_BENCH_QUICK: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => {
    output += c.toString();
    process.stderr.write(c);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The hook's JSON: the file we asked for, else the newest results file it wrote that names it.
  let json: unknown;
  const dir = join(ROOT, 'bench', 'results');
  const written = existsSync(out)
    ? out
    : readdirSync(dir)
        .filter((f) => f.includes(name) && f.endsWith('.json'))
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).mtimeMs >= started)
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (written) json = JSON.parse(readFileSync(written, 'utf8'));
  return { name, exitCode: code, outputTail: output.trim().split('\n').slice(-40).join('\n'), ...(json !== undefined ? { json } : {}) };
}

function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: round(totalmem() / 1024 / MiB, 1),
    node: process.version,
    kernel: release(),
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
  };
}

async function main(): Promise<void> {
  ensureFileLimit(settings.capacity + 2000);
  buildLineLoad();
  if (!skip.has('http') && missingHttpTools().length > 0) {
    log(`wrk and nginx are needed for the HTTP part (${missingHttpTools().join(', ')} missing): ${INSTALL_HINT}; or --skip http`);
    process.exit(2);
  }
  if (!values['no-build']) {
    log('building (npm run build)…');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const started = new Date();
  const report: BenchReport = {
    date: started.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machine(),
    settings,
    workers: [1, availableParallelism()],
    throughput: [],
    hooks: [],
  };
  if (!skip.has('throughput')) {
    const protocols = ['processed', 'lines'];
    log(`\n== throughput: ${protocols.join(', ')}; workers ${report.workers.join(' and ')}`);
    report.throughput = await runThroughput({
      protocols,
      workers: report.workers,
      sweep: settings.sweep,
      connections: settings.connections,
      deepPipeline: settings.pipeline,
      busyCells: settings.busy,
      rounds: settings.rounds,
      seconds: settings.seconds,
      log,
    });
  }
  if (!skip.has('http')) {
    log('\n== http: skein against node:http and nginx (wrk)');
    report.http = await runHttp({
      workers: availableParallelism(),
      rounds: settings.httpRounds,
      seconds: settings.httpSeconds,
      keepAliveConnections: 100,
      closeConnections: 50,
      depths: [1, 10],
      autocannon: true,
      log,
    });
  }
  if (!skip.has('scrape')) {
    log('\n== scrape: /metrics while one worker is stopped (SIGSTOP)');
    report.scrape = await runScrape(settings.scrapeRounds, log);
  }
  if (!skip.has('offload')) {
    const hook = await runHook('offload');
    if (hook) report.hooks.push(hook);
  }
  if (!skip.has('capacity')) {
    log(`\n== capacity: ${settings.capacity} idle connections to one worker`);
    report.capacity = await runCapacity(settings.capacity, log);
  }
  if (!skip.has('soak')) {
    log(`\n== soak: ${settings.soakMessages} messages, ${settings.soakConnections} connections`);
    report.soak = await runSoak(settings.soakMessages, settings.soakWarmup, settings.soakConnections, 1, log);
  }
  report.machine.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
  report.finished = new Date().toISOString();

  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // A smoke run never replaces the day's real figures.
  const stamp = `${started.toISOString().slice(0, 10)}${quick ? '-quick' : ''}`;
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(report);
  writeFileSync(join(dir, `${stamp}.md`), markdown);
  const charts = quick ? [] : writeCharts(report, dir);
  process.stdout.write(`${markdown}\nwrote bench/results/${stamp}.json, bench/results/${stamp}.md${charts.map((c) => `, bench/results/${c}`).join('')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
