/**
 * A first-in first-out list with O(1) push, shift and removal of any entry
 * (removed entries are skipped lazily). The offload pool keeps its queued and
 * waiting tasks in these: a lost connection removes its tasks from the middle.
 */
export class Fifo<T extends object> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private live = 0;
  private readonly index = new WeakMap<T, number>();
  private base = 0; // absolute position of items[0]

  /** Entries in the list. */
  get size(): number {
    return this.live;
  }

  push(item: T): void {
    this.index.set(item, this.base + this.items.length);
    this.items.push(item);
    this.live++;
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head++] = undefined;
      if (item !== undefined) {
        this.index.delete(item);
        this.live--;
        this.compact();
        return item;
      }
    }
    return undefined;
  }

  /** Removes `item` wherever it is; false if it is not in the list. */
  remove(item: T): boolean {
    const at = this.index.get(item);
    if (at === undefined) return false;
    this.index.delete(item);
    this.items[at - this.base] = undefined;
    this.live--;
    this.compact();
    return true;
  }

  private compact(): void {
    if (this.live === 0) {
      this.base += this.items.length;
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
