/**
 * Keeps replies in request order. Each `push` takes a reply that may not be
 * ready yet; replies are released to `write` strictly in the order they were
 * pushed, however their promises settle. A rejected reply goes to `fail`
 * (in order too), which decides what the peer sees.
 */
/** A reply: bytes or text to write, or nothing (`null`, `undefined`: write nothing, keep the order). */
export type ReplyValue = Buffer | string | null | undefined;

export class ReplyQueue {
  private readonly slots: Array<{ settled: boolean; ok: boolean; value: unknown }> = [];
  private head = 0;
  private closed = false;

  constructor(
    private readonly write: (value: Buffer | string) => void,
    private readonly fail: (error: unknown) => void,
    /** Told how many replies are still pending after promises settled and replies left. */
    private readonly released: (pending: number) => void = () => {},
  ) {}

  /** Number of replies pushed but not yet released. */
  get pending(): number {
    return this.slots.length - this.head;
  }

  /** Queues a reply. `null`/`undefined` values are released as "nothing to write". */
  push(reply: ReplyValue | PromiseLike<ReplyValue>): void {
    if (this.closed) return;
    if (this.pending === 0 && !isThenable(reply)) {
      // Fast path: nothing ahead of it, release now.
      if (reply !== null && reply !== undefined) this.write(reply);
      return;
    }
    const slot = { settled: false, ok: false, value: undefined as unknown };
    this.slots.push(slot);
    Promise.resolve(reply).then(
      (value) => this.settle(slot, true, value),
      (error: unknown) => this.settle(slot, false, error),
    );
  }

  /** Drops everything not yet released (the connection is gone). */
  close(): void {
    this.closed = true;
    this.slots.length = 0;
    this.head = 0;
  }

  private settle(slot: { settled: boolean; ok: boolean; value: unknown }, ok: boolean, value: unknown): void {
    if (this.closed) return;
    slot.settled = true;
    slot.ok = ok;
    slot.value = value;
    while (this.head < this.slots.length && this.slots[this.head]!.settled) {
      const next = this.slots[this.head]!;
      this.slots[this.head] = undefined as never;
      this.head++;
      if (next.ok) {
        const v = next.value as ReplyValue;
        if (v !== null && v !== undefined) this.write(v);
      } else {
        this.fail(next.value);
      }
      if (this.closed) return;
    }
    if (this.head === this.slots.length) {
      this.slots.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
    this.released(this.pending);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
