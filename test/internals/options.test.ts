import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../../src/shared/protocol/errors.js';
import { DEFAULTS, resolveOptions } from '../../src/shared/config/options.js';

describe('resolveOptions', () => {
  it('applies defaults', () => {
    const o = resolveOptions({});
    expect(o.workers).toBe(availableParallelism());
    expect(o.poolThreads).toBe(Math.max(1, Math.floor(availableParallelism() / o.workers)));
    expect(o.poolMaxQueue).toBe(o.poolThreads ** 2);
    expect(o.metricsPort).toBe(9100);
    expect(o.metricsHost).toBe('127.0.0.1');
    expect(o.shutdownTimeout).toBe(10);
    expect(o.services).toEqual([{ name: 'processed', protocol: 'processed', listen: [DEFAULTS.listen], options: {} }]);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('takes flag over env over config', () => {
    const config = { workers: 3, shutdownTimeout: 4 };
    const env = { SKEIN_WORKERS: '2', SKEIN_METRICS_PORT: '9200' };
    const o = resolveOptions({ flags: { workers: '1' }, env, config });
    expect(o.workers).toBe(1);
    expect(o.metricsPort).toBe(9200);
    expect(o.shutdownTimeout).toBe(4);
    expect(resolveOptions({ env, config }).workers).toBe(2);
    expect(resolveOptions({ config }).workers).toBe(3);
  });

  it('reads the pool overload policy (default pause)', () => {
    expect(resolveOptions({}).poolOverload).toBe('pause');
    expect(resolveOptions({ config: { poolOverload: 'reject' } }).poolOverload).toBe('reject');
    expect(resolveOptions({ env: { SKEIN_POOL_OVERLOAD: 'reject' }, config: { poolOverload: 'pause' } }).poolOverload).toBe('reject');
  });

  it('caps each pool thread at 512 MiB of heap by default, at least 16', () => {
    expect(resolveOptions({}).poolThreadMemory).toBe(512);
    expect(resolveOptions({ env: { SKEIN_POOL_THREAD_MEMORY: '64' } }).poolThreadMemory).toBe(64);
    expect(() => resolveOptions({ flags: { poolThreadMemory: '8' } })).toThrow(/--pool-thread-memory must be at least 16 MiB \(got 8\)/);
    expect(() => resolveOptions({ config: { poolThreadMemory: 'lots' } })).toThrow(/config key 'poolThreadMemory' must be a positive integer/);
  });

  it('limits the time of a task on a pool thread to 60 s by default', () => {
    expect(resolveOptions({}).poolTaskTimeout).toBe(60);
    expect(resolveOptions({ flags: { poolTaskTimeout: '0.5' } }).poolTaskTimeout).toBe(0.5);
    expect(() => resolveOptions({ flags: { poolTaskTimeout: '0' } })).toThrow(/--pool-task-timeout must be a positive number of seconds/);
  });

  it('sizes the pool so all workers together use about one thread per core', () => {
    const o = resolveOptions({ flags: { workers: String(availableParallelism()) } });
    expect(o.poolThreads * o.workers).toBeLessThanOrEqual(Math.max(availableParallelism(), o.workers));
  });

  it.each([
    [{ flags: { workers: '0' } }, /--workers must be a positive integer \(got '0'\)/],
    [{ env: { SKEIN_METRICS_PORT: 'x' } }, /SKEIN_METRICS_PORT must be a port number/],
    [{ config: { shutdownTimeout: 'soon' } }, /config key 'shutdownTimeout' must be a positive number/],
    [{ config: { wrokers: 2 } }, /config key 'wrokers' is not an option/],
    [{ config: { services: [] } }, /'services' must be a non-empty array/],
    [{ config: { services: [{ listen: ['tcp:x'] }] } }, /services\[0\].listen: invalid endpoint 'tcp:x'/],
    [{ config: { services: [{}, {}] } }, /two services are named 'processed'/],
    [{ flags: { highWaterMark: '10', lowWaterMark: '20' } }, /low-water-mark \(20\) must be below high-water-mark \(10\)/],
    // Issue 15, case 11: every option has a range.
    [{ flags: { highWaterMark: '0' } }, /--high-water-mark must be a positive number of bytes \(got '0'\)/],
    [{ flags: { lowWaterMark: '0' } }, /--low-water-mark must be a positive number of bytes/],
    [{ flags: { highWaterMark: '100', lowWaterMark: '100' } }, /low-water-mark \(100\) must be below high-water-mark \(100\)/],
    [{ flags: { highWaterMark: '1' } }, /low-water-mark \(1\) must be below high-water-mark \(1\)/],
    [{ flags: { metricsTimeout: '1e10' } }, /--metrics-timeout must be at most 2147483 seconds, the longest timer Node keeps \(got '1e10'\)/],
    [{ config: { shutdownTimeout: 3e6 } }, /config key 'shutdownTimeout' must be at most 2147483 seconds/],
    [{ env: { SKEIN_IDLE_TIMEOUT: 'Infinity' } }, /SKEIN_IDLE_TIMEOUT must be a positive number of seconds/],
    [{ flags: { metricsTimeout: '1', metricsWorkerWait: '2' } }, /metrics-worker-wait \(2 s\) must not exceed metrics-timeout \(1 s\)/],
    [{ env: { SKEIN_METRICS_WORKER_WAIT: '0' } }, /SKEIN_METRICS_WORKER_WAIT must be a positive number of seconds/],
    [{ flags: { poolOverload: 'drop' } }, /--pool-overload must be one of pause, reject \(got 'drop'\)/],
    [{ env: { SKEIN_POOL_OVERLOAD: 'x' } }, /SKEIN_POOL_OVERLOAD must be one of pause, reject/],
  ])('rejects %j naming the option', (layers, message) => {
    expect(() => resolveOptions(layers as never)).toThrow(InvalidOptionError);
    expect(() => resolveOptions(layers as never)).toThrow(message);
  });
});

describe('--workers bound (issue 15, case 6)', () => {
  it('defaults --max-workers to 4 × cores and refuses more workers', () => {
    expect(resolveOptions({}).maxWorkers).toBe(4 * availableParallelism());
    expect(() => resolveOptions({ flags: { workers: String(4 * availableParallelism() + 1) } })).toThrow(InvalidOptionError);
    expect(resolveOptions({ flags: { workers: String(4 * availableParallelism()) } }).workers).toBe(4 * availableParallelism());
  });

  it('takes an explicit --max-workers, and names the source of the bad value', () => {
    const many = 4 * availableParallelism() + 3;
    expect(resolveOptions({ flags: { workers: String(many), maxWorkers: String(many) } }).workers).toBe(many);
    expect(() => resolveOptions({ env: { SKEIN_WORKERS: '9' }, config: { maxWorkers: 8 } })).toThrow(
      /SKEIN_WORKERS must be at most 8 \(config key 'maxWorkers'; raise --max-workers to allow more\) \(got 9\)/,
    );
  });

  it('refuses counts that are not safe integers', () => {
    expect(() => resolveOptions({ flags: { workers: '99999999999999999999' } })).toThrow(/--workers must be a positive integer/);
    expect(() => resolveOptions({ flags: { maxWorkers: '1e300' } })).toThrow(/--max-workers must be a positive integer/);
  });
});
