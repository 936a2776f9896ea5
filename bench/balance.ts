/**
 * Connection distribution: what `--balance` costs and what it buys.
 *
 *   npm run bench:balance            (ROUNDS=5 DURATION=4 SPREAD_WORKERS=4 to change; POLICIES=round-robin,…
 *                                    to run only those, SPREAD=0 to skip part 2)
 *
 * 1. New connections per second (connect, read the greeting, one request, close) against
 *    `processed` with 2 workers: node:cluster round-robin hand-written on node:net (the
 *    baseline), and skein with each policy. Alternating rounds; medians and ratios to the
 *    baseline; the load generator's own CPU beside them. The generator is native
 *    (bench/native/churn-load.c, one epoll thread) when a C compiler is there;
 *    GENERATOR=js uses the JavaScript client below (about 0.6 of a core, which the
 *    servers then do not get).
 * 2. Spread: 1,000 long-lived connections from 250 client addresses with random lifetimes
 *    (0.5-4 s, each replaced by a new one when it closes) over SPREAD_WORKERS workers; max/min
 *    open connections per worker, read from `skein_worker_connections_active` 6 s in, per policy.
 *    SPREAD_ONLY=1 runs only this part.
 * Writes bench/results/balance-<date>.json.
 */
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildNative, hasCommand } from './lib/native.js';
import { cpuSeconds, freePort, ROOT, startBaseline, startSkein, type BenchServer } from './lib/proc.js';
import { median, round } from './lib/stats.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_S = Number(process.env.DURATION ?? 4);
const LOOPS = Number(process.env.LOOPS ?? 16);
const SPREAD_WORKERS = Number(process.env.SPREAD_WORKERS ?? 4);
const ALL_POLICIES = ['round-robin', 'shared-socket', 'least-connections', 'client-hash'] as const;
/** POLICIES=round-robin,shared-socket runs only those (the spread part too). */
const POLICIES = process.env.POLICIES ? ALL_POLICIES.filter((p) => process.env.POLICIES!.split(',').includes(p)) : ALL_POLICIES;
const WELCOME = 'Welcome to my network application!\r\n';

/** One short connection: greeting, one request, its reply, close. Resolves false on any failure. */
function oneRequest(port: number, localAddress: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let sent = false;
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent && text.startsWith(WELCOME)) {
        sent = true;
        socket.write('x');
      }
      if (text === `${WELCOME}Processed: x`) {
        socket.end();
        socket.once('close', () => resolve(true));
      }
    });
  });
}

/** The native churn generator's binary, or undefined for the JavaScript client (GENERATOR=js, or no C compiler). */
const CHURN_LOAD = process.env.GENERATOR !== 'js' && hasCommand('cc') ? buildNative('churn-load') : undefined;

type Rate = { perSecond: number; failures: number; generatorCpu: number; serverCpu: number };

async function connectionRate(server: BenchServer): Promise<Rate> {
  return CHURN_LOAD ? nativeConnectionRate(server, CHURN_LOAD) : jsConnectionRate(server);
}

/** The same exchange from bench/native/churn-load.c, LOOPS connections at a time for DURATION_S. */
async function nativeConnectionRate(server: BenchServer, binary: string): Promise<Rate> {
  const server0 = server.allPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const { stdout } = await promisify(execFile)(binary, ['-p', String(server.port), '-c', String(LOOPS), '-s', String(DURATION_S)]);
  const serverCpu = server.allPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - server0;
  const r = JSON.parse(stdout) as { perSecond: number; failures: number; cpuSeconds: number; seconds: number };
  return { perSecond: r.perSecond, failures: r.failures, generatorCpu: r.cpuSeconds / r.seconds, serverCpu: serverCpu / r.seconds };
}

async function jsConnectionRate(server: BenchServer): Promise<Rate> {
  const deadline = performance.now() + DURATION_S * 1000;
  const cpu0 = process.cpuUsage();
  const server0 = server.allPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  let ok = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = 0; performance.now() < deadline; i++) {
        if (await oneRequest(server.port, `127.0.0.${2 + ((loop * 31 + i) % 250)}`)) ok++;
        else failures++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = server.allPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - server0;
  return { perSecond: ok / DURATION_S, failures, generatorCpu: (cpu.user + cpu.system) / 1e6 / DURATION_S, serverCpu: serverCpu / DURATION_S };
}

async function perWorkerOpen(metricsPort: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return [...text.matchAll(/^skein_worker_connections_active\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
}

async function spread(policy: (typeof POLICIES)[number]): Promise<{ max: number; min: number; ratio: number; perWorker: number[] }> {
  const metricsPort = await freePort();
  const server = await startSkein('processed', SPREAD_WORKERS, ['--balance', policy, '--metrics-port', String(metricsPort)]);
  try {
    // 1,000 connections kept open: each lives a random 0.5-4 s and is replaced by a new one when it
    // closes, so connections keep arriving while others leave (where round-robin drifts).
    const live = new Set<ReturnType<typeof connect>>();
    let stop = false;
    let n = 0;
    const openOne = async (): Promise<void> => {
      const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: `127.0.0.${2 + (n++ % 250)}` });
      socket.on('error', () => {});
      live.add(socket);
      socket.once('close', () => {
        live.delete(socket);
        if (!stop) void openOne();
      });
      await once(socket, 'connect').catch(() => {});
      setTimeout(() => socket.destroy(), 500 + Math.random() * 3500);
    };
    await Promise.all(Array.from({ length: 1000 }, () => openOne()));
    await new Promise((r) => setTimeout(r, 6000));
    const perWorker = await perWorkerOpen(metricsPort);
    stop = true;
    for (const s of live) s.destroy();
    const max = Math.max(...perWorker);
    const min = Math.min(...perWorker);
    return { max, min, ratio: round(max / Math.max(1, min)), perWorker };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `balance bench: ${availableParallelism()} cores, Node ${process.version}, ${ROUNDS} rounds of ${DURATION_S}s, ${LOOPS} client loops, ${CHURN_LOAD ? 'native generator (churn-load)' : 'JavaScript generator'}`,
  );
  const spreadOnly = process.env.SPREAD_ONLY === '1';
  const servers: Array<{ name: string; server: BenchServer }> = spreadOnly ? [] : [{ name: 'node:cluster round-robin (node:net)', server: await startBaseline('processed', 2) }];
  if (!spreadOnly) for (const policy of POLICIES) servers.push({ name: `skein ${policy}`, server: await startSkein('processed', 2, ['--balance', policy]) });
  const results = new Map<string, Array<Awaited<ReturnType<typeof connectionRate>>>>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const { name, server } of order) {
        const r = await connectionRate(server);
        (results.get(name) ?? results.set(name, []).get(name)!).push(r);
        console.log(`round ${round + 1} ${name}: ${Math.round(r.perSecond)} conn/s, ${r.failures} failed, generator ${round2(r.generatorCpu)} cores`);
      }
    }
  } finally {
    for (const { server } of servers) await server.stop();
  }
  const baseline = spreadOnly ? 0 : median(results.get(servers[0]!.name)!.map((r) => r.perSecond));
  const rate = servers.map(({ name }) => {
    const rs = results.get(name)!;
    const perSecond = median(rs.map((r) => r.perSecond));
    return {
      name,
      perSecond: Math.round(perSecond),
      ratioToBaseline: round(perSecond / baseline),
      // Each round's ratio to the baseline's in the same round (the two ran back to back): the median, then the range.
      roundRatios: spreadOnly ? [] : rs.map((r, i) => round(r.perSecond / results.get(servers[0]!.name)![i]!.perSecond)),
      serverCpuPerConnectionUs: round(median(rs.map((r) => (r.serverCpu / r.perSecond) * 1e6)), 0),
      failures: rs.reduce((sum, r) => sum + r.failures, 0),
      generatorCores: round(median(rs.map((r) => r.generatorCpu))),
    };
  });
  console.table(rate);
  const spreads = [];
  for (const policy of process.env.SPREAD === '0' ? [] : POLICIES) {
    const s = await spread(policy);
    spreads.push({ policy, workers: SPREAD_WORKERS, ...s });
    console.log(`spread ${policy}: per worker ${s.perWorker.join(' / ')}, max/min ${s.ratio}`);
  }
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `balance-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const generator = CHURN_LOAD ? 'native (bench/native/churn-load.c)' : 'JavaScript';
  writeFileSync(file, JSON.stringify({ machine: { cores: availableParallelism(), node: process.version }, rounds: ROUNDS, durationS: DURATION_S, loops: LOOPS, generator, rate, spreads }, null, 2));
  console.log(`wrote ${file}`);
}

function round2(n: number): number {
  return round(n, 2);
}

await main();
