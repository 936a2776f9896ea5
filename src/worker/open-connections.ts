import type { Socket } from 'node:net';
import type { Clock } from '../shared/protocol/clock.js';
import { Sweep, sweepInterval } from '../shared/protocol/sweep.js';
import type { Connection } from './connection.js';

interface Waiter {
  deadline: number; // epoch ms
  timer: NodeJS.Timeout | undefined;
  readonly resolve: () => void;
  readonly promise: Promise<void>;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The reactor's bookkeeping of what is open: connections running a protocol,
 * sockets still in their preamble (PROXY header, TLS handshake), the idle
 * sweep over connections, and the wait for all of them to end during a drain
 * (woken by each close, not polled).
 */
export class OpenConnections {
  private readonly connections = new Set<Connection>();
  private readonly inPreamble = new Set<Socket>();
  private readonly idle: Sweep<Connection> | undefined;
  private waiter: Waiter | undefined;

  /** With `idleTimeout` (seconds), closes connections with no bytes read or flushed for that long. */
  constructor(idleTimeout: number | undefined, clock: Clock) {
    if (idleTimeout !== undefined) {
      this.idle = new Sweep<Connection>(sweepInterval(idleTimeout), () => clock, (c, now) => {
        if (c.idleFor(now) > idleTimeout) c.timeOut();
      });
    }
  }

  /** Connections running a protocol. */
  get size(): number {
    return this.connections.size;
  }

  [Symbol.iterator](): IterableIterator<Connection> {
    return this.connections.values();
  }

  /** A socket whose preamble is under way (accepted before any drain began). */
  preambleStarted(raw: Socket): void {
    this.inPreamble.add(raw);
    raw.once('close', () => this.preambleEnded(raw));
  }

  preambleEnded(raw: Socket): void {
    if (this.inPreamble.delete(raw)) this.changed();
  }

  add(connection: Connection): void {
    this.connections.add(connection);
    this.idle?.add(connection);
  }

  delete(connection: Connection): void {
    this.connections.delete(connection);
    this.idle?.delete(connection);
    this.changed();
  }

  /**
   * Resolves when nothing is open or at `deadline` (epoch ms), whichever comes
   * first. Called while a wait is in progress, it joins it and can only bring
   * its deadline forward.
   */
  ended(deadline: number): Promise<void> {
    if (this.waiter) {
      this.hurry(deadline);
      return this.waiter.promise;
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    const waiter: Waiter = { deadline, timer: undefined, resolve, promise };
    this.waiter = waiter;
    this.arm(waiter, deadline);
    this.changed();
    return promise;
  }

  /** Brings the deadline of a wait in progress forward (never back). */
  hurry(deadline: number): void {
    if (this.waiter && deadline < this.waiter.deadline) this.arm(this.waiter, deadline);
  }

  /** Closes every connection now (`connectionLost(ShutdownError)`) and every socket still in its preamble. */
  closeAll(): void {
    for (const connection of this.connections) connection.shutdown();
    for (const raw of this.inPreamble) raw.destroy();
  }

  /** Stops the idle sweep (the reactor has stopped). */
  stopSweep(): void {
    this.idle?.stop();
  }

  private arm(waiter: Waiter, deadline: number): void {
    waiter.deadline = deadline;
    if (waiter.timer) clearTimeout(waiter.timer);
    // setTimeout holds at most ~24.8 days: a longer wait re-arms when it fires.
    waiter.timer = setTimeout(() => (Date.now() >= waiter.deadline ? this.settle() : this.arm(waiter, waiter.deadline)), Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now())));
  }

  private changed(): void {
    if (this.waiter && this.connections.size + this.inPreamble.size === 0) this.settle();
  }

  private settle(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.resolve();
  }
}
