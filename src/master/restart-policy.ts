/**
 * When to replace a dead worker and when to give up: exponential backoff over
 * the deaths in a sliding window, and a crash loop when too many fall in it.
 */
export interface RestartDecision {
  /** Deaths within the window, this one included. */
  readonly recentDeaths: number;
  /** True when the server should stop respawning and exit. */
  readonly crashLoop: boolean;
  /** Milliseconds to wait before forking the replacement. */
  readonly delayMs: number;
}

const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;

export class RestartPolicy {
  private readonly deaths: number[] = [];

  /**
   * @param maxDeaths deaths within `windowMs` that make a crash loop
   * @param windowMs the sliding window, in milliseconds
   */
  constructor(
    private readonly maxDeaths: number,
    private readonly windowMs: number,
  ) {}

  /** Records an unexpected death at `now` (ms) and says what to do about it. */
  recordDeath(now: number): RestartDecision {
    this.deaths.push(now);
    while (this.deaths.length > 0 && this.deaths[0]! <= now - this.windowMs) this.deaths.shift();
    const recentDeaths = this.deaths.length;
    // 100 ms after a lone death, doubling with each recent one, at most 10 s.
    const delayMs = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (recentDeaths - 1));
    return { recentDeaths, crashLoop: recentDeaths >= this.maxDeaths, delayMs };
  }
}
