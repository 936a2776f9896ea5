/**
 * Offload benchmarks (`npm run bench:offload`; `-- --quick` for a short run).
 *
 * 1. Dispatch overhead: round-trip time per task of a no-op processor at 1 and
 *    at 64 tasks in flight, on skein's pool, on a bare piscina pool (the
 *    baseline skein wraps), and called inline. In-process, alternating rounds.
 * 2. The `hash` protocol under load, offloaded vs inline (`inline: true`): two
 *    servers side by side (workers=1, each also serving `processed` from the
 *    same worker), loaded in alternating rounds. Per round: hash throughput and
 *    latency, latency of a light `processed` client on the same worker, the
 *    worker's event-loop lag (skein_event_loop_lag_seconds, p99 over the round,
 *    from /metrics), and the CPU of the worker process and of the load generator.
 *
 * Figures are medians over rounds; the machine is shared and noisy, so read the ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { Piscina } from 'piscina';
import { OffloadPool } from '../src/worker/pool/offload-pool.js';
import { resolvePoolSettings } from '../src/shared/config/option-table.js';
import { noop } from './fixtures/noop-processors.js';
import { freePort } from './lib/proc.js';

const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 2 : 5;
const LOAD_SECONDS = QUICK ? 2 : 4;
const HASH_ROUNDS = 8000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

// ---------------------------------------------------------------- dispatch

type Runner = (payload: Buffer) => Promise<unknown>;

/** µs per task with `inFlight` tasks kept in flight for about `ms` milliseconds. */
async function measure(run: Runner, inFlight: number, ms: number): Promise<number> {
  const payload = Buffer.alloc(64, 1);
  let done = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await run(payload);
        done++;
      }
    }),
  );
  return ((performance.now() - start) * 1000) / done;
}

async function dispatchBench() {
  const threads = availableParallelism();
  const processors = fileURLToPath(new URL('./fixtures/noop-processors.ts', import.meta.url));
  const skein = new OffloadPool(resolvePoolSettings({ threads, maxQueue: 64 }));
  const piscina = new Piscina({
    filename: new URL('./fixtures/noop-piscina.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
  });
  const runners: Record<string, Runner> = {
    inline: async (payload) => noop(payload),
    piscina: (payload) => piscina.run(payload),
    skein: (payload) => skein.run({ processors, task: 'noop', payload, protocol: 'bench' }),
  };
  for (const run of Object.values(runners)) await measure(run, 64, 1000); // start threads, warm the JIT
  const names = Object.keys(runners);
  const samples: Record<string, Record<number, number[]>> = {};
  const ratios: Record<number, number[]> = { 1: [], 64: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const inFlight of [1, 64]) {
      const us: Record<string, number> = {};
      // Rotate the order each round so no runner always goes first.
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length]!;
        us[name] = await measure(runners[name]!, inFlight, QUICK ? 300 : 1000);
        ((samples[name] ??= {})[inFlight] ??= []).push(us[name]);
      }
      ratios[inFlight]!.push(us.skein! / us.piscina!);
      process.stderr.write(`  round ${r + 1} @${inFlight}: ${names.map((n) => `${n} ${round(us[n]!, 2)}`).join(', ')} µs/task\n`);
    }
  }
  await skein.close();
  await piscina.close();
  const result = Object.fromEntries(
    Object.entries(samples).map(([name, byDepth]) => [name, { at1: round(median(byDepth[1]!), 2), at64: round(median(byDepth[64]!), 2) }]),
  );
  return {
    threads,
    usPerTask: result,
    skeinOverPiscina: { at1: round(median(ratios[1]!), 2), at64: round(median(ratios[64]!), 2) },
  };
}

// ---------------------------------------------------------------- load

interface Server {
  readonly child: ChildProcess;
  readonly hashPort: number;
  readonly processedPort: number;
  readonly metricsPort: number;
  readonly workerPid: number;
}

interface Mode {
  readonly inline: boolean;
  /** Pool threads of the worker; default: the sizing rule (cores ÷ workers). */
  readonly poolThreads?: number;
}

const MODES: Record<string, Mode> = {
  offloaded: { inline: false },
  'offloaded, 1 thread': { inline: false, poolThreads: 1 },
  inline: { inline: true },
};

async function startServer(dir: string, name: string, mode: Mode): Promise<Server> {
  const metricsPort = await freePort();
  const config = join(dir, `${name.replace(/\W+/g, '-')}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      workers: 1,
      ...(mode.poolThreads ? { poolThreads: mode.poolThreads } : {}),
      metricsPort,
      services: [
        { name: 'hash', protocol: 'hash', listen: ['tcp:0:interface=127.0.0.1'], options: { rounds: HASH_ROUNDS, inline: mode.inline } },
        { name: 'processed', protocol: 'processed', listen: ['tcp:0'] },
      ],
    }),
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SKEIN_LOG_LEVEL: 'info' } });
  let buffered = '';
  for await (const chunk of child.stdout!) {
    buffered += String(chunk);
    const line = buffered.split('\n').find((l) => l.includes('skein ready'));
    if (!line) continue;
    const ready = JSON.parse(line) as { endpoints: Array<{ service: string; port: number }>; pids: number[] };
    child.stdout!.resume();
    return {
      child,
      hashPort: ready.endpoints.find((e) => e.service === 'hash')!.port,
      processedPort: ready.endpoints.find((e) => e.service === 'processed')!.port,
      metricsPort,
      workerPid: ready.pids[0]!,
    };
  }
  throw new Error(`server ${name} did not start`);
}

/** CPU seconds (user + system) of a process so far, from /proc (includes its threads). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function scrapeGauge(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
  return match ? Number(match[1]) : NaN;
}

function loadThread(port: number, connections: number, depth: number, durationMs: number): Promise<{ count: number; histogram: string }> {
  const worker = new Worker(new URL('./lib/line-load-worker.mjs', import.meta.url), {
    workerData: { port, connections, depth, durationMs, line: 'the quick brown fox jumps over the lazy dog', skipFirstLine: false },
  });
  return once(worker, 'message').then(([m]) => m as { count: number; histogram: string });
}

/** A light interactive client of `processed`: one request at a time, 5 ms apart. Latencies in µs. */
async function probe(port: number, durationMs: number): Promise<hdr.Histogram> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let welcome = true;
  let sent = 0;
  const deadline = performance.now() + durationMs;
  await new Promise<void>((resolve) => {
    const send = () => {
      if (performance.now() >= deadline) return resolve();
      sent = performance.now();
      socket.write('ping\n');
    };
    socket.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
        if (welcome) {
          welcome = false;
          setTimeout(send, 5);
          continue;
        }
        histogram.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
        setTimeout(send, 5);
      }
    });
  });
  socket.destroy();
  return histogram;
}

interface RoundResult {
  hashPerSecond: number;
  hashP50ms: number;
  hashP99ms: number;
  processedP50ms: number;
  processedP99ms: number;
  eventLoopLagP99ms: number;
  utilization: number;
  workerCpuPercent: number;
  loadGenCpuPercent: number;
}

async function loadRound(server: Server): Promise<RoundResult> {
  const durationMs = LOAD_SECONDS * 1000;
  await scrapeGauge(server.metricsPort, 'skein_event_loop_lag_seconds'); // starts a fresh lag and utilization window
  const worker0 = processCpuSeconds(server.workerPid);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const [loads, cheap] = await Promise.all([
    Promise.all([0, 1].map(() => loadThread(server.hashPort, 8, 2, durationMs))),
    probe(server.processedPort, durationMs),
  ]);
  const elapsed = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  const workerCpu = processCpuSeconds(server.workerPid) - worker0;
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const gauge = (name: string) => Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'))?.[1] ?? NaN);
  const hash = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let count = 0;
  for (const l of loads) {
    count += l.count;
    hash.add(hdr.decodeFromCompressedBase64(l.histogram));
  }
  return {
    hashPerSecond: round(count / elapsed, 0),
    hashP50ms: round(hash.getValueAtPercentile(50) / 1000, 2),
    hashP99ms: round(hash.getValueAtPercentile(99) / 1000, 2),
    processedP50ms: round(cheap.getValueAtPercentile(50) / 1000, 2),
    processedP99ms: round(cheap.getValueAtPercentile(99) / 1000, 2),
    eventLoopLagP99ms: round(gauge('skein_event_loop_lag_seconds') * 1000, 1),
    utilization: round(gauge('skein_offload_utilization'), 2),
    workerCpuPercent: round((workerCpu / elapsed) * 100, 0),
    loadGenCpuPercent: round(((self.user + self.system) / 1e6 / elapsed) * 100, 0),
  };
}

async function loadBench() {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-offload-'));
  const servers: Record<string, Server> = {};
  try {
    for (const [name, mode] of Object.entries(MODES)) servers[name] = await startServer(dir, name, mode);
    const rounds: Record<string, RoundResult[]> = Object.fromEntries(Object.keys(MODES).map((n) => [n, []]));
    for (let r = 0; r <= ROUNDS; r++) {
      for (const [name, server] of Object.entries(servers)) {
        const result = await loadRound(server);
        if (r > 0) rounds[name]!.push(result); // round 0 warms up
        process.stderr.write(`  ${r === 0 ? 'warm-up' : `round ${r}`} ${name}: ${JSON.stringify(result)}\n`);
      }
    }
    const keys = Object.keys(rounds.inline![0]!) as Array<keyof RoundResult>;
    const medians = Object.fromEntries(
      Object.entries(rounds).map(([name, results]) => [name, Object.fromEntries(keys.map((k) => [k, round(median(results.map((x) => x[k])), 2)]))]),
    ) as unknown as Record<string, RoundResult>;
    // Rounds are paired (same minute of a noisy machine): the median of per-round ratios is the robust figure.
    const vsInline = Object.fromEntries(
      Object.entries(rounds)
        .filter(([name]) => name !== 'inline')
        .map(([name, results]) => [
          name,
          Object.fromEntries(keys.map((k) => [k, round(median(results.map((x, i) => x[k] / rounds.inline![i]![k])), 2)])),
        ]),
    ) as unknown as Record<string, RoundResult>;
    return { rounds, medians, vsInline };
  } finally {
    for (const s of Object.values(servers)) s.child.kill('SIGTERM');
    await Promise.all(Object.values(servers).map((s) => (s.child.exitCode === null ? once(s.child, 'exit') : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

const machine: Record<string, unknown> = { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadAverageBefore: loadavg()[0] };
process.stderr.write(`offload benchmark on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}\n`);
process.stderr.write('dispatch overhead…\n');
const dispatch = await dispatchBench();
if (process.argv.includes('--dispatch-only')) process.exit(0);
process.stderr.write('hash under load…\n');
const load = await loadBench();

const d = dispatch.usPerTask;
console.log(`\nDispatch round trip, µs per task (no-op processor, ${dispatch.threads} threads, median of ${ROUNDS} rounds)`);
console.log('| in flight | inline call | bare piscina | skein pool | skein ÷ piscina (median of per-round ratios) |');
console.log('|---|---|---|---|---|');
for (const k of ['at1', 'at64'] as const) {
  console.log(`| ${k === 'at1' ? 1 : 64} | ${d.inline![k]} | ${d.piscina![k]} | ${d.skein![k]} | ${dispatch.skeinOverPiscina[k]} |`);
}
const m = load.medians;
const modes = Object.keys(MODES);
console.log(`\nhash (${HASH_ROUNDS} PBKDF2 rounds/line) under load: workers=1, 16 connections × depth 2, ${LOAD_SECONDS}s rounds, median of ${ROUNDS}`);
console.log(`| | ${modes.join(' | ')} | ${modes.filter((n) => n !== 'inline').map((n) => `${n} ÷ inline`).join(' | ')} |`);
console.log(`|---|${modes.map(() => '---|').join('')}${modes.slice(1).map(() => '---|').join('')}`);
for (const [k, label] of [
  ['hashPerSecond', 'hash replies/s'],
  ['hashP50ms', 'hash p50 ms'],
  ['hashP99ms', 'hash p99 ms'],
  ['processedP50ms', 'processed p50 ms (same worker)'],
  ['processedP99ms', 'processed p99 ms (same worker)'],
  ['eventLoopLagP99ms', 'worker event-loop lag p99 ms'],
  ['utilization', 'skein_offload_utilization'],
  ['workerCpuPercent', 'worker process CPU % (incl. pool threads)'],
  ['loadGenCpuPercent', 'load generator CPU %'],
] as const) {
  const ratios = modes.filter((n) => n !== 'inline').map((n) => (m.inline![k] ? load.vsInline[n]![k] : '–'));
  console.log(`| ${label} | ${modes.map((n) => m[n]![k]).join(' | ')} | ${ratios.join(' | ')} |`);
}

machine.loadAverageAfter = loadavg()[0];
console.log(`\nhost load average (1 min): ${round(machine.loadAverageBefore as number)} before, ${round(machine.loadAverageAfter as number)} after, on ${machine.cores} cores`);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, `bench/results/offload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ machine, quick: QUICK, rounds: ROUNDS, loadSeconds: LOAD_SECONDS, hashRounds: HASH_ROUNDS, dispatch, load }, null, 2));
console.log(`\nresults: ${file}`);
