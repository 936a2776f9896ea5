import { deserializeError, OffloadCancelledError, OffloadError, OffloadOverloadError, OffloadThreadError, OffloadTimeoutError } from '../../shared/protocol/errors.js';
import type { Logger } from '../../shared/log.js';
import type { OffloadRequest, PausableReading } from '../../shared/protocol/services.js';
import { AbortSlots } from './abort-flag.js';
import { AbortGroups } from './abort-groups.js';
import { FairQueue } from './fair-queue.js';
import { Fifo } from './fifo.js';
import { OffloadCounts, UtilizationWindow } from './offload-stats.js';
import { PoolThreads } from './pool-threads.js';
import type { ProcessorResult } from './processor-host.js';
import type { PoolSettings } from '../../shared/config/option-table.js';

/** Sizing and policy of one worker's pool (defaults: `resolvePoolSettings`). */
export type PoolOptions = PoolSettings;

/** The waiting lane of tasks that have no connection (offloaded outside a connection). */
const NO_CONNECTION = {};

/** Why reading from a connection is paused while its tasks wait for room in the queue. */
export const POOL_QUEUE = 'offload-queue';

type Stage = 'waiting' | 'queued' | 'running' | 'abandoned' | 'settled';

interface Task {
  readonly request: OffloadRequest;
  readonly counts: OffloadCounts;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  stage: Stage;
  started: number;
  /** Its abort slot while it is on a thread. */
  slot: number;
  grace?: NodeJS.Timeout;
  /** In the abort groups of its signal and its connection's lifetime until it settles. */
  listening: boolean;
  /** Counted in its connection's tasks in the pool until it settles. */
  counted: boolean;
}

/**
 * One piscina pool per worker process, shared by every factory in it.
 *
 * A task goes through three stages, each bounded:
 * - running: at most `threads` tasks are handed to the threads (piscina),
 *   one per thread, so cancelling never kills a thread (see abort-flag.ts);
 * - queued: at most `maxQueue` tasks wait here for a thread;
 * - waiting (policy `pause`): tasks that found the queue full. Their
 *   connections stop reading until the tasks move into the queue, so this
 *   holds at most what those connections had already read.
 * The queue is first in, first out; waiting tasks enter it fairly by
 * connection (in turn, in order within one, see fair-queue.ts), so one deep
 * pipeline cannot starve the rest, and a connection that was idle goes ahead
 * of the backlogged ones: it waits for the queue, not for every abusive client.
 */
export class OffloadPool {
  private readonly threads: PoolThreads;
  private readonly queue = new Fifo<Task>();
  private readonly waiting = new FairQueue<Task>((task) => task.request.connection ?? NO_CONNECTION);
  /** Waiting tasks per paused connection. */
  private readonly paused = new Map<PausableReading, number>();
  /** Tasks in the pool (waiting, queued or running) per connection: one with none is idle (see fair-queue.ts). */
  private readonly inPool = new Map<PausableReading, number>();
  private running = 0;
  private readonly counts = new Map<string, OffloadCounts>();
  private readonly window: UtilizationWindow;
  private readonly slots: AbortSlots;
  private readonly aborts = new AbortGroups<Task>((task) => this.cancel(task, cancelled(task, 'it was cancelled')));
  /** The task on each abort slot (one per thread) while it runs: what the time limit checks. */
  private readonly onThreads: (Task | undefined)[] = [];
  /** Checks running tasks against `taskTimeoutSeconds`: one timer per pool, only while tasks run. */
  private deadlines: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly options: PoolOptions,
    private readonly log?: Logger,
    /** Told each task's time on its thread, in seconds (the duration histogram). */
    private readonly observe: (protocol: string, seconds: number) => void = () => {},
  ) {
    this.window = new UtilizationWindow(options.threads);
    this.slots = new AbortSlots(options.threads);
    this.threads = new PoolThreads(
      {
        threads: options.threads,
        idleTimeoutSeconds: options.idleTimeoutSeconds,
        closeTimeoutSeconds: options.abortGraceSeconds,
        memoryMb: options.threadMemoryMb,
        flags: this.slots.array,
      },
      log,
      () => this.running > 0,
    );
  }

  /** Tasks waiting for a thread (never more than `maxQueue`). */
  get queueSize(): number {
    return this.queue.size;
  }

  /** Tasks that found the queue full and wait for room, their connections paused. */
  get waitingSize(): number {
    return this.waiting.size;
  }

  /** Tasks on threads now (including cancelled ones still winding down). */
  get runningSize(): number {
    return this.running;
  }

  /** Pool threads alive (started or starting): 0 before the first task and after the idle timeout. */
  get threadCount(): number {
    return this.threads.threadCount;
  }

  /** Counters by protocol. */
  get stats(): Iterable<OffloadCounts> {
    return this.counts.values();
  }

  /**
   * A factory that may offload started for `protocol`: its counters exist (at zero) before its first task,
   * so its series show in scrapes from the start, and piscina is loaded now, at start-up, rather than on the
   * event loop at the first task, where another connection's reply would wait for it.
   */
  register(protocol: string): void {
    this.countsOf(protocol);
    this.threads.load();
  }

  /** Fraction of thread time spent on tasks since the previous call. */
  sampleUtilization(): number {
    return this.window.sample();
  }

  /**
   * Runs one task on a pool thread and returns its result.
   * Rejects with the typed error the processor threw (name, code and message
   * kept), OffloadCancelledError, OffloadOverloadError (policy `reject`), or
   * OffloadThreadError when the thread died under the task.
   */
  run(request: OffloadRequest): Promise<unknown> {
    const counts = this.countsOf(request.protocol);
    if (request.options?.signal?.aborted || request.lifetime?.aborted || this.closed) {
      counts.cancelled++;
      return Promise.reject(new OffloadCancelledError(`task '${request.task}' was cancelled before it started`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const task: Task = { request, counts, resolve, reject, stage: 'waiting', started: 0, slot: -1, listening: false, counted: false };
      const idle = this.count(task);
      if (this.waiting.size === 0 && this.queue.size === 0 && this.running < this.options.threads) {
        this.dispatch(task);
      } else if (this.waiting.size === 0 && this.queue.size < this.options.maxQueue) {
        this.enqueue(task);
      } else if (this.options.overload === 'reject') {
        counts.rejected++;
        reject(new OffloadOverloadError(`offload queue is full (${this.options.maxQueue} tasks): '${request.task}' rejected`));
        return;
      } else {
        this.wait(task, idle);
      }
      this.listen(task);
    });
  }

  /**
   * Stops: tasks not yet on a thread are cancelled, running ones may finish
   * (up to `abortGraceSeconds`), then the threads exit.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (let t = this.waiting.shift(); t; t = this.waiting.shift()) this.cancel(t, cancelled(t, 'the pool is closing'));
    for (let t = this.queue.shift(); t; t = this.queue.shift()) this.cancel(t, cancelled(t, 'the pool is closing'));
    await this.threads.close();
    if (this.deadlines) clearInterval(this.deadlines);
  }

  private countsOf(protocol: string): OffloadCounts {
    let counts = this.counts.get(protocol);
    if (!counts) this.counts.set(protocol, (counts = new OffloadCounts(protocol)));
    return counts;
  }

  /** One listener per signal (a connection's lifetime is shared by all its tasks), not one per task. */
  private listen(task: Task): void {
    if (task.stage === 'settled') return;
    const { signal } = task.request.options ?? {};
    const lifetime = task.request.lifetime;
    if (signal) this.aborts.add(signal, task);
    if (lifetime) this.aborts.add(lifetime, task);
    task.listening = signal !== undefined || lifetime !== undefined;
  }

  /** Counts `task` in its connection's tasks in the pool; true when the connection had none (it was idle). */
  private count(task: Task): boolean {
    const connection = task.request.connection;
    if (!connection) return false;
    const n = this.inPool.get(connection) ?? 0;
    this.inPool.set(connection, n + 1);
    task.counted = true;
    return n === 0;
  }

  private uncount(task: Task): void {
    const connection = task.request.connection;
    if (!task.counted || !connection) return;
    task.counted = false;
    const n = (this.inPool.get(connection) ?? 1) - 1;
    if (n > 0) this.inPool.set(connection, n);
    else this.inPool.delete(connection);
  }

  private wait(task: Task, idle: boolean): void {
    task.stage = 'waiting';
    this.waiting.push(task, idle);
    const connection = task.request.connection;
    if (!connection) return;
    const n = this.paused.get(connection) ?? 0;
    this.paused.set(connection, n + 1);
    if (n === 0) connection.pauseReading(POOL_QUEUE);
  }

  /** A task left the waiting stage: its connection reads again once none of its tasks wait. */
  private unwait(task: Task): void {
    const connection = task.request.connection;
    if (!connection) return;
    const n = (this.paused.get(connection) ?? 1) - 1;
    if (n > 0) {
      this.paused.set(connection, n);
      return;
    }
    this.paused.delete(connection);
    connection.resumeReading(POOL_QUEUE);
  }

  private enqueue(task: Task): void {
    task.stage = 'queued';
    task.counts.queued++;
    this.queue.push(task);
  }

  /** Moves tasks forward: queue → threads, then waiting → threads or queue. */
  private pump(): void {
    if (this.closed) return;
    while (this.running < this.options.threads) {
      const queued = this.queue.shift();
      if (queued) {
        queued.counts.queued--;
        this.dispatch(queued);
        continue;
      }
      const waiting = this.waiting.shift();
      if (!waiting) break;
      this.unwait(waiting);
      this.dispatch(waiting);
    }
    while (this.queue.size < this.options.maxQueue) {
      const waiting = this.waiting.shift();
      if (!waiting) break;
      this.unwait(waiting);
      this.enqueue(waiting);
    }
  }

  private dispatch(task: Task): void {
    task.stage = 'running';
    task.started = performance.now();
    task.slot = this.slots.take();
    this.onThreads[task.slot] = task;
    this.running++;
    this.deadlines ??= setInterval(checkDeadlines, deadlineCheckMs(this.options.taskTimeoutSeconds), this).unref();
    this.window.start(task);
    this.threads.run(task.request, task.slot).then(
      (result: ProcessorResult) => this.finished(task, result, undefined),
      (error: unknown) => this.finished(task, undefined, error),
    );
  }

  /** The thread is free again (the task ended, or its thread died). */
  private finished(task: Task, result: ProcessorResult | undefined, threadError: unknown): void {
    const now = performance.now();
    this.running--;
    this.window.finish(task, now);
    if (task.grace) clearTimeout(task.grace);
    // The thread is done with the slot (it lowered it before answering, or it is dead).
    this.onThreads[task.slot] = undefined;
    this.slots.give(task.slot);
    if (task.stage === 'running') {
      this.settle(task);
      this.observe(task.request.protocol, (now - task.started) / 1000);
      if (result?.ok) {
        task.counts.completed++;
        task.resolve(result.value);
      } else {
        task.counts.failed++;
        task.reject(
          result
            ? deserializeError(result.error, OffloadError)
            : new OffloadThreadError(`pool thread died while running '${task.request.task}': ${(threadError as Error)?.message ?? String(threadError)}`, {
                cause: threadError,
              }),
        );
      }
    }
    task.stage = 'settled';
    this.uncount(task);
    this.pump();
  }

  /** @internal Cancels each task that has run longer than the time limit; stops checking once none runs. */
  checkDeadlines(now: number): void {
    if (this.running === 0) {
      clearInterval(this.deadlines);
      this.deadlines = undefined;
      return;
    }
    const limitMs = this.options.taskTimeoutSeconds * 1000;
    for (const task of this.onThreads) {
      if (task?.stage !== 'running' || now - task.started <= limitMs) continue;
      const error = new OffloadTimeoutError(`task '${task.request.task}' ran longer than the pool's task timeout (${this.options.taskTimeoutSeconds} s)`);
      this.log?.warn({ task: task.request.task, protocol: task.request.protocol, seconds: this.options.taskTimeoutSeconds }, 'offloaded task timed out; cancelled');
      this.cancel(task, error);
    }
  }

  /** Cancels a task in any stage, rejecting it with `reason`; a running task keeps its thread until the processor returns. */
  private cancel(task: Task, reason: Error): void {
    const stage = task.stage;
    if (stage === 'settled' || stage === 'abandoned') return;
    if (stage === 'waiting') {
      this.waiting.remove(task);
      this.unwait(task);
    } else if (stage === 'queued') {
      this.queue.remove(task);
      task.counts.queued--;
    }
    this.settle(task);
    task.counts.cancelled++;
    task.reject(reason);
    if (stage === 'running') {
      task.stage = 'abandoned';
      this.slots.raise(task.slot);
      task.grace = setTimeout(() => this.terminate(task), this.options.abortGraceSeconds * 1000);
      task.grace.unref();
    } else {
      task.stage = 'settled';
      this.uncount(task);
      this.pump();
    }
  }

  private settle(task: Task): void {
    if (!task.listening) return;
    task.listening = false;
    const { signal } = task.request.options ?? {};
    if (signal) this.aborts.delete(signal, task);
    if (task.request.lifetime) this.aborts.delete(task.request.lifetime, task);
  }

  /** A cancelled task ignored its signal for too long: end its thread (piscina replaces it). */
  private terminate(task: Task): void {
    if (task.stage !== 'abandoned') return;
    const id = this.slots.threadOf(task.slot);
    if (id === 0) {
      // Not picked up by a thread yet (one is still starting): it will see the flag when it starts.
      task.grace = setTimeout(() => this.terminate(task), this.options.abortGraceSeconds * 1000);
      task.grace.unref();
      return;
    }
    this.log?.warn({ task: task.request.task, protocol: task.request.protocol, threadId: id }, 'cancelled task ignored its signal; terminating its pool thread');
    this.threads.terminate(id);
  }
}

function cancelled(task: Task, why: string): OffloadCancelledError {
  return new OffloadCancelledError(`task '${task.request.task}' was cancelled: ${why}`);
}

/** How often running tasks are checked against a limit of `seconds`: a tenth of it, between 10 ms and 1 s. */
function deadlineCheckMs(seconds: number): number {
  return Math.min(1000, Math.max(10, seconds * 100));
}

function checkDeadlines(pool: OffloadPool): void {
  pool.checkDeadlines(performance.now());
}
