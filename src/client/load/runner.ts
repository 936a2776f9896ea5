import { Worker } from 'node:worker_threads';
import { LoadError } from '../../shared/protocol/errors.js';
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { fromSource, ownModule, tsxExecArgv } from '../../shared/config/loader.js';
import { LoadEngine, newHistogram, type EngineOptions, type EngineProgress } from './engine.js';
import type { LoadOptions } from './options.js';

/** Messages from a load thread to the runner. */
export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'warm' }
  | ({ type: 'progress' } & EngineProgress)
  | { type: 'result'; completed: number; errors: number; elapsed: number; stalled: boolean; histogram: string }
  | { type: 'error'; message: string };

/** Messages from the runner to a load thread: warm up (optional), then go. */
export type RunnerMessage = { type: 'warm'; seconds: number } | { type: 'go' };

/** What `skein load` reports (and prints with `--json`). */
export interface LoadResult {
  readonly target: string;
  readonly framing: string;
  readonly connections: number;
  readonly pipeline: number;
  readonly threads: number;
  readonly payloadBytes: number;
  /** Seconds of unmeasured load before the window (`--warmup`). */
  readonly warmupSeconds: number;
  /** Seconds of the measurement window. */
  readonly durationSeconds: number;
  /** Replies received in the window. */
  readonly requests: number;
  /** Connections lost before the end. */
  readonly errors: number;
  /** True when a request-count run stopped because replies stopped coming. */
  readonly stalled: boolean;
  /** Replies per second. */
  readonly throughput: number;
  /** Request latency (write to end of reply), milliseconds. Closed loop: subject to coordinated omission. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** The generator's own CPU over the window: seconds, and percent of one core (all threads). */
  readonly cpu: { readonly userSeconds: number; readonly systemSeconds: number; readonly percent: number };
}

/** Progress of the whole run, once a second. */
export interface LoadProgress {
  readonly elapsed: number;
  readonly completed: number;
  readonly errors: number;
  /** Replies per second over the last interval. */
  readonly rate: number;
}

/** Moments of a run, for tools that measure the target alongside (the bench samples the server's CPU). */
export interface LoadEvents {
  /** Every connection is open and ready; the warm-up (if any) is about to start. */
  warming?(): void;
  /** The measurement window opens: the first measured requests are about to leave. */
  started?(): void;
  /** The window closed (every thread reported); the connections are not closed yet. */
  finished?(): void;
}

interface Share {
  connections: number;
  requests: number | undefined;
}

/** Splits connections (and the request budget, in proportion) over `threads`. */
export function shareOut(connections: number, requests: number | undefined, threads: number): Share[] {
  const n = Math.max(1, Math.min(threads, connections));
  const shares: Share[] = [];
  let given = 0;
  for (let i = 0; i < n; i++) {
    const c = Math.floor(connections / n) + (i < connections % n ? 1 : 0);
    const r = requests === undefined ? undefined : i === n - 1 ? requests - given : Math.floor((requests * c) / connections);
    if (r !== undefined) given += r;
    shares.push({ connections: c, requests: r });
  }
  return shares;
}

/**
 * Runs a closed-loop load as `options` says, spreading the connections over
 * worker threads so the generator is not the bottleneck, and merges the
 * threads' latency histograms.
 *
 * @throws ConnectError (or Error with its message, from a thread) when a connection cannot be opened.
 */
export async function runLoad(options: LoadOptions, onProgress?: (progress: LoadProgress) => void, events: LoadEvents = {}): Promise<LoadResult> {
  const shares = shareOut(options.connections, options.requests, options.threads === 0 ? 1 : options.threads);
  const engineOptions = (share: Share): EngineOptions => ({
    host: options.host,
    port: options.port,
    connections: share.connections,
    pipeline: options.pipeline,
    duration: options.duration,
    requests: share.requests,
    greeting: options.greeting,
    spec: options.spec,
    connectTimeout: options.connectTimeout,
    warmup: options.warmup,
  });
  const runs = options.threads === 0 ? [inProcess(engineOptions(shares[0]!))] : shares.map((share) => inThread(engineOptions(share)));
  try {
    await Promise.all(runs.map((r) => r.ready));
    if (options.warmup > 0) {
      events.warming?.();
      await Promise.all(runs.map((r) => r.warm(options.warmup)));
    }
  } catch (error) {
    await Promise.all(runs.map((r) => r.close()));
    throw error;
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  events.started?.();
  let last = { at: started, completed: 0 };
  const ticker = setInterval(() => {
    const completed = runs.reduce((sum, r) => sum + r.progress.completed, 0);
    const errors = runs.reduce((sum, r) => sum + r.progress.errors, 0);
    const now = performance.now();
    onProgress?.({ elapsed: (now - started) / 1000, completed, errors, rate: ((completed - last.completed) * 1000) / (now - last.at) });
    last = { at: now, completed };
  }, 1000);
  try {
    const results = await Promise.all(runs.map((r) => r.go()));
    const cpu = process.cpuUsage(cpuBefore);
    events.finished?.();
    const histogram = newHistogram();
    for (const r of results) histogram.add(r.histogram);
    const elapsed = Math.max(...results.map((r) => r.elapsed));
    const requests = results.reduce((sum, r) => sum + r.completed, 0);
    const ms = (us: number) => Math.round(us) / 1000;
    const wall = (performance.now() - started) / 1000;
    return {
      target: `${options.host}:${options.port}`,
      framing: options.spec.framing,
      connections: options.connections,
      pipeline: options.pipeline,
      threads: options.threads,
      payloadBytes: options.spec.payload.length,
      warmupSeconds: options.warmup,
      durationSeconds: round(elapsed, 3),
      requests,
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      stalled: results.some((r) => r.stalled),
      throughput: round(elapsed > 0 ? requests / elapsed : 0, 1),
      latencyMs: {
        p50: ms(histogram.getValueAtPercentile(50)),
        p90: ms(histogram.getValueAtPercentile(90)),
        p99: ms(histogram.getValueAtPercentile(99)),
        max: ms(histogram.maxValue),
        mean: ms(histogram.mean),
      },
      cpu: {
        userSeconds: round(cpu.user / 1e6, 3),
        systemSeconds: round(cpu.system / 1e6, 3),
        percent: round(((cpu.user + cpu.system) / 1e6 / wall) * 100, 1),
      },
    };
  } finally {
    clearInterval(ticker);
    await Promise.all(runs.map((r) => r.close()));
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

interface RunResult {
  completed: number;
  errors: number;
  elapsed: number;
  stalled: boolean;
  histogram: Histogram;
}

/** One engine, wherever it runs. */
interface EngineRun {
  readonly ready: Promise<void>;
  readonly progress: EngineProgress;
  warm(seconds: number): Promise<void>;
  go(): Promise<RunResult>;
  close(): Promise<void>;
}

function inProcess(options: EngineOptions): EngineRun {
  const engine = new LoadEngine(options);
  let progress: EngineProgress = { completed: 0, errors: 0 };
  const ready = engine.connect();
  ready.catch(() => {}); // awaited by the runner; never an unhandled rejection
  return {
    ready,
    get progress() {
      return progress;
    },
    warm: (seconds) => engine.warm(seconds),
    go: () => engine.run((p) => (progress = p)),
    close: async () => {},
  };
}

function inThread(options: EngineOptions): EngineRun {
  // From TypeScript sources (tests, tsx) the thread needs tsx's loader too.
  const worker = new Worker(ownModule('./thread', import.meta.url), {
    workerData: options,
    ...(fromSource ? { execArgv: tsxExecArgv() } : {}),
  });
  let progress: EngineProgress = { completed: 0, errors: 0 };
  let onResult: ((r: RunResult) => void) | undefined;
  let onWarm: (() => void) | undefined;
  let onError: ((e: Error) => void) | undefined;
  const send = (message: RunnerMessage) => worker.postMessage(message);
  const ready = new Promise<void>((resolve, reject) => {
    onError = reject;
    worker.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'ready':
          return resolve();
        case 'warm':
          return onWarm?.();
        case 'progress':
          progress = { completed: message.completed, errors: message.errors };
          return;
        case 'result':
          progress = { completed: message.completed, errors: message.errors };
          return onResult?.({ ...message, histogram: decodeFromCompressedBase64(message.histogram) });
        case 'error':
          return onError?.(new LoadError(message.message));
      }
    });
    worker.on('error', (error) => onError?.(error));
    worker.on('exit', (code) => onError?.(new LoadError(`load thread exited (code ${code}) before reporting`)));
  });
  ready.catch(() => {}); // awaited by the runner; never an unhandled rejection
  return {
    ready,
    get progress() {
      return progress;
    },
    warm: (seconds) =>
      new Promise<void>((resolve, reject) => {
        onWarm = resolve;
        onError = reject;
        send({ type: 'warm', seconds });
      }),
    go: () =>
      new Promise<RunResult>((resolve, reject) => {
        onResult = resolve;
        onError = reject;
        send({ type: 'go' });
      }),
    close: async () => {
      onError = undefined;
      await worker.terminate();
    },
  };
}
