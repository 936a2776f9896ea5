/**
 * Offload figures of one worker: plain numbers bumped per task and copied into
 * prom-client when a scrape collects.
 */

/** Outcome of an offloaded task: the `status` label of `skein_offload_tasks_total`. */
export type OffloadStatus = 'completed' | 'failed' | 'cancelled' | 'rejected';

/** Counters of one protocol's offloaded tasks. */
export class OffloadCounts {
  completed = 0;
  /** The processor threw, or its thread died. */
  failed = 0;
  /** Removed from the queue, or aborted while running (connection lost, or the caller's signal). */
  cancelled = 0;
  /** Refused because the queue was full under the `reject` overload policy. */
  rejected = 0;
  /** Tasks of this protocol waiting in the pool queue now. */
  queued = 0;

  constructor(readonly protocol: string) {}
}

/**
 * Busy thread-time over wall time × threads, measured between two samples (the
 * scrapes), so the gauge shows how busy the pool was lately, not since it
 * started (piscina's own `utilization` averages over the pool's whole life).
 */
export class UtilizationWindow {
  private windowStart = performance.now();
  private busy = 0; // ms of thread time in this window, tasks already finished
  private readonly running = new Set<{ started: number }>();

  constructor(private readonly threads: number) {}

  /** A task started on a thread. */
  start(task: { started: number }): void {
    this.running.add(task);
  }

  /** A task left its thread. */
  finish(task: { started: number }, now = performance.now()): void {
    if (!this.running.delete(task)) return;
    this.busy += now - Math.max(task.started, this.windowStart);
  }

  /** Fraction 0…1 of thread time spent on tasks since the previous sample; starts a new window. */
  sample(now = performance.now()): number {
    let busy = this.busy;
    for (const task of this.running) busy += now - Math.max(task.started, this.windowStart);
    const capacity = (now - this.windowStart) * this.threads;
    this.windowStart = now;
    this.busy = 0;
    return capacity > 0 ? Math.min(1, busy / capacity) : 0;
  }
}
