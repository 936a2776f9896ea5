/**
 * The reactor clock. Protocols schedule with `callLater`; tests swap in the
 * fake clock from `skein/testing` and move time with `advance()`.
 */

/** A scheduled call. Twisted's `IDelayedCall`. */
export interface DelayedCall {
  /** When it will run, in the clock's seconds. */
  getTime(): number;
  /** Stops it from running. Throws nothing if it already ran or was cancelled. */
  cancel(): void;
  /** Runs it `seconds` from now instead. */
  reset(seconds: number): void;
  /** True until it runs or is cancelled. */
  active(): boolean;
}

/** Something that can schedule calls. Twisted's `IReactorTime`. */
export interface Clock {
  /** Seconds, monotonic. */
  seconds(): number;
  /** Runs `fn` after `seconds` (may be fractional). */
  callLater(seconds: number, fn: () => void): DelayedCall;
}

class TimerCall implements DelayedCall {
  private timer: NodeJS.Timeout | undefined;
  private time = 0;

  constructor(
    seconds: number,
    private readonly fn: () => void,
  ) {
    this.reset(seconds);
  }

  getTime(): number {
    return this.time;
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  reset(seconds: number): void {
    this.cancel();
    this.time = realClock.seconds() + seconds;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fn();
    }, Math.max(0, seconds * 1000));
    // A pending timer must never keep a process alive that is otherwise done.
    this.timer.unref();
  }

  active(): boolean {
    return this.timer !== undefined;
  }
}

/** The wall clock, backed by `setTimeout`. */
export const realClock: Clock = {
  seconds: () => performance.now() / 1000,
  callLater: (seconds, fn) => new TimerCall(seconds, fn),
};
