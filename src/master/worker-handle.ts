import type { Socket } from 'node:net';
import type { Worker } from 'node:cluster';
import { deserializeError, WorkerError, WorkerStartError, type SerializedError } from '../shared/protocol/errors.js';
import type { PrimaryMessage } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';

/** Past the drain budget, a worker that has not exited gets this long before SIGKILL. */
const KILL_GRACE_MS = 5000;
/** After a forced stop (second signal), a worker gets this long before SIGKILL. */
const FORCE_GRACE_MS = 2000;

/** IPC errors expected when writing to a worker that is exiting. */
const CLOSED_CHANNEL_CODES = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED', 'ERR_IPC_DISCONNECTED']);

/**
 * One forked worker process, as the primary sees it: its slot, whether it is
 * listening, whether it is being retired, and the last error it reported.
 * Sends never throw and never emit unhandled errors: a worker that is dying
 * must not take the primary with it.
 */
export class WorkerHandle {
  /** Listening (sent `skein:ready`) and not yet retiring. */
  ready = false;
  /** Reported ready at least once: it answers IPC requests (scrapes) from then on. */
  started = false;
  /** Told to drain: its exit is expected. */
  retiring = false;
  /** RSS (MiB) when it started listening: a worker already over the ceiling then is not recycled. */
  firstRssMiB: number | undefined;
  /** When the worker last showed its event loop turning (any message), `performance.now()` ms. */
  lastBeat = performance.now();
  /** Missed its heartbeat for `--heartbeat-timeout`: takes no new connections until it beats again. */
  stalled = false;
  /** The last error the worker reported (`skein:fatal`). */
  lastError: SerializedError | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private onReady: Array<() => void> = [];
  private killTimer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(
    readonly worker: Worker,
    /** Slot index: the `worker` metric label, shared with its replacement during a reload. */
    readonly slot: number,
    private readonly log: Logger,
  ) {
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code: number | null, signal: string | null) => {
        this.dead = true;
        this.ready = false;
        if (this.killTimer) clearTimeout(this.killTimer);
        resolve({ code, signal });
      });
    });
    worker.on('error', (error: NodeJS.ErrnoException) => this.channelError(error));
  }

  /** Listening, not retiring, and its event loop turns: may take new connections. */
  get serving(): boolean {
    return this.ready && !this.stalled;
  }

  /** The cluster worker id: unique for the life of the primary. */
  get id(): number {
    return this.worker.id;
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  get isDead(): boolean {
    return this.dead || this.worker.isDead();
  }

  /** Sends `message` if the channel is open; false otherwise. Errors are logged, never thrown. */
  send(message: PrimaryMessage): boolean {
    if (this.isDead || !this.worker.isConnected()) return false;
    try {
      this.worker.send(message, undefined, undefined, (error: Error | null) => {
        if (error) this.channelError(error as NodeJS.ErrnoException);
      });
      return true;
    } catch (error) {
      this.channelError(error as NodeJS.ErrnoException);
      return false;
    }
  }

  /**
   * Passes an accepted socket to the worker (`skein:conn:adopt`). Once sent, the
   * primary's copy is closed; on failure the socket is destroyed and false returned.
   */
  sendSocket(message: PrimaryMessage, socket: Socket): boolean {
    if (this.isDead || !this.worker.isConnected()) return false;
    try {
      this.worker.send(message, socket, { keepOpen: false }, (error: Error | null) => {
        if (!error) return;
        socket.destroy();
        this.channelError(error as NodeJS.ErrnoException);
      });
      return true;
    } catch (error) {
      this.channelError(error as NodeJS.ErrnoException);
      return false;
    }
  }

  /** Called when the worker reports `skein:ready`. */
  markReady(): void {
    this.started = true;
    if (this.retiring || this.isDead) return;
    this.ready = true;
    for (const resolve of this.onReady.splice(0)) resolve();
  }

  /**
   * Resolves when the worker is listening; rejects with its last error when it
   * exits first, or after `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WorkerStartError(`worker did not listen within ${timeoutMs / 1000}s`)), timeoutMs);
      this.onReady.push(() => {
        clearTimeout(timer);
        resolve();
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(this.lastError ? deserializeError(this.lastError, WorkerError) : new WorkerStartError(`worker exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
      });
    });
  }

  /**
   * Retires the worker: it stops accepting, finishes its connections within
   * `timeoutMs`, and exits. Killed if it has not exited shortly after that.
   * Resolves on exit.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.isDead) return Promise.resolve();
    this.retiring = true;
    this.ready = false;
    if (!this.killTimer) this.killAfter(timeoutMs + KILL_GRACE_MS);
    // A worker still starting has nothing to drain, and may not listen for messages yet.
    if (!this.started || !this.send({ type: 'skein:drain', timeoutMs })) this.worker.process.kill('SIGTERM');
    return this.exited.then(() => undefined);
  }

  /** Closes whatever the worker still has open now (a second signal); killed if it lingers. */
  force(): void {
    if (this.isDead) return;
    this.retiring = true;
    this.ready = false;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killAfter(FORCE_GRACE_MS);
    if (!this.send({ type: 'skein:drain', timeoutMs: 0 })) this.kill();
  }

  /** SIGKILL. */
  kill(): void {
    if (!this.isDead) this.worker.process.kill('SIGKILL');
  }

  private killAfter(ms: number): void {
    this.killTimer = setTimeout(() => {
      this.log.warn({ worker: this.slot, pid: this.pid }, `worker ${this.slot} did not exit after draining; killing it`);
      this.kill();
    }, ms);
    this.killTimer.unref();
  }

  private channelError(error: NodeJS.ErrnoException): void {
    // A worker that is exiting closes its end of the channel: EPIPE then is expected.
    const expected = CLOSED_CHANNEL_CODES.has(error.code ?? '') && (this.retiring || this.isDead || !this.worker.isConnected());
    if (expected) this.log.debug({ err: error, worker: this.slot, pid: this.pid }, 'worker channel closed');
    else this.log.warn({ err: error, worker: this.slot, pid: this.pid }, 'worker channel error');
  }
}
