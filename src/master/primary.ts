import cluster from 'node:cluster';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import { formatEndpoint, parseEndpoint, withPort } from '../shared/endpoint.js';
import { CrashLoopError, deserializeError } from '../shared/errors.js';
import { isSkeinMessage, WORKER_CONFIG_ENV, type BoundEndpoint, type WorkerConfig, type WorkerMessage } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import type { ServerOptions, ServiceConfig } from '../shared/options.js';
import { MetricsAggregator, type ScrapeTarget } from './metrics-aggregator.js';
import { RestartPolicy } from './restart-policy.js';
import { readRssMiB } from './rss.js';
import { WorkerHandle } from './worker-handle.js';

/** How the primary forks its workers. */
export interface PrimaryConfig {
  readonly options: ServerOptions;
  /** The script workers run (skein's worker entry, or the user's own script for `serve()`). */
  readonly exec: string;
  readonly execArgv: readonly string[];
  readonly log: Logger;
}

/** One place in the pool of workers; its index is the `worker` metric label. */
interface Slot {
  readonly index: number;
  /** The worker serving this slot (undefined between a death and its replacement). */
  current: WorkerHandle | undefined;
  /** A replacement starting up (reload, memory recycle); it takes over once listening. */
  pending: WorkerHandle | undefined;
  replacing: Promise<boolean> | undefined;
  respawn: NodeJS.Timeout | undefined;
  /** Retired by SIGTTOU: not respawned, not reloaded. */
  removed: boolean;
}

/** How long a replacement may take to start listening before a reload gives up on it. */
const READY_TIMEOUT_MS = 60_000;
/** How often worker memory is sampled when `--max-worker-rss` is set. */
const RSS_INTERVAL_MS = 2000;

/**
 * The primary: forks one worker per slot with node:cluster (round-robin),
 * replaces workers that die (with backoff, stopping on a crash loop), reloads
 * them one at a time (replacement first, then drain), scales up and down,
 * recycles workers over the memory ceiling, pins port-0 listeners to the port
 * they got, and drains workers on shutdown.
 *
 * Events: `ready` (every slot listening, once), `fatal` (Error: the server
 * cannot run), `exit` (after shutdown).
 */
export class Primary extends EventEmitter {
  readonly metrics: MetricsAggregator;
  private readonly slots: Slot[] = [];
  /** Every live worker process: current, pending and retiring ones. */
  private readonly workers = new Map<number, WorkerHandle>();
  private readonly restarts: RestartPolicy;
  /** Port each port-0 endpoint got, by endpoint string. */
  private readonly pinned = new Map<string, number>();
  private endpoints: BoundEndpoint[] = [];
  private everReady = false;
  private stopping = false;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private rssTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: PrimaryConfig) {
    super();
    this.metrics = new MetricsAggregator(config.options.metricsTimeout * 1000);
    this.restarts = new RestartPolicy(config.options.crashLoopDeaths, config.options.crashLoopWindow * 1000);
  }

  private get log(): Logger {
    return this.config.log;
  }

  /** Endpoints as bound (real ports), from the first worker that reported. */
  get boundEndpoints(): readonly BoundEndpoint[] {
    return this.endpoints;
  }

  /** True while at least one worker listens and the server is not draining. */
  get isReady(): boolean {
    return !this.stopping && [...this.workers.values()].some((w) => w.ready);
  }

  /** Number of slots (the worker count SIGTTIN/SIGTTOU change). */
  get workerCount(): number {
    return this.slots.length;
  }

  /** Forks every worker. Listen for `ready` and `fatal`. */
  async start(): Promise<void> {
    await this.pinPortZero();
    if (this.stopping) return; // told to stop while it was starting
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: this.config.exec, execArgv: [...this.config.execArgv] });
    for (let i = 0; i < this.config.options.workers; i++) this.addSlot();
    this.watchMemory();
  }

  /**
   * Live workers as scrape targets (two may share a slot during a reload). A
   * worker still starting is left out: it may not listen for requests yet, and
   * the scrape would wait for it until the deadline.
   */
  scrapeTargets(): ScrapeTarget[] {
    return [...this.workers.values()]
      .filter((w) => w.started && !w.isDead)
      .map((w) => ({ slot: w.slot, worker: w.id, request: (id: number) => w.send({ type: 'skein:metrics:req', id }) }));
  }

  /** Pids of the serving workers, by slot. */
  workerPids(): number[] {
    return this.slots.flatMap((s) => (s.current?.pid !== undefined ? [s.current.pid] : []));
  }

  /**
   * Drains every worker (they stop accepting, finish in-flight work, and close
   * what is left after the shutdown timeout), then resolves.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.rssTimer) clearInterval(this.rssTimer);
    for (const slot of this.slots) if (slot.respawn) clearTimeout(slot.respawn);
    const timeoutMs = this.config.options.shutdownTimeout * 1000;
    const exits = [...this.workers.values()].map((w) => w.drain(timeoutMs));
    this.updateAlive();
    await Promise.all(exits);
  }

  /** Cuts a drain short (a second signal): workers close what is left now and exit. */
  force(): void {
    this.stopping = true;
    for (const w of this.workers.values()) w.force();
  }

  /** Kills every worker at once. */
  kill(): void {
    this.stopping = true;
    if (this.rssTimer) clearInterval(this.rssTimer);
    for (const slot of this.slots) if (slot.respawn) clearTimeout(slot.respawn);
    for (const w of this.workers.values()) w.kill();
  }

  /**
   * Rolling reload (SIGHUP): for each slot in turn, forks a fresh worker (which
   * imports the protocol module anew), waits until it listens, then drains the
   * old one. A replacement that fails to start stops the reload and the old
   * workers keep serving. A reload asked for during one runs after it.
   */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        this.log.info({ workers: this.slots.length }, 'reloading workers one at a time');
        let replaced = 0;
        for (const slot of [...this.slots]) {
          if (this.stopping) return;
          if (slot.removed) continue;
          if (!(await this.replace(slot, 'reload'))) break;
          replaced++;
        }
        if (this.stopping) return;
        if (replaced === this.slots.filter((s) => !s.removed).length) {
          this.log.info({ pids: this.workerPids() }, `reload complete: ${replaced} workers replaced`);
        } else {
          this.log.error({ pids: this.workerPids() }, `reload stopped after ${replaced} workers; the others keep running`);
        }
      } while (this.reloadAgain && !this.stopping);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Adds a worker (SIGTTIN). */
  addWorker(): void {
    if (this.stopping) return;
    const slot = this.addSlot();
    this.log.info({ worker: slot.index, workers: this.slots.length }, `adding worker ${slot.index}`);
  }

  /** Gracefully retires the last worker (SIGTTOU), never the only one. */
  removeWorker(): void {
    if (this.stopping) return;
    if (this.slots.length <= 1) {
      this.log.warn('not removing the last worker');
      return;
    }
    const slot = this.slots.pop()!;
    slot.removed = true;
    if (slot.respawn) clearTimeout(slot.respawn);
    this.log.info({ worker: slot.index, workers: this.slots.length }, `retiring worker ${slot.index}`);
    const timeoutMs = this.config.options.shutdownTimeout * 1000;
    for (const w of [slot.pending, slot.current]) if (w) void w.drain(timeoutMs);
    this.updateAlive();
  }

  private addSlot(): Slot {
    const slot: Slot = { index: this.slots.length, current: undefined, pending: undefined, replacing: undefined, respawn: undefined, removed: false };
    this.slots.push(slot);
    slot.current = this.spawn(slot);
    return slot;
  }

  /**
   * Replaces the worker of `slot` without a gap: forks the replacement, waits
   * until it listens, then drains the old worker (without waiting for it to
   * finish). Resolves false when the replacement failed to start.
   */
  private replace(slot: Slot, why: string): Promise<boolean> {
    slot.replacing ??= (async () => {
      const next = this.spawn(slot);
      slot.pending = next;
      let failure: unknown;
      await next.whenReady(READY_TIMEOUT_MS).catch((error: unknown) => (failure = error ?? new Error('failed')));
      if (slot.pending === next) slot.pending = undefined;
      if (failure !== undefined) {
        next.kill();
        // Shut down or scaled down while it was starting: nothing went wrong.
        if (this.stopping || slot.removed) return false;
        this.log.error({ err: failure, worker: slot.index, why }, `replacement for worker ${slot.index} failed to start: ${(failure as Error).message}`);
        // The worker it was to replace died meanwhile: fall back to a plain respawn.
        if (!slot.current) this.scheduleRespawn(slot, 100);
        return false;
      }
      if (this.stopping || slot.removed) {
        void next.drain(this.config.options.shutdownTimeout * 1000);
        return false;
      }
      const old = slot.current;
      slot.current = next;
      if (old) {
        this.log.info({ worker: slot.index, old: old.pid, new: next.pid, why }, `worker ${slot.index} replaced (${why}); draining pid ${old.pid}`);
        void old.drain(this.config.options.shutdownTimeout * 1000);
      }
      this.updateAlive();
      return true;
    })().finally(() => {
      slot.replacing = undefined;
    });
    return slot.replacing;
  }

  private spawn(slot: Slot): WorkerHandle {
    const { services: _services, ...options } = this.config.options;
    const workerConfig: WorkerConfig = { slot: slot.index, services: this.servicesForFork(), options };
    const handle = new WorkerHandle(cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(workerConfig) }), slot.index, this.log);
    this.workers.set(handle.id, handle);
    handle.worker.on('message', (message: unknown) => {
      if (isSkeinMessage(message)) this.onMessage(slot, handle, message as WorkerMessage);
    });
    void handle.exited.then(({ code, signal }) => this.onExit(slot, handle, code, signal));
    return handle;
  }

  private onMessage(slot: Slot, handle: WorkerHandle, message: WorkerMessage): void {
    switch (message.type) {
      case 'skein:ready':
        handle.markReady();
        this.sampleStartRss(slot, handle);
        if (this.endpoints.length === 0) this.endpoints = [...message.endpoints];
        this.updateAlive();
        if (!this.everReady && this.slots.every((s) => s.current?.ready)) {
          this.everReady = true;
          this.emit('ready', this.endpoints);
        }
        return;
      case 'skein:fatal':
        handle.lastError = message.error;
        if (!this.everReady && slot.current === handle) {
          // A worker that cannot start (bad module, port in use) will not start on a retry either.
          this.stopping = true;
          this.emit('fatal', deserializeError(message.error));
        }
        return;
      case 'skein:metrics:res':
        this.metrics.receive(message.id, message.metrics);
        return;
      case 'skein:drained':
        // Its final counters, so what it did since the last scrape is not lost.
        if (message.metrics) this.metrics.retire(handle.slot, handle.id, message.metrics);
        // Its listener close arrived before this message, so no connection is on its way to it now.
        handle.send({ type: 'skein:exit' });
        return;
    }
  }

  private updateAlive(): void {
    this.metrics.workersAlive.set([...this.workers.values()].filter((w) => w.ready).length);
  }

  private onExit(slot: Slot, handle: WorkerHandle, code: number | null, signal: string | null): void {
    this.workers.delete(handle.id);
    this.metrics.retire(handle.slot, handle.id);
    this.updateAlive();
    const unexpected = slot.current === handle && !handle.retiring;
    if (slot.current === handle) slot.current = undefined;
    if (this.stopping) {
      if (this.workers.size === 0) this.emit('exit');
      return;
    }
    if (!unexpected || slot.removed) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.log.warn({ worker: slot.index, pid: handle.pid, code, signal }, `worker ${slot.index} exited (${how}); replacing it`);
    const decision = this.restarts.recordDeath(Date.now());
    if (decision.crashLoop) {
      const last = handle.lastError ? `${handle.lastError.name}: ${handle.lastError.message}` : `exited with ${how}`;
      this.stopping = true;
      this.emit(
        'fatal',
        new CrashLoopError(
          `workers died ${decision.recentDeaths} times in ${this.config.options.crashLoopWindow}s; giving up. Last error: ${last}`,
        ),
      );
      return;
    }
    // A replacement already starting (reload, memory recycle) takes the slot over.
    if (!slot.pending) this.scheduleRespawn(slot, decision.delayMs);
  }

  private scheduleRespawn(slot: Slot, delayMs: number): void {
    if (this.stopping || slot.removed || slot.respawn) return;
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.stopping || slot.removed || slot.current || slot.pending) return;
      this.metrics.workerRestarts.inc();
      slot.current = this.spawn(slot);
    }, delayMs);
  }

  /** Samples each serving worker's RSS and recycles those above `--max-worker-rss`. */
  private watchMemory(): void {
    const ceiling = this.config.options.maxWorkerRss;
    if (ceiling === undefined) return;
    this.rssTimer = setInterval(() => {
      for (const slot of this.slots) {
        const worker = slot.current;
        if (!worker?.ready || worker.pid === undefined || slot.replacing) continue;
        // A worker that started above the ceiling would be replaced by one just as big: no churn.
        if (worker.firstRssMiB === undefined || worker.firstRssMiB > ceiling) continue;
        void readRssMiB(worker.pid).then((rss) => {
          if (rss === undefined || rss <= ceiling || this.stopping || slot.current !== worker || slot.replacing) return;
          this.log.warn(
            { worker: slot.index, pid: worker.pid, rssMiB: Math.round(rss), maxWorkerRss: ceiling },
            `worker ${slot.index} uses ${Math.round(rss)} MiB (over --max-worker-rss ${ceiling}); recycling it`,
          );
          void this.replace(slot, 'max-worker-rss');
        });
      }
    }, RSS_INTERVAL_MS);
    this.rssTimer.unref();
  }

  /** Records a worker's RSS when it starts listening (the baseline `--max-worker-rss` is judged against). */
  private sampleStartRss(slot: Slot, worker: WorkerHandle): void {
    const ceiling = this.config.options.maxWorkerRss;
    if (ceiling === undefined || worker.pid === undefined) return;
    void readRssMiB(worker.pid).then((rss) => {
      if (rss === undefined) return;
      worker.firstRssMiB = rss;
      if (rss > ceiling) {
        this.log.warn(
          { worker: slot.index, pid: worker.pid, rssMiB: Math.round(rss), maxWorkerRss: ceiling },
          `worker ${slot.index} starts at ${Math.round(rss)} MiB, over --max-worker-rss ${ceiling}; it will not be recycled`,
        );
      }
    });
  }

  /**
   * Gives each port-0 TCP endpoint a concrete free port before any worker forks,
   * so every worker, and every replacement, shares one listening handle and the
   * port stays the same for the life of the primary.
   */
  private async pinPortZero(): Promise<void> {
    for (const service of this.config.options.services) {
      for (const text of service.listen) {
        const endpoint = parseEndpoint(text);
        if (endpoint.kind === 'unix' || endpoint.port !== 0 || this.pinned.has(text)) continue;
        this.pinned.set(text, await freePort(endpoint.host ?? (endpoint.kind === 'tcp6' ? '::' : undefined)));
      }
    }
  }

  private servicesForFork(): ServiceConfig[] {
    return this.config.options.services.map((service) => ({
      ...service,
      listen: service.listen.map((text) => {
        const port = this.pinned.get(text);
        return port === undefined ? text : formatEndpoint(withPort(parseEndpoint(text), port));
      }),
    }));
  }
}

/** A port that is free right now on `host` (all interfaces when undefined). */
async function freePort(host: string | undefined): Promise<number> {
  const server = createServer();
  server.listen({ port: 0, ...(host !== undefined ? { host } : {}), exclusive: true });
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
