import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { deserializeError, OffloadCancelledError } from '../shared/errors.js';
import type { OffloadRequest } from '../shared/services.js';
import type { ProcessorResult, ProcessorTask } from './processor-host.js';
import { tsxExecArgv } from '../shared/loader.js';

/** Sizing of one worker's pool. */
export interface PoolOptions {
  readonly threads: number;
  readonly maxQueue: number;
  readonly idleTimeoutSeconds: number;
}

/** Live pool figures for metrics. */
export interface PoolStats {
  completed: number;
  failed: number;
  cancelled: number;
}

/**
 * One piscina pool per worker process, shared by every factory in it. Created
 * on first use, so a protocol that never offloads costs no threads.
 */
export class OffloadPool {
  private piscina: Piscina | undefined;
  readonly stats: PoolStats = { completed: 0, failed: 0, cancelled: 0 };

  constructor(
    private readonly options: PoolOptions,
    /** Told each settled task's time in seconds (the duration histogram). */
    private readonly observe: (seconds: number) => void = () => {},
  ) {}

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.piscina?.queueSize ?? 0;
  }

  /** Fraction of thread time spent running tasks (piscina's utilization). */
  get utilization(): number {
    return this.piscina?.utilization ?? 0;
  }

  /** Runs one task on a pool thread and returns its result, or rejects with the typed error it threw. */
  async run(request: OffloadRequest): Promise<unknown> {
    const pool = (this.piscina ??= this.create());
    const signal = request.options?.signal;
    if (signal?.aborted) {
      this.stats.cancelled++;
      throw new OffloadCancelledError(`task '${request.task}' was cancelled before it started`);
    }
    const task: ProcessorTask = { processors: toSpecifier(request.processors), task: request.task, payload: request.payload };
    const started = performance.now();
    let result: ProcessorResult;
    try {
      result = (await pool.run(task, {
        ...(signal ? { signal } : {}),
        ...(request.options?.transfer ? { transferList: request.options.transfer as never } : {}),
      })) as ProcessorResult;
    } catch (error) {
      if (signal?.aborted) {
        this.stats.cancelled++;
        throw new OffloadCancelledError(`task '${request.task}' was cancelled`, { cause: error });
      }
      this.stats.failed++;
      throw error;
    }
    this.observe((performance.now() - started) / 1000);
    if (result.ok) {
      this.stats.completed++;
      return result.value;
    }
    this.stats.failed++;
    throw deserializeError(result.error);
  }

  /** Waits for running tasks, then stops the threads. */
  async close(): Promise<void> {
    const pool = this.piscina;
    this.piscina = undefined;
    await pool?.close();
  }

  private create(): Piscina {
    const host = new URL(`./processor-host${extname()}`, import.meta.url);
    return new Piscina({
      filename: host.href,
      minThreads: 0,
      maxThreads: this.options.threads,
      maxQueue: this.options.maxQueue,
      idleTimeout: this.options.idleTimeoutSeconds * 1000,
      execArgv: tsxExecArgv(),
    });
  }
}

/** `.ts` when skein itself runs from source (tests), `.js` from dist. */
function extname(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

function toSpecifier(processors: string): string {
  return /^[a-z]+:/i.test(processors) ? processors : pathToFileURL(processors).href;
}
