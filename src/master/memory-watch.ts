import type { Logger } from '../shared/log.js';
import { readRssMiB } from './rss.js';
import type { WorkerHandle } from './worker-handle.js';

/** How often worker memory is sampled. */
const RSS_INTERVAL_MS = 2000;

/** A serving worker the watch may recycle. */
export interface WatchedWorker {
  readonly slot: number;
  readonly worker: WorkerHandle;
}

/**
 * `--max-worker-rss`: samples each serving worker's RSS from /proc every few
 * seconds and asks for a graceful recycle of one above the ceiling. A worker
 * already above the ceiling when it started is left alone (its replacement
 * would be just as big, so recycling it would only churn).
 */
export class MemoryWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ceilingMiB: number,
    private readonly log: Logger,
  ) {}

  /**
   * Starts sampling. `serving()` lists the workers that may be recycled now
   * (listening, no replacement under way); `recycle` replaces one gracefully.
   */
  start(serving: () => readonly WatchedWorker[], recycle: (slot: number, worker: WorkerHandle) => void): void {
    this.timer = setInterval(() => {
      for (const { slot, worker } of serving()) {
        if (worker.firstRssMiB === undefined || worker.firstRssMiB > this.ceilingMiB || worker.pid === undefined) continue;
        void readRssMiB(worker.pid).then((rss) => {
          if (rss === undefined || rss <= this.ceilingMiB) return;
          this.log.warn(
            { worker: slot, pid: worker.pid, rssMiB: Math.round(rss), maxWorkerRss: this.ceilingMiB },
            `worker ${slot} uses ${Math.round(rss)} MiB (over --max-worker-rss ${this.ceilingMiB}); recycling it`,
          );
          recycle(slot, worker);
        });
      }
    }, RSS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Records a worker's RSS when it starts listening: the baseline the ceiling is judged against. */
  started(slot: number, worker: WorkerHandle): void {
    if (worker.pid === undefined) return;
    void readRssMiB(worker.pid).then((rss) => {
      if (rss === undefined) return;
      worker.firstRssMiB = rss;
      if (rss > this.ceilingMiB) {
        this.log.warn(
          { worker: slot, pid: worker.pid, rssMiB: Math.round(rss), maxWorkerRss: this.ceilingMiB },
          `worker ${slot} starts at ${Math.round(rss)} MiB, over --max-worker-rss ${this.ceilingMiB}; it will not be recycled`,
        );
      }
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
