import type { Clock, DelayedCall } from './clock.js';

/**
 * Timeouts without a timer per connection: one sweep visits each item it
 * holds every `interval` seconds of its clock (a fake clock drives it in
 * tests), and the visitor compares what changed since its last visit. A
 * timeout fires no earlier than its limit and at most one interval later.
 * The timer runs only while the sweep holds something.
 */
export class Sweep<T> {
  private readonly items = new Set<T>();
  private call: DelayedCall | undefined;

  constructor(
    /** Seconds between visits (see {@link sweepInterval}). */
    private readonly interval: number,
    /** The clock, asked at each use (a factory's reactor may arrive after the sweep is made). */
    private readonly clock: () => Clock,
    /** Called for each item at each sweep with the clock's seconds. */
    private readonly visit: (item: T, now: number) => void,
  ) {}

  /** The clock's current seconds. */
  now(): number {
    return this.clock().seconds();
  }

  /** Starts visiting `item` (and starts the timer if it was idle). */
  add(item: T): void {
    this.items.add(item);
    this.call ??= this.clock().callLater(this.interval, () => this.run());
  }

  /** Stops visiting `item` (and stops the timer when nothing is left). */
  delete(item: T): void {
    this.items.delete(item);
    if (this.items.size === 0) this.stop();
  }

  /** Stops the timer; a later `add` starts it again. */
  stop(): void {
    this.call?.cancel();
    this.call = undefined;
  }

  private run(): void {
    this.call = undefined;
    const now = this.now();
    for (const item of this.items) this.visit(item, now);
    if (this.items.size > 0) this.call ??= this.clock().callLater(this.interval, () => this.run());
  }
}

/** A sweep interval for timeouts of at least `shortest` seconds: a quarter of it, never busier than 20 Hz nor lazier than 1 Hz. */
export function sweepInterval(shortest: number): number {
  return Math.min(1, Math.max(0.05, shortest / 4));
}
