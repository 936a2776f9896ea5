/**
 * Soak: a few million `processed` messages through one skein worker, with the
 * worker's VmRSS sampled once a second. A warm-up load runs first (V8 grows
 * its heap to a working size in steps, tens of seconds apart); then, over the
 * soak, the verdict is "flat" when the median RSS of the last quarter of the
 * samples is within 3% (or 2 MiB) of the median of the first quarter: a leak
 * grows with the message count and shows there. The least-squares slope is
 * reported beside it, and the whole series is kept.
 */
import type { LoadResult } from '../src/client/load/runner.js';
import { rssBytes, runLoadProcess, startSkein } from './lib/proc.js';
import { MiB, linearFit, median, round } from './lib/stats.js';

export interface SoakResult {
  readonly messages: number;
  readonly connections: number;
  readonly pipeline: number;
  readonly load: LoadResult;
  readonly samples: ReadonlyArray<{ readonly seconds: number; readonly rssMiB: number }>;
  /** Messages of the warm-up load that ran before sampling started. */
  readonly warmupMessages: number;
  /** Median RSS of the first and last quarter of the samples. */
  readonly earlyMiB: number;
  readonly lateMiB: number;
  readonly growthMiB: number;
  /** Least-squares slope after warm-up, MiB per minute. */
  readonly slopeMiBPerMinute: number;
  readonly flat: boolean;
}

export async function runSoak(
  messages: number,
  warmupMessages: number,
  connections: number,
  pipeline: number,
  log: (line: string) => void,
): Promise<SoakResult> {
  const server = await startSkein('processed', 1);
  const pid = server.workerPids[0]!;
  const samples: Array<{ seconds: number; rssMiB: number }> = [];
  const args = (n: number) => ['--port', String(server.port), '--preset', 'processed', '--payload', '64', '-c', String(connections), '-p', String(pipeline), '-n', String(n), '--threads', '2'];
  let sampler: NodeJS.Timeout | undefined;
  let load: LoadResult;
  try {
    if (warmupMessages > 0) {
      const warm = await runLoadProcess(args(warmupMessages));
      log(`  warm-up: ${warm.requests} messages in ${warm.durationSeconds} s, worker RSS ${round(rssBytes(pid) / MiB)} MiB`);
    }
    const start = performance.now();
    sampler = setInterval(() => {
      const seconds = (performance.now() - start) / 1000;
      samples.push({ seconds: round(seconds, 1), rssMiB: round(rssBytes(pid) / MiB) });
      if (samples.length % 15 === 0) log(`  soak ${Math.round(seconds)} s: worker RSS ${samples.at(-1)!.rssMiB} MiB`);
    }, 1000);
    load = await runLoadProcess(args(messages));
  } finally {
    clearInterval(sampler);
    await server.stop();
  }
  const steady = samples;
  const quarter = Math.max(1, Math.floor(steady.length / 4));
  const early = median(steady.slice(0, quarter).map((s) => s.rssMiB));
  const late = median(steady.slice(-quarter).map((s) => s.rssMiB));
  const fit = linearFit(
    steady.map((s) => s.seconds),
    steady.map((s) => s.rssMiB),
  );
  const growth = late - early;
  return {
    messages,
    warmupMessages,
    connections,
    pipeline,
    load,
    samples,
    earlyMiB: round(early),
    lateMiB: round(late),
    growthMiB: round(growth),
    slopeMiBPerMinute: round(fit.slope * 60, 3),
    flat: growth <= Math.max(2, early * 0.03),
  };
}
