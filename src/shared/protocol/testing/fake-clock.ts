import type { Clock, DelayedCall } from '../clock.js';

class FakeCall implements DelayedCall {
  cancelled = false;
  called = false;

  constructor(
    private readonly clock: FakeClock,
    public time: number,
    readonly fn: () => void,
    /** Tie-breaker: calls due at the same time run in the order they were scheduled. */
    public seq: number,
  ) {}

  getTime(): number {
    return this.time;
  }

  cancel(): void {
    if (!this.active()) return;
    this.cancelled = true;
    this.clock.remove(this);
  }

  reset(seconds: number): void {
    if (!this.active()) return;
    this.clock.reschedule(this, seconds);
  }

  active(): boolean {
    return !this.cancelled && !this.called;
  }
}

/**
 * A clock that moves only when told to. Twisted's `task.Clock`.
 *
 * Give it to a `MemoryReactor` (or `new Reactor({ clock })`), then
 * `advance(seconds)` runs every call that falls due, in time order.
 *
 * ```ts
 * const clock = new FakeClock();
 * let fired = false;
 * clock.callLater(5, () => (fired = true));
 * clock.advance(4.9); // fired === false
 * clock.advance(0.1); // fired === true
 * ```
 */
export class FakeClock implements Clock {
  private now = 0;
  private seq = 0;
  private calls: FakeCall[] = [];

  /** The fake time, in seconds (starts at 0). */
  seconds(): number {
    return this.now;
  }

  callLater(seconds: number, fn: () => void): DelayedCall {
    if (!(seconds >= 0)) throw new RangeError(`callLater: seconds must be a non-negative number (got ${seconds})`);
    const call = new FakeCall(this, this.now + seconds, fn, this.seq++);
    this.insert(call);
    return call;
  }

  /**
   * Moves time forward by `seconds`, running each call that falls due (also
   * calls scheduled by those calls, when they fall due before the new time).
   * While a call runs, `seconds()` is the time it was due.
   */
  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`advance: seconds must be a non-negative number (got ${seconds})`);
    const target = this.now + seconds;
    for (let next = this.calls[0]; next !== undefined && next.time <= target; next = this.calls[0]) {
      this.calls.shift();
      this.now = Math.max(this.now, next.time);
      next.called = true;
      next.fn();
    }
    this.now = target;
  }

  /** Advances by each amount in turn (Twisted's `Clock.pump`). */
  pump(timings: readonly number[]): void {
    for (const t of timings) this.advance(t);
  }

  /** Calls still pending, soonest first. */
  getDelayedCalls(): DelayedCall[] {
    return [...this.calls];
  }

  /** Delays (seconds from now) of the calls still pending, soonest first. */
  pending(): number[] {
    return this.calls.map((c) => c.getTime() - this.now).sort((a, b) => a - b);
  }

  /** @internal */
  remove(call: FakeCall): void {
    const i = this.calls.indexOf(call);
    if (i >= 0) this.calls.splice(i, 1);
  }

  /** @internal */
  reschedule(call: FakeCall, seconds: number): void {
    this.remove(call);
    call.time = this.now + seconds;
    call.seq = this.seq++;
    this.insert(call);
  }

  private insert(call: FakeCall): void {
    let i = this.calls.length;
    while (i > 0 && (this.calls[i - 1]!.time > call.time || (this.calls[i - 1]!.time === call.time && this.calls[i - 1]!.seq > call.seq))) i--;
    this.calls.splice(i, 0, call);
  }
}
