/**
 * Before vs after, in one run: the same protocol served by two builds of
 * skein (this checkout's `dist`, and another checkout's, say the commit before
 * a restructuring), loaded alternately (A B B A …) by the native generator.
 * Reports the median throughput and server CPU per reply of each, and the
 * median of the per-round ratios after / before.
 *
 *   BEFORE=/tmp/before npm run bench:before-after     (both checkouts built)
 *   env: PROTOCOL (lines), WORKERS (1), CONNECTIONS (16), DEPTHS (1,16), ROUNDS (6), SECONDS (3)
 */
import { join } from 'node:path';
import { runLineLoad } from './lib/native.js';
import { cpuSeconds, startSkein, type BenchServer } from './lib/proc.js';
import { median, round } from './lib/stats.js';

const before = process.env.BEFORE;
if (!before) throw new Error('set BEFORE to a built checkout of skein (its dist/cli.js is served as "before")');
const protocol = process.env.PROTOCOL ?? 'lines';
const workers = Number(process.env.WORKERS ?? 1);
const connections = Number(process.env.CONNECTIONS ?? 16);
const depths = (process.env.DEPTHS ?? '1,16').split(',').map(Number);
const rounds = Number(process.env.ROUNDS ?? 6);
const seconds = Number(process.env.SECONDS ?? 3);

interface Sample {
  throughput: number;
  cpuPerReplyUs: number;
}

async function measure(server: BenchServer, depth: number, window = seconds): Promise<Sample> {
  const cpu = () => server.allPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  let start = Number.NaN;
  let end = Number.NaN;
  const result = await runLineLoad(
    { port: server.port, connections, depth, seconds: window, warmup: 0.5 },
    { onStarted: () => (start = cpu()), onFinished: () => (end = cpu()) },
  );
  return { throughput: result.throughput, cpuPerReplyUs: result.replies > 0 ? ((end - start) * 1e6) / result.replies : Number.NaN };
}

const sides = {
  before: await startSkein(protocol, workers, [], join(before, 'dist', 'cli.js')),
  after: await startSkein(protocol, workers),
};
try {
  for (const server of Object.values(sides)) await measure(server, 16, 1); // warm the JIT
  for (const depth of depths) {
    const samples = { before: [] as Sample[], after: [] as Sample[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const side of order) samples[side].push(await measure(sides[side], depth));
      const [b, a] = [samples.before.at(-1)!, samples.after.at(-1)!];
      console.log(`depth ${depth} round ${r + 1}: before ${Math.round(b.throughput)} req/s, after ${Math.round(a.throughput)} req/s, ratio ${(a.throughput / b.throughput).toFixed(3)}`);
    }
    const ratios = samples.after.map((a, i) => a.throughput / samples.before[i]!.throughput);
    const cpuRatios = samples.after.map((a, i) => a.cpuPerReplyUs / samples.before[i]!.cpuPerReplyUs);
    console.log(
      JSON.stringify({
        protocol,
        workers,
        connections,
        depth,
        rounds,
        seconds,
        before: { throughput: round(median(samples.before.map((s) => s.throughput)), 0), cpuPerReplyUs: round(median(samples.before.map((s) => s.cpuPerReplyUs)), 2) },
        after: { throughput: round(median(samples.after.map((s) => s.throughput)), 0), cpuPerReplyUs: round(median(samples.after.map((s) => s.cpuPerReplyUs)), 2) },
        ratio: round(median(ratios), 3),
        ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
        cpuRatio: round(median(cpuRatios), 3),
      }),
    );
  }
} finally {
  await Promise.all(Object.values(sides).map((s) => s.stop()));
}
