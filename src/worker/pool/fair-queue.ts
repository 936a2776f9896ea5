import { Fifo } from './fifo.js';

/**
 * Tasks waiting for room in the pool queue, served round-robin between their
 * connections (first in, first out within one connection). A client that
 * pipelines a thousand requests in one read must not make every other
 * connection wait behind all of them.
 */
export class FairQueue<T extends object> {
  /** One lane per key; Map order is the round-robin order (a served lane moves to the back). */
  private readonly lanes = new Map<object, Fifo<T>>();
  private count = 0;

  constructor(private readonly keyOf: (item: T) => object) {}

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    const key = this.keyOf(item);
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new Fifo<T>()));
    lane.push(item);
    this.count++;
  }

  /** The oldest item of the next lane in turn. */
  shift(): T | undefined {
    const next = this.lanes.entries().next();
    if (next.done) return undefined;
    const [key, lane] = next.value;
    const item = lane.shift()!;
    this.count--;
    this.lanes.delete(key);
    if (lane.size > 0) this.lanes.set(key, lane);
    return item;
  }

  /** Removes `item`; false if it is not here. */
  remove(item: T): boolean {
    const key = this.keyOf(item);
    const lane = this.lanes.get(key);
    if (!lane?.remove(item)) return false;
    this.count--;
    if (lane.size === 0) this.lanes.delete(key);
    return true;
  }
}
