import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as PiscinaModule from 'piscina';
import type { Logger } from '../../shared/log.js';
import type { OffloadRequest } from '../../shared/protocol/services.js';
import type { ProcessorHostData, ProcessorResult, ProcessorTask } from './processor-host.js';
import { fromSource, ownModule, threadExecArgv } from '../../shared/config/loader.js';
import { asBuffer, MOVE_AT_LEAST } from '../../shared/protocol/bytes.js';

type Piscina = PiscinaModule.Piscina;

/** What the threads are started with. */
export interface ThreadOptions {
  readonly threads: number;
  readonly idleTimeoutSeconds: number;
  /** How long `close` lets running tasks finish. */
  readonly closeTimeoutSeconds: number;
  /** MiB of heap (V8's old generation) a thread may use: past it node stops the thread, and its task fails. */
  readonly memoryMb: number;
  /** The pool's shared abort slots (see abort-flag.ts). */
  readonly flags: Int32Array;
}

/**
 * The piscina side of the offload pool: starts its threads on demand, all at
 * once, and stops them all once the pool has been idle for the idle timeout;
 * runs one message on a thread, terminates a thread by id. All at once: a
 * thread started one by one as load rises takes about 50-100 ms to boot, and
 * the tasks waiting for it (another client's among them) wait that long.
 * The caller never hands it more tasks than threads, so piscina's own queue
 * (unbounded, and whose abort kills threads) holds at most the tasks waiting
 * for a thread that is still starting.
 */
export class PoolThreads {
  private piscina: Piscina | undefined;
  /** Tasks on the threads now. */
  private running = 0;
  /** Stops the threads once nothing has run for the idle timeout: one timer, refreshed, not one per task. */
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: ThreadOptions,
    private readonly log: Logger | undefined,
    /** True while tasks are handed to threads (they would hang if no thread could start). */
    private readonly busy: () => boolean,
  ) {}

  /**
   * Runs a task on a thread with abort slot `slot`. Resolves with the
   * processor's outcome (Buffers restored); rejects only when the thread died
   * (or the pool was torn down) under it.
   */
  run(request: OffloadRequest, slot: number): Promise<ProcessorResult> {
    const pool = (this.piscina ??= this.create());
    this.running++;
    let sent: Promise<unknown>;
    try {
      sent = send(pool, request, slot);
    } catch (error) {
      sent = Promise.reject(error);
    }
    // One promise between piscina's and the caller's, and no closure per task.
    return sent.then(this.resolved, this.rejected);
  }

  private readonly resolved = (result: unknown): ProcessorResult => {
    this.ended();
    return restore(result as ProcessorResult);
  };

  private readonly rejected = (error: unknown): never => {
    this.ended();
    throw error;
  };

  /** A task left its thread: the last one to finish arms the idle timer (if it fires while tasks run, stopIfIdle does nothing). */
  private ended(): void {
    if (--this.running === 0) {
      if (this.idleTimer) this.idleTimer.refresh();
      else this.idleTimer = setTimeout(stopIfIdle, this.options.idleTimeoutSeconds * 1000, this).unref();
    }
  }

  /** Loads piscina (once per process) without starting threads: see {@link loadPiscina}. */
  load(): void {
    loadPiscina();
  }

  /** Threads alive (started or starting). */
  get threadCount(): number {
    return this.piscina?.threads.length ?? 0;
  }

  /** Ends the thread with this id (piscina fails its task and starts another thread when needed). */
  terminate(threadId: number): void {
    void this.piscina?.threads.find((t) => t.threadId === threadId)?.terminate();
  }

  /** Lets running tasks finish (up to the close timeout), then stops the threads. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const pool = this.piscina;
    this.piscina = undefined;
    await pool?.close();
  }

  /** @internal The idle timeout ran out: stops the threads if nothing runs. */
  stopIfIdle(): void {
    const pool = this.piscina;
    if (pool === undefined || this.running > 0) return;
    this.piscina = undefined;
    void pool.close();
  }

  private create(): Piscina {
    const pool = new (loadPiscina())({
      // From source a thread cannot import the .ts host natively: it starts on a bootstrap that loads it through tsx.
      filename: fromSource ? new URL('./processor-host-from-source.mjs', import.meta.url).href : ownModule('./processor-host', import.meta.url).href,
      minThreads: this.options.threads,
      maxThreads: this.options.threads,
      closeTimeout: this.options.closeTimeoutSeconds * 1000,
      execArgv: threadExecArgv(),
      recordTiming: false,
      // A processor that allocates without bound (hostile input, a bug) loses its thread, not the worker's memory.
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryMb },
      // An idle thread waits on its event loop, not blocked in Atomics.wait (piscina's default): async work a
      // processor started (and the abort follower of abort-flag.ts) goes on between tasks, and a task reaches
      // its thread with the port's wake-up alone, not that plus a futex wake (about 15% less per task at depth).
      atomics: 'disabled',
      workerData: { flags: this.options.flags } satisfies ProcessorHostData,
    });
    // piscina emits 'error' when a thread dies with no task on it; unheard, that would end the worker process.
    pool.on('error', (error: unknown) => {
      this.log?.warn({ err: error }, 'offload pool thread error');
      // A thread that fails while starting leaves piscina with tasks and no thread to run them
      // (it stops replacing threads that fail at startup): fail them and start over with a fresh pool.
      if (pool.threads.length === 0 && this.piscina === pool && this.busy()) {
        this.piscina = undefined;
        void pool.destroy();
      }
    });
    return pool;
  }
}

let PiscinaClass: typeof PiscinaModule.Piscina | undefined;

/**
 * piscina, loaded once a factory with a processors module starts (or at the
 * first task): a worker whose protocols never offload does not pay for
 * importing it (about 20 ms of CPU at each start, which rolling reloads and
 * replaced workers pay again).
 */
function loadPiscina(): typeof PiscinaModule.Piscina {
  return (PiscinaClass ??= (createRequire(import.meta.url)('piscina') as typeof PiscinaModule).Piscina);
}

/** Posts one task to a thread: the payload compacted, or moved when it is large binary. */
function send(pool: Piscina, request: OffloadRequest, slot: number): Promise<unknown> {
  const transfer = request.options?.transfer;
  const payload = transfer ? request.payload : compact(request.payload);
  // A large binary payload crosses as one copy moved, not structured-cloned (two copies); the
  // caller's own buffer is left untouched (compact copied it, or it is copied here).
  const moved = !transfer && payload instanceof Uint8Array && payload.byteLength >= MOVE_AT_LEAST ? (payload === request.payload ? new Uint8Array(payload) : payload) : undefined;
  const message: ProcessorTask = { processors: toSpecifier(request.processors), task: request.task, payload: moved ?? payload, slot };
  const transferList = transfer ? transfer.map(toTransferable) : moved ? [moved.buffer] : undefined;
  return transferList ? pool.run(message, { transferList: transferList as never }) : pool.run(message);
}

/** A processor's value crossed back as a Uint8Array (structured clone drops the Buffer class): a Buffer again. */
function restore(result: ProcessorResult): ProcessorResult {
  if (result.ok) result.value = asBuffer(result.value);
  return result;
}

function stopIfIdle(threads: PoolThreads): void {
  threads.stopIfIdle();
}

/** Paths already turned into file URLs: a worker offloads to a handful of modules, each many times. */
const specifiers = new Map<string, string>();
const MAX_SPECIFIERS = 256;

/** The module specifier threads import: a file URL for a path. */
function toSpecifier(processors: string): string {
  if (/^[a-z]+:/i.test(processors)) return processors;
  let specifier = specifiers.get(processors);
  if (specifier === undefined) {
    if (specifiers.size >= MAX_SPECIFIERS) specifiers.clear();
    specifiers.set(processors, (specifier = pathToFileURL(processors).href));
  }
  return specifier;
}

function toTransferable(item: ArrayBufferLike | ArrayBufferView): ArrayBufferLike {
  return ArrayBuffer.isView(item) ? item.buffer : item;
}

/**
 * Structured clone copies a typed array with its whole ArrayBuffer: a small
 * Buffer is a view of an 8 KiB pool slab, a line a view of its read chunk.
 * Copy such a view first so only its own bytes cross to the thread.
 */
function compact(payload: unknown): unknown {
  return payload instanceof Uint8Array && payload.byteLength !== payload.buffer.byteLength ? new Uint8Array(payload) : payload;
}
