/**
 * What metrics cost: `skein serve processed` with the metrics endpoint off
 * (`--metrics-port 0`: no message timing, no background refresh, no scrapes)
 * against the same server with metrics on and scraped every second, under the
 * same closed-loop pipelined TCP load, in one run, alternating rounds (A B, B A, …).
 *
 *   npm run bench:metrics            (builds first)
 *   ROUNDS=7 SECONDS=3 CONNECTIONS=32 DEPTHS=1,16 WORKERS=1 SCRAPE_EVERY=1 node --import tsx bench/metrics-overhead.ts
 *
 * Depth 1 (one message in flight per connection) makes every message its own
 * chunk, so the per-message cost (a counter, two timestamps, a bucket) shows
 * most; at depth 16 TCP merges pipelined messages into larger chunks, which
 * `processed` answers as one message each.
 *
 * The load generator is a separate process (its CPU is shown); each round also
 * reports the server's CPU time per message (primary + workers, from /proc),
 * which is steadier than throughput on a shared machine. `AA=1` runs both
 * sides with metrics off, to show the harness's own bias and noise.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DurationCounts, MessageMeter } from '../src/shared/protocol/message-meter.js';
import { DURATION_BUCKETS } from '../src/shared/metric-names.js';
import { freePort } from './lib/proc.js';

interface LoadRequest {
  readonly port: number;
  readonly seconds: number;
  readonly connections: number;
  readonly depth: number;
}

interface LoadResult {
  readonly replies: number;
  readonly elapsedMs: number;
  /** The load generator's CPU time during the measured period, ms. */
  readonly cpuMs: number;
}

const PAYLOAD = Buffer.from('the quick brown fox jumps over the lazy dog\n');
const NEWLINE = 10;

// ---------------------------------------------------------------- load generator (child process)

function countNewlines(chunk: Buffer): number {
  let n = 0;
  let i = -1;
  while ((i = chunk.indexOf(NEWLINE, i + 1)) !== -1) n++;
  return n;
}

/**
 * Closed loop: each connection keeps `depth` messages in flight and sends one
 * more per reply. `processed` answers a chunk with one reply, and TCP may merge
 * messages into one chunk, so replies are counted by the newline each payload
 * carries back.
 */
async function runLoad(request: LoadRequest): Promise<LoadResult> {
  let counting = false;
  let replies = 0;
  const batches = new Map<number, Buffer>();
  const batch = (n: number) => {
    let b = batches.get(n);
    if (!b) {
      b = Buffer.concat(Array.from({ length: n }, () => PAYLOAD));
      batches.set(n, b);
    }
    return b;
  };
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: request.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(request.port, '127.0.0.1');
          sockets.push(socket);
          socket.setNoDelay(true);
          let welcomed = false;
          socket.on('error', reject);
          socket.on('data', (chunk: Buffer) => {
            let n = countNewlines(chunk);
            if (!welcomed) {
              welcomed = true;
              n--; // the welcome line
              socket.write(batch(request.depth));
              resolve();
            }
            if (n <= 0) return;
            if (counting) replies += n;
            socket.write(batch(n));
          });
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 300)); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  counting = true;
  await new Promise((r) => setTimeout(r, request.seconds * 1000));
  counting = false;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  for (const s of sockets) s.destroy();
  return { replies, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// ---------------------------------------------------------------- the benchmark (parent)

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly pids: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const CLK_TCK = 100; // Linux USER_HZ

function env(name: string, fallback: number): number {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
}

async function startSkein(name: string, workers: number, metricsPort: number): Promise<Server> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', 'processed', '--port', '0', '--workers', String(workers), '--metrics-port', String(metricsPort)],
    { cwd: ROOT, env: { ...process.env, SKEIN_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buffered = '';
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    child.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString();
      for (const line of buffered.split('\n')) {
        if (!line.includes('skein ready')) continue;
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
  child.stdout!.resume();
  const endpoints = ready.endpoints as Array<{ port: number }>;
  return { name, child, port: endpoints[0]!.port, metricsPort: metricsPort || undefined, pids: [child.pid!, ...(ready.pids as number[])] };
}

/** CPU seconds (user + system) used so far by `pids`, from /proc. */
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited
    }
  }
  return ticks / CLK_TCK;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The hot path alone, in this process: CPU nanoseconds per chunk of one frame
 * (arrival, frame, reply, flush: a counter, an array slot, two clock reads, a
 * bucket). Steadier than any end-to-end figure on a noisy machine.
 */
function meterCostNs(): number {
  const sink = { messages: 0, durations: new DurationCounts(DURATION_BUCKETS) };
  const meter = new MessageMeter(sink);
  const n = 2_000_000;
  const run = () => {
    for (let i = 0; i < n; i++) {
      meter.arrived();
      meter.received();
      meter.replied();
      meter.flushed();
    }
  };
  run(); // warm up the JIT
  const c0 = process.cpuUsage();
  run();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

interface Round {
  readonly server: string;
  readonly rps: number;
  readonly serverCpuUsPerMsg: number;
  readonly clientCpuPct: number;
  readonly scrapes: number;
}

async function main(): Promise<void> {
  const rounds = env('ROUNDS', 7);
  const seconds = env('SECONDS', 3);
  const connections = env('CONNECTIONS', 32);
  const depths = (process.env.DEPTHS ?? '1,16').split(',').map(Number);
  const workers = env('WORKERS', 1);
  // SCRAPE_EVERY=0: metrics on but never scraped, to tell the scrapes' cost from the rest.
  const scrapeEvery = env('SCRAPE_EVERY', 1);

  const off = await startSkein('metrics off', workers, 0);
  // AA=1: both servers with metrics off, to see the harness's own bias and noise.
  const aa = process.env.AA === '1';
  const on = await startSkein('metrics on', workers, aa ? 0 : await freePort());
  const client = fork(fileURLToPath(import.meta.url), ['client'], { execArgv: ['--import', 'tsx'] });
  const load = (port: number, depth: number): Promise<LoadResult> => {
    client.send({ port, seconds, connections, depth } satisfies LoadRequest);
    return once(client, 'message').then(([m]) => m as LoadResult);
  };

  const measure = async (server: Server, depth: number): Promise<Round> => {
    let scrapes = 0;
    // Prometheus' role: scrape the metrics-on server every second while it is loaded.
    const scraper = server.metricsPort && scrapeEvery > 0
      ? setInterval(() => {
          void fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)
            .then((r) => r.text())
            .then(() => scrapes++, () => {});
        }, scrapeEvery * 1000)
      : undefined;
    const cpu0 = cpuSeconds(server.pids);
    const result = await load(server.port, depth);
    const cpu = cpuSeconds(server.pids) - cpu0;
    if (scraper) clearInterval(scraper);
    return {
      server: server.name,
      rps: (result.replies / result.elapsedMs) * 1000,
      // Includes the 300 ms warm-up, the same for both servers.
      serverCpuUsPerMsg: (cpu * 1e6) / Math.max(1, result.replies),
      clientCpuPct: (result.cpuMs / result.elapsedMs) * 100,
      scrapes,
    };
  };

  console.log(
    `metrics overhead${aa ? ' (A/A: both sides off)' : ''}: processed, ${workers} worker(s) each, ${connections} connections, depths ${depths.join(', ')}, ${rounds} rounds × ${seconds}s per server, ` +
      `${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, loadavg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const byDepth = [];
  for (const depth of depths) {
    console.log(`\ndepth ${depth}:`);
    const pairs: Array<{ off: Round; on: Round }> = [];
    for (let i = 0; i < rounds; i++) {
      // A B, then B A: drift on a shared machine hits both sides alike.
      const order = i % 2 === 0 ? [off, on] : [on, off];
      const results = new Map<string, Round>();
      for (const server of order) results.set(server.name, await measure(server, depth));
      const pair = { off: results.get(off.name)!, on: results.get(on.name)! };
      pairs.push(pair);
      console.log(
        `  round ${i + 1}: off ${pair.off.rps.toFixed(0)} msg/s (${pair.off.serverCpuUsPerMsg.toFixed(2)} µs CPU/msg)  ` +
          `on ${pair.on.rps.toFixed(0)} msg/s (${pair.on.serverCpuUsPerMsg.toFixed(2)} µs CPU/msg, ${pair.on.scrapes} scrapes)  ` +
          `ratio ${(pair.on.rps / pair.off.rps).toFixed(3)}  load generator CPU ${pair.off.clientCpuPct.toFixed(0)}% / ${pair.on.clientCpuPct.toFixed(0)}%`,
      );
    }
    const ratios = pairs.map((p) => p.on.rps / p.off.rps);
    const cpuRatios = pairs.map((p) => p.on.serverCpuUsPerMsg / p.off.serverCpuUsPerMsg);
    const summary = {
      depth,
      offMedianRps: median(pairs.map((p) => p.off.rps)),
      onMedianRps: median(pairs.map((p) => p.on.rps)),
      medianThroughputRatio: median(ratios),
      throughputCostPct: (1 - median(ratios)) * 100,
      medianCpuPerMessageRatio: median(cpuRatios),
      cpuCostPct: (median(cpuRatios) - 1) * 100,
      loadGeneratorCpuPctMedian: median(pairs.flatMap((p) => [p.off.clientCpuPct, p.on.clientCpuPct])),
    };
    console.log(
      `  median: off ${summary.offMedianRps.toFixed(0)} msg/s, on ${summary.onMedianRps.toFixed(0)} msg/s; ` +
        `median per-round throughput ratio ${summary.medianThroughputRatio.toFixed(3)} (cost ${summary.throughputCostPct.toFixed(1)}%); ` +
        `server CPU per message ratio ${summary.medianCpuPerMessageRatio.toFixed(3)} (cost ${summary.cpuCostPct.toFixed(1)}%); ` +
        `load generator CPU median ${summary.loadGeneratorCpuPctMedian.toFixed(0)}% of one core`,
    );
    byDepth.push({ depth, pairs, summary });
  }
  const perChunkNs = meterCostNs();
  const depth1 = byDepth.find((d) => d.depth === 1);
  const offCpuPerMsgUs = depth1 ? median(depth1.pairs.map((p) => p.off.serverCpuUsPerMsg)) : undefined;
  console.log(
    `\nhot path alone (in-process): ${perChunkNs.toFixed(0)} ns CPU per one-frame chunk` +
      (offCpuPerMsgUs ? ` = ${((perChunkNs / 1000 / offCpuPerMsgUs) * 100).toFixed(2)}% of the server's ${offCpuPerMsgUs.toFixed(2)} µs CPU per message at depth 1` : ''),
  );
  client.kill();
  for (const s of [off, on]) {
    s.child.kill('SIGTERM');
    await once(s.child, 'exit');
  }

  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}metrics-overhead-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        bench: 'metrics-overhead',
        date: new Date().toISOString(),
        machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
        config: { aa, rounds, seconds, connections, depths, workers, payloadBytes: PAYLOAD.length, scrapeEverySeconds: scrapeEvery },
        results: byDepth,
        hotPathNsPerChunk: perChunkNs,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results: ${file}`);
}

// The same file is the load generator's child process.
if (process.argv[2] === 'client') {
  process.on('message', (request: LoadRequest) => {
    void runLoad(request).then((result) => process.send!(result));
  });
} else {
  await main();
}
