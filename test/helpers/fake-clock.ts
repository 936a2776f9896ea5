/** A manual clock for unit tests: time moves only with `advance()` (Twisted's `task.Clock`). */
import type { Clock, DelayedCall } from '../../src/shared/clock.js';

interface Call extends DelayedCall {
  time: number;
  fn: () => void;
  live: boolean;
}

export class FakeClock implements Clock {
  private now = 0;
  private calls: Call[] = [];

  seconds(): number {
    return this.now;
  }

  callLater(seconds: number, fn: () => void): DelayedCall {
    const call: Call = {
      time: this.now + seconds,
      fn,
      live: true,
      getTime: () => call.time,
      cancel: () => void (call.live = false),
      reset: (s) => void ((call.time = this.now + s), (call.live = true)),
      active: () => call.live,
    };
    this.calls.push(call);
    return call;
  }

  /** Delays of the calls still pending, from now, soonest first. */
  pending(): number[] {
    return this.calls.filter((c) => c.live).map((c) => c.time - this.now).sort((a, b) => a - b);
  }

  /** Moves time forward, running every call that falls due, in time order. */
  advance(seconds: number): void {
    const until = this.now + seconds;
    for (;;) {
      const due = this.calls.filter((c) => c.live && c.time <= until).sort((a, b) => a.time - b.time)[0];
      if (!due) break;
      this.now = due.time;
      due.live = false;
      due.fn();
    }
    this.now = until;
    this.calls = this.calls.filter((c) => c.live);
  }
}
