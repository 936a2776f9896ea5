import cluster, { type Worker } from 'node:cluster';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import { formatEndpoint, parseEndpoint, withPort } from '../shared/endpoint.js';
import { CrashLoopError, deserializeError, type SerializedError } from '../shared/errors.js';
import {
  isSkeinMessage,
  WORKER_CONFIG_ENV,
  type BoundEndpoint,
  type MetricsKind,
  type PrimaryMessage,
  type WorkerConfig,
  type WorkerMessage,
} from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import type { ServerOptions, ServiceConfig } from '../shared/options.js';
import { MetricsAggregator, type ScrapeTarget } from './metrics-aggregator.js';

/** How the primary forks its workers. */
export interface PrimaryConfig {
  readonly options: ServerOptions;
  /** The script workers run (skein's worker entry, or the user's own script for `serve()`). */
  readonly exec: string;
  readonly execArgv: readonly string[];
  readonly log: Logger;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  /** Set while the worker in this slot is being retired on purpose. */
  retiring: boolean;
  /** The worker in this slot reported ready, so it answers metrics requests (until it exits, draining included). */
  answers: boolean;
  lastError: SerializedError | undefined;
}

/**
 * The primary: forks one worker per slot with node:cluster (round-robin),
 * replaces workers that die (with backoff, stopping on a crash loop), pins
 * port-0 listeners to the port they got, and drains workers on shutdown.
 *
 * Events: `ready` (every slot listening, once), `fatal` (Error: the server
 * cannot run), `exit` (after shutdown).
 */
export class Primary extends EventEmitter {
  readonly metrics: MetricsAggregator;
  private readonly slots: Slot[] = [];
  private readonly deaths: number[] = [];
  /** Port each port-0 endpoint got, by `serviceIndex/endpointIndex` (two services may both ask for tcp:0). */
  private readonly pinned = new Map<string, number>();
  private endpoints: BoundEndpoint[] = [];
  private everReady = false;
  private stopping = false;

  constructor(private readonly config: PrimaryConfig) {
    super();
    this.metrics = new MetricsAggregator({ timeoutMs: config.options.metricsTimeout * 1000 });
  }

  /** Endpoints as bound (real ports), from the first worker that reported. */
  get boundEndpoints(): readonly BoundEndpoint[] {
    return this.endpoints;
  }

  /** True while at least one worker listens and the server is not draining. */
  get isReady(): boolean {
    return !this.stopping && this.slots.some((s) => s.ready);
  }

  /** Forks every worker. Listen for `ready` and `fatal`. */
  async start(): Promise<void> {
    await this.pinPortZero();
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: this.config.exec, execArgv: [...this.config.execArgv] });
    for (let i = 0; i < this.config.options.workers; i++) {
      const slot: Slot = { index: i, worker: undefined, ready: false, retiring: false, answers: false, lastError: undefined };
      this.slots.push(slot);
      this.fork(slot);
    }
  }

  /** Live workers as scrape targets. */
  scrapeTargets(): ScrapeTarget[] {
    return this.slots.flatMap((s) => {
      const worker = s.worker;
      // A worker still starting has no traffic yet and may not listen for requests: asking it would only time out.
      if (!worker || worker.isDead() || !s.answers) return [];
      return [
        {
          slot: s.index,
          id: worker.id,
          request: (id: number, kind: MetricsKind) => {
            if (!worker.isConnected()) return false;
            const message: PrimaryMessage = { type: 'skein:metrics:req', id, kind };
            worker.send(message);
            return true;
          },
        },
      ];
    });
  }

  /** Pids of live workers, by slot. */
  workerPids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid !== undefined ? [s.worker.process.pid] : []));
  }

  /**
   * Drains every worker (they stop accepting, finish in-flight work, and close
   * what is left after the shutdown timeout), then resolves.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const timeoutMs = this.config.options.shutdownTimeout * 1000;
    const exits = this.slots.map((slot) => this.retire(slot, timeoutMs));
    await Promise.all(exits);
  }

  /** Kills every worker at once (a second signal). */
  kill(): void {
    this.stopping = true;
    for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
  }

  private retire(slot: Slot, timeoutMs: number): Promise<void> {
    const worker = slot.worker;
    if (!worker || worker.isDead()) return Promise.resolve();
    slot.retiring = true;
    slot.ready = false;
    return new Promise<void>((resolve) => {
      // Past the drain budget plus a grace period, a worker that has not exited is killed.
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs + 5000);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (worker.isConnected()) worker.send({ type: 'skein:drain', timeoutMs });
      else worker.process.kill('SIGTERM');
    });
  }

  /**
   * Gives each port-0 TCP endpoint a concrete free port before any worker forks,
   * so every worker, and every replacement, shares one listening handle and the
   * port stays the same for the life of the primary.
   */
  private async pinPortZero(): Promise<void> {
    for (const [s, service] of this.config.options.services.entries()) {
      for (const [e, text] of service.listen.entries()) {
        const endpoint = parseEndpoint(text);
        if (endpoint.kind === 'unix' || endpoint.port !== 0 || this.pinned.has(`${s}/${e}`)) continue;
        this.pinned.set(`${s}/${e}`, await freePort(endpoint.host ?? (endpoint.kind === 'tcp6' ? '::' : undefined)));
      }
    }
  }

  private servicesForFork(): ServiceConfig[] {
    return this.config.options.services.map((service, s) => ({
      ...service,
      listen: service.listen.map((text, e) => {
        const port = this.pinned.get(`${s}/${e}`);
        return port === undefined ? text : formatEndpoint(withPort(parseEndpoint(text), port));
      }),
    }));
  }

  private fork(slot: Slot): void {
    // The metrics token stays in the primary: workers never need it.
    const { services: _services, metricsToken: _token, ...options } = this.config.options;
    const workerConfig: WorkerConfig = { slot: slot.index, services: this.servicesForFork(), options };
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(workerConfig) });
    slot.worker = worker;
    slot.ready = false;
    slot.answers = false;
    slot.retiring = false;
    worker.on('message', (message: unknown) => {
      if (isSkeinMessage(message)) this.onMessage(slot, worker, message as WorkerMessage);
    });
    worker.on('exit', (code, signal) => {
      this.metrics.workerGone(worker.id);
      // Its counters join the retired sum once its last messages (a final report) have arrived.
      const retire = () => this.metrics.retire(worker.id);
      if (worker.isConnected()) worker.once('disconnect', retire);
      else retire();
      this.onExit(slot, worker, code, signal);
    });
    // An IPC error (EPIPE on a dying worker) must not reach the primary's process.
    worker.on('error', (error) => this.config.log.warn({ err: error, worker: slot.index }, 'worker channel error'));
  }

  private onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'skein:ready':
        if (slot.worker !== worker) return;
        slot.ready = true;
        slot.answers = true;
        if (this.endpoints.length === 0) this.endpoints = [...message.endpoints];
        this.updateAlive();
        if (!this.everReady && this.slots.every((s) => s.ready)) {
          this.everReady = true;
          this.emit('ready', this.endpoints);
        }
        return;
      case 'skein:fatal':
        slot.lastError = message.error;
        if (!this.everReady) {
          // A worker that cannot start (bad module, port in use) will not start on a retry either.
          this.stopping = true;
          this.emit('fatal', deserializeError(message.error));
        }
        return;
      case 'skein:metrics:res':
        this.metrics.receive(worker.id, message.id, message.metrics);
        return;
      case 'skein:metrics:final':
        this.metrics.receiveFinal({ id: worker.id, slot: slot.index }, message.metrics);
        return;
      case 'skein:drained':
        return;
    }
  }


  private updateAlive(): void {
    this.metrics.workersAlive.set(this.slots.filter((s) => s.ready && s.worker && !s.worker.isDead()).length);
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.ready = false;
    slot.worker = undefined;
    this.updateAlive();
    if (this.stopping) {
      if (this.slots.every((s) => !s.worker)) this.emit('exit');
      return;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.config.log.warn({ worker: slot.index, pid: worker.process.pid, code, signal }, `worker ${slot.index} exited (${how}); replacing it`);
    const now = Date.now();
    const windowMs = this.config.options.crashLoopWindow * 1000;
    this.deaths.push(now);
    while (this.deaths.length > 0 && this.deaths[0]! < now - windowMs) this.deaths.shift();
    if (this.deaths.length >= this.config.options.crashLoopDeaths) {
      const last = slot.lastError ? `${slot.lastError.name}: ${slot.lastError.message}` : `exited with ${how}`;
      this.stopping = true;
      this.emit(
        'fatal',
        new CrashLoopError(
          `workers died ${this.deaths.length} times in ${this.config.options.crashLoopWindow}s; giving up. Last error: ${last}`,
        ),
      );
      return;
    }
    // Exponential backoff: 100 ms after a lone death, doubling with each recent one, at most 10 s.
    const delay = Math.min(10_000, 100 * 2 ** (this.deaths.length - 1));
    setTimeout(() => {
      if (this.stopping || slot.worker) return;
      this.metrics.workerRestarts.inc();
      this.fork(slot);
    }, delay);
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
