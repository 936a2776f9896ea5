/**
 * Tasks waiting for room in the pool queue, served fairly between their
 * connections (first in, first out within one connection), with a head start
 * for a connection that was idle: start-time fair queuing, as a CPU scheduler
 * treats a task that slept.
 *
 * Each connection has a virtual time that grows by one per task it pushes; a
 * task's tag is its connection's virtual time when it is pushed, and the task
 * with the smallest tag is served next (ties: the oldest). A connection that
 * was idle (no task of it in the pool: the caller says so) starts at the tag
 * last served, and wins a tie with any backlogged task there, so its task goes
 * ahead of every backlogged connection's. It keeps that edge only while it is
 * the connection's only task waiting: when the same connection queues another
 * behind it, it becomes an ordinary backlogged task (same tag, no edge). So
 * when many clients open at once, each with a flood, their first tasks lose
 * their edge as soon as the floods queue up, and a probe that asks one thing
 * at a time still goes first (without that, it waited for one task of each
 * flooding connection: about half a second of pbkdf2 with 64 of them on two
 * threads). Backlogged connections take turns (round-robin), and a client
 * that pipelines a thousand requests in one read makes no other connection
 * wait behind all of them; a connection that sends one request at a time (a
 * probe, an interactive client) waits for the queue, not for one task per
 * abusive connection.
 */
interface Entry<T> {
  readonly item: T;
  readonly tag: number;
  /** Pushed by an idle connection, and still its only task waiting: it wins ties. */
  readonly idle: boolean;
  readonly seq: number;
  removed: boolean;
}

export class FairQueue<T extends object> {
  /** A binary min-heap of entries by (tag, seq); removed entries are skipped lazily. */
  private readonly heap: Array<Entry<T>> = [];
  private readonly entries = new WeakMap<T, Entry<T>>();
  /** The next virtual time of each connection (a weak map: a lost connection takes its entry with it). */
  private readonly next = new WeakMap<object, number>();
  /** Each connection's waiting entry that still has the idle edge. */
  private readonly edge = new WeakMap<object, Entry<T>>();
  /** The tag last served. */
  private now = 0;
  private seq = 0;
  private count = 0;

  constructor(private readonly keyOf: (item: T) => object) {}

  get size(): number {
    return this.count;
  }

  /** Adds `item`; `idle`: its connection has no other task in the pool (it goes ahead of the backlogged ones). */
  push(item: T, idle = false): void {
    const key = this.keyOf(item);
    // Tags never fall behind the tag last served, so virtual time only moves forward: a
    // connection that comes later never jumps one that queued earlier at the same time.
    const tag = idle ? this.now : Math.max(this.next.get(key) ?? -Infinity, this.now);
    this.next.set(key, tag + 1);
    const first = this.edge.get(key);
    if (first) {
      // More behind it: the connection's first task keeps its place in time but loses the edge.
      this.edge.delete(key);
      if (!first.removed) {
        first.removed = true;
        this.insert({ item: first.item, tag: first.tag, idle: false, seq: first.seq, removed: false });
      }
    }
    const entry: Entry<T> = { item, tag, idle, seq: this.seq++, removed: false };
    if (idle) this.edge.set(key, entry);
    this.insert(entry);
    this.count++;
  }

  /** The waiting task with the smallest tag. */
  shift(): T | undefined {
    for (let entry = this.pop(); entry; entry = this.pop()) {
      if (entry.removed) continue;
      if (entry.idle) this.edge.delete(this.keyOf(entry.item));
      this.entries.delete(entry.item);
      this.count--;
      this.now = entry.tag;
      return entry.item;
    }
    return undefined;
  }

  /** Removes `item`; false if it is not here. */
  remove(item: T): boolean {
    const entry = this.entries.get(item);
    if (!entry) return false;
    this.entries.delete(item);
    entry.removed = true;
    this.count--;
    // Nothing live left: drop the removed entries at once rather than on later shifts.
    if (this.count === 0) this.heap.length = 0;
    return true;
  }

  private insert(entry: Entry<T>): void {
    this.entries.set(entry.item, entry);
    this.heap.push(entry);
    this.up(this.heap.length - 1);
  }

  private pop(): Entry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    if (a.tag !== b.tag) return a.tag < b.tag;
    if (a.idle !== b.idle) return a.idle;
    return a.seq < b.seq;
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}
