/**
 * `npm run bench:http`: skein's `http` protocol against node:http (node:cluster)
 * and nginx, the same worker count each, judged with wrk (one thread per core),
 * in alternating rounds.
 *
 * 1. keep-alive GET, 100 connections, at pipeline depth 1 and 10: skein, node:http,
 *    nginx;
 * 2. `Connection: close` (a new connection per request), 50 connections: skein with
 *    each balance policy that suits it (round-robin; shared-socket when the CLI has
 *    it), node:http under node:cluster round-robin and SCHED_NONE, nginx;
 * 3. autocannon (the JavaScript tool) beside wrk: one run per server at depth 1,
 *    its own CPU shown.
 * Each round loads every server of a case once, in an order that rotates per round;
 * the ratios are medians of the per-round ratios. Server CPU per request comes from
 * /proc over the wrk run. Writes bench/results/http-<date>.json.
 *
 *   npm run bench:http [-- --workers 2 --rounds 5 --seconds 3 --quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startNginx, startNodeHttp } from './lib/http-servers.js';
import { INSTALL_HINT, missingHttpTools, runWrk } from './lib/native.js';
import { cpuSeconds, freePort, ROOT, startSkein, type BenchServer } from './lib/proc.js';
import { median, round } from './lib/stats.js';

export interface HttpOptions {
  readonly workers: number;
  readonly rounds: number;
  /** Seconds of each wrk run. */
  readonly seconds: number;
  readonly keepAliveConnections: number;
  readonly closeConnections: number;
  readonly depths: readonly number[];
  /** Run autocannon beside wrk (one run per server at depth 1). */
  readonly autocannon: boolean;
  readonly log: (line: string) => void;
}

export interface HttpSide {
  readonly server: string;
  /** Median req/s over the rounds, and each round's. */
  readonly rps: number;
  readonly rounds: number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median server CPU (all its processes) per request, µs. */
  readonly cpuPerRequestUs: number;
  /** Median server CPU, cores. */
  readonly serverCores: number;
  /** Median CPU of the load generator, cores. */
  readonly generatorCores: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Connections each worker served (max/min), where the server can tell (skein with metrics). */
  readonly spread?: number;
}

export interface HttpCase {
  readonly name: string;
  readonly tool: string;
  readonly connections: number;
  readonly pipeline: number;
  readonly close: boolean;
  readonly sides: HttpSide[];
  /** skein variant ÷ baseline, median of the per-round ratios, with their min and max. */
  readonly ratios: Array<{ readonly skein: string; readonly baseline: string; readonly median: number; readonly min: number; readonly max: number }>;
  /** How the connections spread over skein's workers, per balance policy (a separate run with metrics on). */
  readonly spread?: Array<{ readonly policy: string; readonly perWorker: number[]; readonly maxOverMin: number }>;
}

export interface HttpReport {
  readonly machine: { readonly cores: number; readonly cpu: string; readonly node: string; readonly loadAverage: number[] };
  readonly options: Omit<HttpOptions, 'log'>;
  readonly cases: HttpCase[];
  readonly skipped: string[];
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuPerRequestUs: number;
  serverCores: number;
  generatorCores: number;
  errors: number;
  non2xx: number;
}

async function wrkSample(server: BenchServer, connections: number, seconds: number, pipeline: number, close: boolean): Promise<Sample> {
  const cpu = () => server.allPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  let before = Number.NaN;
  const r = await runWrk(
    { port: server.port, connections, seconds, pipeline, ...(close ? { headers: ['Connection: close'] } : {}) },
    { onStarted: () => (before = cpu()) },
  );
  const used = cpu() - before;
  const requests = r.rps * seconds;
  return {
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    cpuPerRequestUs: requests > 0 ? (used * 1e6) / requests : Number.NaN,
    serverCores: used / r.wallSeconds,
    generatorCores: r.cpuCores,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

async function autocannonSample(server: BenchServer, connections: number, seconds: number): Promise<Sample> {
  const cpu = () => server.allPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const before = cpu();
  const own = process.cpuUsage();
  const started = performance.now();
  const workers = Math.min(2, availableParallelism());
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}/`, connections, duration: seconds, ...(workers > 1 ? { workers } : {}) });
  const wall = (performance.now() - started) / 1000;
  const used = cpu() - before;
  const mine = process.cpuUsage(own);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerRequestUs: result.requests.total > 0 ? (used * 1e6) / result.requests.total : Number.NaN,
    serverCores: used / wall,
    generatorCores: (mine.user + mine.system) / 1e6 / wall,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Loads each server once per round (rotating order) and summarises the case. */
async function runCase(
  name: string,
  tool: string,
  servers: BenchServer[],
  rounds: number,
  connections: number,
  pipeline: number,
  close: boolean,
  sample: (server: BenchServer) => Promise<Sample>,
  log: (line: string) => void,
): Promise<HttpCase> {
  const samples = servers.map(() => [] as Sample[]);
  for (let r = 0; r < rounds; r++) {
    const order = servers.map((_, i) => (i + r) % servers.length);
    for (const i of order) {
      const s = await sample(servers[i]!);
      samples[i]!.push(s);
      log(
        `  ${name} round ${r + 1} ${servers[i]!.name.padEnd(26)} ${Math.round(s.rps).toString().padStart(7)} req/s  ${s.cpuPerRequestUs.toFixed(1)} µs CPU/req  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  load-gen ${s.generatorCores.toFixed(2)} cores${s.errors || s.non2xx ? `  errors ${s.errors} non2xx ${s.non2xx}` : ''}`,
      );
    }
  }
  const sides: HttpSide[] = servers.map((server, i) => {
    const ss = samples[i]!;
    return {
      server: server.name,
      rps: round(median(ss.map((s) => s.rps)), 0),
      rounds: ss.map((s) => round(s.rps, 0)),
      p50Ms: round(median(ss.map((s) => s.p50)), 2),
      p99Ms: round(median(ss.map((s) => s.p99)), 2),
      cpuPerRequestUs: round(median(ss.map((s) => s.cpuPerRequestUs)), 2),
      serverCores: round(median(ss.map((s) => s.serverCores)), 2),
      generatorCores: round(median(ss.map((s) => s.generatorCores)), 2),
      errors: ss.reduce((a, s) => a + s.errors, 0),
      non2xx: ss.reduce((a, s) => a + s.non2xx, 0),
    };
  });
  const ratios: HttpCase['ratios'] = [];
  servers.forEach((a, i) => {
    if (!a.name.startsWith('skein')) return;
    servers.forEach((b, j) => {
      if (b.name.startsWith('skein')) return;
      const per = samples[i]!.map((s, k) => s.rps / samples[j]![k]!.rps);
      ratios.push({ skein: a.name, baseline: b.name, median: round(median(per), 3), min: round(Math.min(...per), 3), max: round(Math.max(...per), 3) });
    });
  });
  return { name, tool, connections, pipeline, close, sides, ratios };
}

/** Starts a server, or notes why it could not (a policy this build lacks). */
async function tryStart(start: () => Promise<BenchServer>, label: string, skipped: string[], log: (line: string) => void): Promise<BenchServer | undefined> {
  try {
    return await start();
  } catch (error) {
    const why = `${label}: not measured (${(error as Error).message.split('\n')[0]})`;
    skipped.push(why);
    log(`  ${why}`);
    return undefined;
  }
}

/**
 * Connections each skein worker accepted under `policy` during one `Connection: close` wrk run
 * (metrics on, read from `skein_worker_connections_total{worker}`), and their max/min.
 */
async function spreadOf(
  policy: string,
  workers: number,
  connections: number,
  seconds: number,
  log: (line: string) => void,
): Promise<NonNullable<HttpCase['spread']>[number] | undefined> {
  const metricsPort = await freePort();
  let server: BenchServer;
  try {
    server = await startSkein('http', workers, ['--balance', policy, '--metrics-port', String(metricsPort)]);
  } catch {
    return undefined;
  }
  try {
    await runWrk({ port: server.port, connections, seconds, headers: ['Connection: close'] });
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const perWorker = [...text.matchAll(/^skein_worker_connections_total\{[^}]*worker="(\d+)"[^}]*\} (\d+)/gm)]
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => Number(m[2]));
    const maxOverMin = round(Math.max(...perWorker) / Math.max(1, Math.min(...perWorker)), 2);
    log(`  spread ${policy}: connections per worker ${perWorker.join(' / ')}, max/min ${maxOverMin}`);
    return { policy, perWorker, maxOverMin };
  } finally {
    await server.stop();
  }
}

/** Runs every HTTP case; the servers of a case run side by side. */
export async function runHttp(options: HttpOptions): Promise<HttpReport> {
  const missing = missingHttpTools();
  if (missing.length > 0) throw new Error(`the HTTP bench needs ${missing.join(' and ')}: ${INSTALL_HINT}`);
  const { workers, rounds, seconds, log } = options;
  const cases: HttpCase[] = [];
  const skipped: string[] = [];
  const stopAll = async (servers: Array<BenchServer | undefined>) => {
    for (const s of servers) await s?.stop();
  };

  log(`keep-alive GET: skein http, node:http, nginx (${workers} workers each), wrk -t${availableParallelism()} -c${options.keepAliveConnections}`);
  let servers = [await startSkein('http', workers), await startNodeHttp(workers), await startNginx(workers)];
  try {
    // One short unmeasured run each: JIT and connection pools warm.
    for (const s of servers) await runWrk({ port: s.port, connections: options.keepAliveConnections, seconds: 1 });
    for (const depth of options.depths) {
      cases.push(
        await runCase(`keep-alive depth ${depth}`, 'wrk', servers, rounds, options.keepAliveConnections, depth, false, (s) => wrkSample(s, options.keepAliveConnections, seconds, depth, false), log),
      );
    }
    if (options.autocannon) {
      cases.push(
        await runCase('keep-alive depth 1 (autocannon)', 'autocannon', servers, 1, options.keepAliveConnections, 1, false, (s) => autocannonSample(s, options.keepAliveConnections, seconds), log),
      );
    }
  } finally {
    await stopAll(servers);
  }

  log(`Connection: close: wrk -t${availableParallelism()} -c${options.closeConnections} -H 'Connection: close'`);
  const started = [
    await tryStart(() => startSkein('http', workers), 'skein round-robin', skipped, log),
    await tryStart(() => startSkein('http', workers, ['--balance', 'shared-socket']), 'skein shared-socket', skipped, log),
    await tryStart(() => startNodeHttp(workers), 'node:http round-robin', skipped, log),
    await tryStart(() => startNodeHttp(workers, 'none'), 'node:http SCHED_NONE', skipped, log),
    await tryStart(() => startNginx(workers), 'nginx', skipped, log),
  ];
  servers = started.filter((s): s is BenchServer => s !== undefined);
  const named = (s: BenchServer, i: number): BenchServer => (i === 0 ? { ...s, name: `${s.name} round-robin` } : i === 1 ? { ...s, name: `${s.name} shared-socket` } : s);
  const labelled = started.map((s, i) => (s ? named(s, i) : undefined)).filter((s): s is BenchServer => s !== undefined);
  try {
    for (const s of labelled) await runWrk({ port: s.port, connections: options.closeConnections, seconds: 1, headers: ['Connection: close'] });
    cases.push(
      await runCase('Connection: close', 'wrk', labelled, rounds, options.closeConnections, 1, true, (s) => wrkSample(s, options.closeConnections, seconds, 1, true), log),
    );
  } finally {
    await stopAll(servers);
  }
  const close = cases[cases.length - 1]!;
  const spread: NonNullable<HttpCase['spread']> = [];
  for (const policy of ['round-robin', 'shared-socket']) {
    const s = await spreadOf(policy, workers, options.closeConnections, seconds, log);
    if (s) spread.push(s);
  }
  cases[cases.length - 1] = { ...close, spread };
  return {
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: loadavg().map((l) => round(l, 2)) },
    options: { workers, rounds, seconds, keepAliveConnections: options.keepAliveConnections, closeConnections: options.closeConnections, depths: options.depths, autocannon: options.autocannon },
    cases,
    skipped,
  };
}

/** Markdown tables of a report: one per case, then the ratios. */
export function httpMarkdown(report: HttpReport): string[] {
  const out: string[] = [];
  for (const c of report.cases) {
    out.push(
      `### ${c.name} (${c.tool}, ${c.connections} connections${c.pipeline > 1 ? `, ${c.pipeline} requests per write` : ''})`,
      '',
      '| server | req/s (median) | rounds | server CPU µs/req | server cores | p50 / p99 ms | load-gen cores | errors |',
      '|---|---|---|---|---|---|---|---|',
      ...c.sides.map(
        (s) =>
          `| ${s.server} | ${s.rps.toLocaleString('en-US')} | ${s.rounds.join(', ')} | ${s.cpuPerRequestUs} | ${s.serverCores} | ${s.p50Ms} / ${s.p99Ms} | ${s.generatorCores} | ${s.errors + s.non2xx} |`,
      ),
      '',
      ...c.ratios.map((r) => `- ${r.skein} ÷ ${r.baseline}: **${r.median.toFixed(2)}** (rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)})`),
      ...(c.spread ?? []).map((s) => `- spread over skein's workers with \`--balance ${s.policy}\` (one run, metrics on): connections per worker ${s.perWorker.join(' / ')}, max/min **${s.maxOverMin}**`),
      '',
    );
  }
  if (report.skipped.length > 0) out.push(...report.skipped.map((s) => `- ${s}`), '');
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: String(availableParallelism()) },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean' },
      'no-autocannon': { type: 'boolean' },
    },
  });
  const quick = values.quick === true || process.env.QUICK === '1';
  const report = await runHttp({
    workers: Number(values.workers),
    rounds: Number(values.rounds ?? (quick ? 1 : 5)),
    seconds: Number(values.seconds ?? (quick ? 1 : 3)),
    keepAliveConnections: 100,
    closeConnections: 50,
    depths: [1, 10],
    autocannon: values['no-autocannon'] !== true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${httpMarkdown(report).join('\n')}\n`);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
