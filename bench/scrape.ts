/**
 * How long a scrape of /metrics takes, with every worker live and with one
 * worker stopped (SIGSTOP): the primary answers for a stopped worker from its
 * last report after `--metrics-worker-wait` (0.1 s by default) instead of
 * waiting for the deadline. Target: under 250 ms with a stopped worker.
 *
 *   node --import tsx bench/scrape.ts   (after npm run build)
 */
import { freePort, startSkein } from './lib/proc.js';
import { median, round } from './lib/stats.js';

/** The target for a scrape with a stopped worker, ms. */
export const STOPPED_SCRAPE_TARGET_MS = 250;

export interface ScrapeResult {
  readonly workers: number;
  readonly rounds: number;
  /** Milliseconds per scrape, every worker live. */
  readonly liveMs: number[];
  /** Milliseconds per scrape, one worker stopped. */
  readonly stoppedMs: number[];
  readonly liveMedianMs: number;
  readonly stoppedMedianMs: number;
  readonly stoppedMaxMs: number;
  /** Every scrape with the stopped worker marked it `skein_worker_stale 1`. */
  readonly markedStale: boolean;
}

async function timedScrape(port: number): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
  return { ms: performance.now() - started, text };
}

/** Scrapes `rounds` times with every worker live, then `rounds` times with worker 0 stopped. */
export async function runScrape(rounds: number, log: (line: string) => void): Promise<ScrapeResult> {
  const metricsPort = await freePort();
  const workers = 2;
  const server = await startSkein('lines', workers, ['--metrics-port', String(metricsPort)]);
  const liveMs: number[] = [];
  const stoppedMs: number[] = [];
  let markedStale = true;
  try {
    await timedScrape(metricsPort); // the first scrape builds the registries
    for (let i = 0; i < rounds; i++) liveMs.push((await timedScrape(metricsPort)).ms);
    const stopped = server.workerPids[0]!;
    process.kill(stopped, 'SIGSTOP');
    try {
      for (let i = 0; i < rounds; i++) {
        const { ms, text } = await timedScrape(metricsPort);
        stoppedMs.push(ms);
        if (!/^skein_worker_stale\{worker="0"\} 1$/m.test(text)) markedStale = false;
      }
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  } finally {
    await server.stop();
  }
  const result: ScrapeResult = {
    workers,
    rounds,
    liveMs: liveMs.map((ms) => round(ms, 1)),
    stoppedMs: stoppedMs.map((ms) => round(ms, 1)),
    liveMedianMs: round(median(liveMs), 1),
    stoppedMedianMs: round(median(stoppedMs), 1),
    stoppedMaxMs: round(Math.max(...stoppedMs), 1),
    markedStale,
  };
  log(`  scrape, all live: median ${result.liveMedianMs} ms; one worker stopped: median ${result.stoppedMedianMs} ms, max ${result.stoppedMaxMs} ms; marked stale: ${markedStale}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runScrape(5, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
