import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../src/master/restart-policy.js';

describe('RestartPolicy', () => {
  it('backs off exponentially from 100 ms, capped at 10 s', () => {
    const policy = new RestartPolicy(100, 60_000);
    const delays = Array.from({ length: 10 }, (_, i) => policy.recordDeath(i).delayMs);
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });

  it('calls it a crash loop when maxDeaths fall within the window', () => {
    const policy = new RestartPolicy(3, 10_000);
    expect(policy.recordDeath(0).crashLoop).toBe(false);
    expect(policy.recordDeath(1000).crashLoop).toBe(false);
    expect(policy.recordDeath(2000)).toMatchObject({ crashLoop: true, recentDeaths: 3 });
  });

  it('forgets deaths older than the window, and the backoff resets with them', () => {
    const policy = new RestartPolicy(3, 10_000);
    policy.recordDeath(0);
    policy.recordDeath(1000);
    const later = policy.recordDeath(30_000);
    expect(later).toEqual({ recentDeaths: 1, crashLoop: false, delayMs: 100 });
  });
});
