/**
 * skein against its hand-written node:net baselines, in one run, alternating:
 * for each protocol and worker count, skein (N workers) and the baseline
 * (node:net single process for 1, node:cluster for N) serve side by side, and
 * every cell (connections × pipeline depth, quiet or beside a busy neighbour)
 * is loaded once per round, skein and baseline back to back, in alternating
 * order. The load generator is native (bench/native/line-load.c, one thread).
 * Reported: medians of the rounds and the median of the per-round ratios
 * skein / baseline, for throughput and for server CPU per reply.
 */
import { connect } from 'node:net';
import { runLineLoad, startBusyNeighbour, type LineLoadResult } from './lib/native.js';
import { cpuSeconds, startBaseline, startSkein, type BenchServer } from './lib/proc.js';
import { median, round } from './lib/stats.js';

export interface Cell {
  readonly protocol: string;
  readonly workers: number;
  readonly pipeline: number;
  readonly connections: number;
  /** Loaded while a CPU-bound neighbour process (`node -e 'for(;;){}'`) runs on the same host. */
  readonly busyNeighbour?: boolean;
}

export interface SideSummary {
  readonly server: string;
  /** Median requests per second over the rounds. */
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median CPU of the load generator, percent of one core. */
  readonly generatorCpu: number;
  /** Median CPU of the server's processes, percent of one core. */
  readonly serverCpu: number;
  /** Median CPU time of the server's processes per reply, microseconds (insensitive to other load on the host). */
  readonly cpuPerRequestUs: number;
  readonly rounds: number[];
  readonly errors: number;
}

export interface CellResult extends Cell {
  readonly skein: SideSummary;
  readonly baseline: SideSummary;
  /** Median of the per-round ratios skein / baseline (1 = same throughput). */
  readonly ratio: number;
  /** Median of the per-round ratios of server CPU per reply, skein / baseline (1 = same cost; 1.05 = 5% overhead). */
  readonly cpuRatio: number;
  /** Lowest and highest per-round ratios (throughput, then CPU per reply). */
  readonly ratioRange: readonly [number, number];
  readonly cpuRatioRange: readonly [number, number];
}

export interface ThroughputOptions {
  readonly protocols: readonly string[];
  readonly workers: readonly number[];
  /** Connection counts swept at pipeline depth 1 (the chart). */
  readonly sweep: readonly number[];
  /** Connections of the deep-pipeline cells. */
  readonly connections: number;
  readonly deepPipeline: number;
  /** Cells also measured beside a busy neighbour: [connections, depth] pairs, for the N-worker `lines` only. */
  readonly busyCells: ReadonlyArray<readonly [number, number]>;
  readonly rounds: number;
  /** Seconds of each load run. */
  readonly seconds: number;
  readonly log: (line: string) => void;
}

interface Sample {
  result: LineLoadResult;
  serverCpu: number;
  cpuPerRequestUs: number;
}

interface ProtocolLoad {
  readonly greeting: boolean;
  readonly replyPrefix?: string;
  /** The greeting line, so the baseline greets the same way. */
  readonly greetingText?: string;
}

/** What the load generator needs to know about each protocol. */
async function protocolLoad(protocol: string, probePort: number): Promise<ProtocolLoad> {
  if (protocol === 'processed') return { greeting: true, replyPrefix: 'Processed: ' };
  const greetingText = await probeGreeting(probePort);
  return { greeting: greetingText !== undefined, ...(greetingText ? { greetingText } : {}) };
}

/** The first line a server sends unprompted, if any (so the baseline greets the same way). */
async function probeGreeting(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => resolve(undefined));
    setTimeout(() => {
      socket.destroy();
      const end = text.indexOf('\n');
      resolve(end === -1 ? undefined : text.slice(0, end + 1));
    }, 500);
  });
}

/** Seconds of unmeasured load before each window (`skein load --warmup`). */
const WARMUP_SECONDS = 0.5;

/**
 * One load run. The server's CPU is read when the generator reports that its
 * window opened and closed, so it covers the steady state only: connecting
 * and the warm-up (where skein pays for the cluster hand-off of the new
 * connections even with one worker, and a line protocol has no greeting to
 * show the hand-off is over) are left out.
 */
async function measure(server: BenchServer, cell: Cell, load: ProtocolLoad, seconds: number): Promise<Sample> {
  const serverCpu = () => server.allPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  let cpuBefore = Number.NaN;
  let cpuAfter = Number.NaN;
  const result = await runLineLoad(
    {
      port: server.port,
      connections: cell.connections,
      depth: cell.pipeline,
      seconds,
      warmup: WARMUP_SECONDS,
      greeting: load.greeting,
      ...(load.replyPrefix ? { replyPrefix: load.replyPrefix } : {}),
    },
    { onStarted: () => (cpuBefore = serverCpu()), onFinished: () => (cpuAfter = serverCpu()) },
  );
  const cpu = cpuAfter - cpuBefore;
  return {
    result,
    serverCpu: round((cpu / result.seconds) * 100, 1),
    cpuPerRequestUs: result.replies > 0 ? (cpu * 1e6) / result.replies : Number.NaN,
  };
}

function summarize(server: string, samples: Sample[]): SideSummary {
  return {
    server,
    throughput: round(median(samples.map((s) => s.result.throughput)), 0),
    p50Ms: round(median(samples.map((s) => s.result.latencyUs.p50 / 1000)), 3),
    p99Ms: round(median(samples.map((s) => s.result.latencyUs.p99 / 1000)), 3),
    generatorCpu: round(median(samples.map((s) => s.result.cpu.percent)), 0),
    serverCpu: round(median(samples.map((s) => s.serverCpu)), 0),
    cpuPerRequestUs: round(median(samples.map((s) => s.cpuPerRequestUs)), 2),
    rounds: samples.map((s) => round(s.result.throughput, 0)),
    errors: samples.reduce((sum, s) => sum + s.result.errors, 0),
  };
}

/** Runs the comparison and returns one result per cell. */
export async function runThroughput(options: ThroughputOptions): Promise<CellResult[]> {
  const results: CellResult[] = [];
  for (const protocol of options.protocols) {
    for (const workers of options.workers) {
      const skein = await startSkein(protocol, workers);
      const load = await protocolLoad(protocol, skein.port);
      const baseline = await startBaseline(protocol, workers === 1 ? 0 : workers, load.greetingText);
      try {
        const cells: Cell[] = [
          ...options.sweep.map((connections) => ({ protocol, workers, pipeline: 1, connections })),
          { protocol, workers, pipeline: options.deepPipeline, connections: options.connections },
          ...(protocol === 'lines' && workers > 1
            ? options.busyCells.map(([connections, pipeline]) => ({ protocol, workers, pipeline, connections, busyNeighbour: true }))
            : []),
        ];
        options.log(`${skein.name} vs ${baseline.name}: ${cells.length} cells × ${options.rounds} rounds × ${options.seconds} s`);
        // Warm both servers' JIT before the first measured round.
        for (const server of [skein, baseline]) await measure(server, { protocol, workers, pipeline: options.deepPipeline, connections: options.connections }, load, 1);
        const samples = cells.map(() => ({ skein: [] as Sample[], baseline: [] as Sample[] }));
        for (let r = 0; r < options.rounds; r++) {
          for (const [i, cell] of cells.entries()) {
            const order = (r + i) % 2 === 0 ? (['skein', 'baseline'] as const) : (['baseline', 'skein'] as const);
            const neighbour = cell.busyNeighbour ? startBusyNeighbour() : undefined;
            try {
              for (const side of order) {
                samples[i]![side].push(await measure(side === 'skein' ? skein : baseline, cell, load, options.seconds));
              }
            } finally {
              await neighbour?.stop();
            }
            const s = samples[i]!.skein.at(-1)!.result.throughput;
            const b = samples[i]!.baseline.at(-1)!.result.throughput;
            const sc = samples[i]!.skein.at(-1)!.cpuPerRequestUs;
            const bc = samples[i]!.baseline.at(-1)!.cpuPerRequestUs;
            options.log(
              `  round ${r + 1} c=${String(cell.connections).padStart(3)} p=${String(cell.pipeline).padStart(2)}${cell.busyNeighbour ? ' busy' : ''}: skein ${Math.round(s)} req/s ${sc.toFixed(1)} µs CPU/req, baseline ${Math.round(b)} req/s ${bc.toFixed(1)} µs CPU/req; ratios ${(s / b).toFixed(3)} / ${(sc / bc).toFixed(3)}`,
            );
          }
        }
        for (const [i, cell] of cells.entries()) {
          const { skein: ss, baseline: bs } = samples[i]!;
          const ratios = ss.map((s, k) => s.result.throughput / bs[k]!.result.throughput);
          const cpuRatios = ss.map((s, k) => s.cpuPerRequestUs / bs[k]!.cpuPerRequestUs);
          results.push({
            ...cell,
            skein: summarize(skein.name, ss),
            baseline: summarize(baseline.name, bs),
            ratio: round(median(ratios), 3),
            cpuRatio: round(median(cpuRatios), 3),
            ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
            cpuRatioRange: [round(Math.min(...cpuRatios), 3), round(Math.max(...cpuRatios), 3)],
          });
        }
      } finally {
        await skein.stop();
        await baseline.stop();
      }
    }
  }
  return results;
}
