import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import { CrashLoopError, deserializeError, WorkerError, WorkerStartError } from '../shared/protocol/errors.js';
import { isSkeinMessage, WORKER_CONFIG_ENV, type BoundEndpoint, type MetricsKind, type WorkerConfig, type WorkerMessage } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import type { ServerOptions } from '../shared/config/options.js';
import { primaryAccepts } from '../shared/config/option-table.js';
import { Acceptor, type AcceptTarget } from './acceptor.js';
import { MetricsAggregator, type ScrapeTarget } from './metrics-aggregator.js';
import { RestartPolicy } from './restart-policy.js';
import { MemoryWatch } from './memory-watch.js';
import { PortPins } from './port-pins.js';
import { checkTlsEndpoints } from '../shared/net/tls-options.js';
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
  private readonly ports = new PortPins();
  private endpoints: BoundEndpoint[] = [];
  private everReady = false;
  /** Still forking the first workers: not ready even if every slot so far is. */
  private forking = true;
  private stopping = false;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  /** Ends the `--shutdown-delay` pause early (a second signal). */
  private cutDelay: (() => void) | undefined;
  private readonly memory: MemoryWatch | undefined;
  /** Accepts in the primary for least-connections and client-hash; absent under round-robin. */
  private readonly acceptor: Acceptor | undefined;
  /** Checks the workers' heartbeats. */
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly config: PrimaryConfig) {
    super();
    this.metrics = new MetricsAggregator({ timeoutMs: config.options.metricsTimeout * 1000, workerWaitMs: config.options.metricsWorkerWait * 1000 });
    const { balance, maxConnections, maxConnectionsPerIp } = config.options;
    if (primaryAccepts(balance)) {
      this.acceptor = new Acceptor({ policy: balance, maxConnections, maxConnectionsPerIp }, () => this.acceptTargets(), config.log);
      this.metrics.extraRegistries.push(this.acceptor.registry);
    }
    this.restarts = new RestartPolicy(config.options.crashLoopDeaths, config.options.crashLoopWindow * 1000);
    const ceiling = config.options.maxWorkerRss;
    if (ceiling !== undefined) this.memory = new MemoryWatch(ceiling, config.log);
  }

  private get log(): Logger {
    return this.config.log;
  }

  /** Endpoints as bound (real ports), from the first worker that reported. */
  get boundEndpoints(): readonly BoundEndpoint[] {
    return this.endpoints;
  }

  /**
   * True while at least one worker listens and the server is not draining.
   * When the workers accept (round-robin, shared-socket) a
   * worker whose event loop is stuck makes the server not ready: a share of
   * new connections would wait for it.
   */
  get isReady(): boolean {
    if (this.stopping) return false;
    const workers = [...this.workers.values()];
    if (!primaryAccepts(this.config.options.balance) && workers.some((w) => w.ready && w.stalled)) return false;
    return workers.some((w) => w.serving);
  }

  /** Number of slots (the worker count SIGTTIN/SIGTTOU change). */
  get workerCount(): number {
    return this.slots.length;
  }

  /** Forks every worker. Listen for `ready` and `fatal`. */
  async start(): Promise<void> {
    // A key/certificate pair that does not load or match refuses to start, before any worker serves it.
    for (const service of this.config.options.services) checkTlsEndpoints(service.listen);
    await this.ports.pin(this.config.options.services);
    if (this.acceptor) {
      // The primary listens; workers adopt the sockets it passes them, listener by listener index.
      const listeners = this.ports.apply(this.config.options.services).flatMap((s) => s.listen.map((text) => ({ service: s.name, text })));
      this.ports.releaseAll();
      this.endpoints = await this.acceptor.listen(listeners);
    }
    if (this.stopping) return; // told to stop while it was starting
    const { heartbeatTimeout } = this.config.options;
    this.watchdog = setInterval(() => this.checkHeartbeats(), Math.min(1000, (heartbeatTimeout * 1000) / 4));
    this.watchdog.unref();
    // node reads the policy once per process, at the first setupPrimary: `shared-socket` lets every
    // worker accept from the listening socket itself (SCHED_NONE); otherwise the primary hands
    // connections out in turn (SCHED_RR; under the primary-accepting policies workers listen on nothing).
    cluster.schedulingPolicy = this.config.options.balance === 'shared-socket' ? cluster.SCHED_NONE : cluster.SCHED_RR;
    cluster.setupPrimary({ exec: this.config.exec, execArgv: [...this.config.execArgv] });
    this.log.info({ workers: this.config.options.workers }, `starting ${this.config.options.workers} workers`);
    // One fork per turn of the event loop, not a synchronous loop: a SIGTERM or SIGINT
    // during start-up is handled at once, and stops the forking.
    for (let i = 0; i < this.config.options.workers; i++) {
      if (this.stopping) return;
      this.addSlot();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.forking = false;
    this.checkReady();
    this.memory?.start(
      () => this.slots.flatMap((s) => (s.current?.ready && !s.replacing ? [{ slot: s.index, worker: s.current }] : [])),
      (index, worker) => {
        const slot = this.slots[index];
        if (!this.stopping && slot?.current === worker && !slot.replacing) void this.replace(slot, 'max-worker-rss');
      },
    );
  }

  /**
   * Live workers as scrape targets (two may share a slot during a reload). A
   * worker still starting is left out: it may not listen for requests yet, and
   * the scrape would wait for it until the deadline.
   */
  scrapeTargets(): ScrapeTarget[] {
    return [...this.workers.values()]
      .filter((w) => w.started && !w.isDead)
      .map((w) => ({ slot: w.slot, id: w.id, request: (id: number, kind: MetricsKind) => w.send({ type: 'skein:metrics:req', id, kind }) }));
  }

  /** Workers that may take new connections from the acceptor: each slot's current one, listening and not retiring. */
  private acceptTargets(): AcceptTarget[] {
    return this.slots.flatMap((s) => {
      const w = s.current;
      if (!w?.serving) return [];
      return [{ slot: s.index, id: w.id, send: (id: number, listener: number, socket) => w.sendSocket({ type: 'skein:conn:adopt', id, listener }, socket) }];
    });
  }

  /** Pids of the serving workers, by slot. */
  workerPids(): number[] {
    return this.slots.flatMap((s) => (s.current?.pid !== undefined ? [s.current.pid] : []));
  }

  /**
   * Stops: not ready at once; after `--shutdown-delay` (if set: still serving
   * meanwhile), drains every worker (they stop accepting, finish in-flight work,
   * and close what is left after the shutdown timeout); resolves when all exited.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.ports.releaseAll();
    // A stuck worker is still killed by its drain deadline.
    if (this.watchdog) clearInterval(this.watchdog);
    this.memory?.stop();
    for (const slot of this.slots) if (slot.respawn) clearTimeout(slot.respawn);
    const delay = this.config.options.shutdownDelay;
    if (delay !== undefined) {
      // Not ready (/readyz 503) but still serving, so balancers stop sending before the port closes.
      this.log.info({ shutdownDelay: delay }, `not ready; draining in ${delay}s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay * 1000);
        this.cutDelay = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.cutDelay = undefined;
    }
    await this.acceptor?.close();
    const timeoutMs = this.config.options.shutdownTimeout * 1000;
    const exits = [...this.workers.values()].map((w) => w.drain(timeoutMs));
    this.updateAlive();
    await Promise.all(exits);
  }

  /** Cuts a drain short (a second signal): workers close what is left now and exit. */
  force(): void {
    this.stopping = true;
    this.cutDelay?.();
    for (const w of this.workers.values()) w.force();
  }

  /** Kills every worker at once. */
  kill(): void {
    this.stopping = true;
    this.ports.releaseAll();
    if (this.watchdog) clearInterval(this.watchdog);
    void this.acceptor?.close();
    this.memory?.stop();
    for (const slot of this.slots) if (slot.respawn) clearTimeout(slot.respawn);
    for (const w of this.workers.values()) w.kill();
  }

  /**
   * Rolling reload (SIGHUP): for each slot in turn, forks a fresh worker (which
   * imports the protocol module anew), waits until it listens, then drains the
   * old one. A replacement that fails to start stops the reload and the old
   * workers keep serving. A reload asked for during one runs after it. A
   * `tls:` key/certificate pair that does not load or match refuses the
   * reload (logged), and the old workers keep serving.
   */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          // Renewed certificates are read anew by the new workers: check them first, so a bad pair keeps the old workers.
          for (const service of this.config.options.services) checkTlsEndpoints(service.listen);
        } catch (error) {
          this.log.error({ err: error, pids: this.workerPids() }, `reload refused: ${(error as Error).message}; the old workers keep serving`);
          continue;
        }
        this.log.info({ workers: this.slots.length }, 'reloading workers one at a time');
        let replaced = 0;
        let failed = false;
        // Slots added meanwhile (SIGTTIN) start with the new code anyway.
        for (const slot of [...this.slots]) {
          if (this.stopping) return;
          if (slot.removed) continue;
          const ok = await this.replace(slot, 'reload');
          if (slot.removed) continue; // retired by SIGTTOU meanwhile: not a failure
          if (!ok) {
            failed = true;
            break;
          }
          replaced++;
        }
        if (this.stopping) return;
        if (!failed) {
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

  /** Adds a worker (SIGTTIN), up to `--max-workers`. */
  addWorker(): void {
    if (this.stopping) return;
    if (this.slots.length >= this.config.options.maxWorkers) {
      this.log.warn({ workers: this.slots.length, maxWorkers: this.config.options.maxWorkers }, `not adding a worker: already at --max-workers (${this.config.options.maxWorkers})`);
      return;
    }
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
      await next.whenReady(READY_TIMEOUT_MS).catch((error: unknown) => (failure = error ?? new WorkerStartError('the replacement worker failed to start')));
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
    // The metrics token stays in the primary: workers never need it.
    const { services: _services, metricsToken: _token, ...options } = this.config.options;
    const workerConfig: WorkerConfig = { slot: slot.index, services: this.ports.apply(this.config.options.services), options };
    const handle = new WorkerHandle(cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(workerConfig) }), slot.index, this.log);
    this.workers.set(handle.id, handle);
    handle.worker.on('message', (message: unknown) => {
      if (isSkeinMessage(message)) this.onMessage(slot, handle, message as WorkerMessage);
    });
    handle.worker.once('exit', () => {
      this.metrics.workerGone(handle.id);
      this.acceptor?.workerGone(handle.id);
      // Its counters join the retired sum once its last messages (a final report) have arrived.
      const retire = () => this.metrics.retire(handle.id);
      if (handle.worker.isConnected()) handle.worker.once('disconnect', retire);
      else retire();
    });
    void handle.exited.then(({ code, signal }) => this.onExit(slot, handle, code, signal));
    return handle;
  }

  private onMessage(slot: Slot, handle: WorkerHandle, message: WorkerMessage): void {
    // Any message shows the worker's event loop turning.
    handle.lastBeat = performance.now();
    if (handle.stalled) this.recovered(handle);
    switch (message.type) {
      case 'skein:heartbeat':
        return;
      case 'skein:binding':
        this.ports.release(message.port);
        return;
      case 'skein:ready':
        handle.markReady();
        this.memory?.started(slot.index, handle);
        if (this.endpoints.length === 0) this.endpoints = [...message.endpoints];
        this.updateAlive();
        this.acceptor?.flush();
        this.checkReady();
        return;
      case 'skein:fatal':
        handle.lastError = message.error;
        if (!this.everReady && !this.stopping && slot.current === handle) {
          // A worker that cannot start (bad module, port in use) will not start on a retry either.
          this.stopping = true;
          this.emit('fatal', deserializeError(message.error, WorkerError));
        }
        return;
      case 'skein:metrics:res':
        this.metrics.receive(handle.id, message.id, message.metrics);
        return;
      case 'skein:metrics:final':
        this.metrics.receiveFinal({ id: handle.id, slot: handle.slot }, message.metrics);
        return;
      case 'skein:conn:closed':
        this.acceptor?.closed(message.id);
        return;
      case 'skein:drained':
        // Its listener close arrived before this message, so no connection is on its way to it now.
        handle.send({ type: 'skein:exit' });
        return;
    }
  }

  /** Emits `ready` once, when every slot's worker listens after the first forks. */
  private checkReady(): void {
    if (this.everReady || this.forking || this.stopping) return;
    if (!this.slots.every((s) => s.current?.ready)) return;
    this.everReady = true;
    this.emit('ready', this.endpoints);
  }

  private updateAlive(): void {
    this.metrics.workersAlive.set([...this.workers.values()].filter((w) => w.serving).length);
  }

  /**
   * A worker silent for `--heartbeat-timeout` is stuck (stopped, or a protocol
   * in a loop): not ready, counted, no new connections from the acceptor.
   * Silent for `--heartbeat-kill-timeout`, it is killed, and replaced as any dead worker.
   */
  private checkHeartbeats(): void {
    const now = performance.now();
    const { heartbeatTimeout, heartbeatKillTimeout } = this.config.options;
    for (const handle of this.workers.values()) {
      if (!handle.started || handle.retiring || handle.isDead) continue;
      const silentS = (now - handle.lastBeat) / 1000;
      if (!handle.stalled && silentS > heartbeatTimeout) {
        handle.stalled = true;
        this.metrics.workersUnresponsive.inc();
        this.log.warn({ worker: handle.slot, pid: handle.pid, silentSeconds: Math.round(silentS) }, `worker ${handle.slot} (pid ${handle.pid}) missed its heartbeat for ${Math.round(silentS)}s: not ready`);
        this.updateAlive();
      }
      if (silentS > heartbeatKillTimeout) {
        this.log.error({ worker: handle.slot, pid: handle.pid, silentSeconds: Math.round(silentS) }, `worker ${handle.slot} (pid ${handle.pid}) unresponsive for ${Math.round(silentS)}s: killing it`);
        handle.lastBeat = now; // once
        handle.kill();
      }
    }
  }

  private recovered(handle: WorkerHandle): void {
    handle.stalled = false;
    this.log.info({ worker: handle.slot, pid: handle.pid }, `worker ${handle.slot} (pid ${handle.pid}) answers again: ready`);
    this.updateAlive();
    this.acceptor?.flush();
  }

  private onExit(slot: Slot, handle: WorkerHandle, code: number | null, signal: string | null): void {
    this.workers.delete(handle.id);
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
}
