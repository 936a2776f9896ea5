import type { Address } from '../shared/protocol/address.js';
import type { Clock, DelayedCall } from '../shared/protocol/clock.js';
import { InvalidOptionError } from '../shared/protocol/errors.js';
import type { Protocol } from '../shared/protocol/protocol.js';
import { ClientFactory, type Connector } from './client-factory.js';

/** Backoff settings of a {@link ReconnectingClientFactory}. Delays are in seconds. */
export interface ReconnectOptions {
  /** Delay before the first retry. Default 1. */
  readonly initialDelay?: number;
  /** Ceiling of the delay between retries. Default 3600. */
  readonly maxDelay?: number;
  /** Each retry waits this many times longer than the one before. Default e (Twisted's). */
  readonly factor?: number;
  /** Standard deviation of each delay, as a fraction of it (normal jitter). Default 0.1196 (Twisted's); 0 turns it off. */
  readonly jitter?: number;
  /** Retries after which the factory gives up; undefined: never. */
  readonly maxRetries?: number | undefined;
  /** The clock the retries are scheduled on. */
  readonly clock?: Clock;
  /** Uniform random numbers in [0, 1), for the jitter (tests make it deterministic). */
  readonly random?: () => number;
}

/**
 * A client factory that reconnects after a failed attempt or a lost
 * connection, with exponential backoff and jitter. Twisted's
 * `ReconnectingClientFactory`.
 *
 * The n-th retry waits `min(initialDelay × factor^(n-1), maxDelay)`, spread by
 * normal jitter. The delay resets when a connection is built (the default
 * `buildProtocol` calls {@link resetDelay}: call it yourself if you override
 * `buildProtocol` without calling `super`). `stopTrying()` cancels a pending
 * retry and any attempt in progress.
 */
export class ReconnectingClientFactory<P extends Protocol = Protocol> extends ClientFactory<P> {
  /** Delay before the first retry, seconds. */
  initialDelay = 1;
  /** Ceiling of the delay between retries, seconds. */
  maxDelay = 3600;
  /** Each retry waits this many times longer than the one before. */
  factor = Math.E;
  /** Standard deviation of each delay, as a fraction of it; 0 turns jitter off. */
  jitter = 0.11962656472;
  /** Retries after which the factory gives up; undefined: never. */
  maxRetries: number | undefined;
  /** Uniform random numbers in [0, 1), for the jitter. */
  random: () => number = Math.random;
  /** The un-jittered delay of the last scheduled retry (0 before the first). */
  delay = 0;
  /** Retries since the last successful connection. */
  retries = 0;
  /** False after `stopTrying()`. */
  continueTrying = true;
  /** The connector of the last failure or loss. */
  connector: Connector | undefined;
  private callID: DelayedCall | undefined;

  constructor(options: ReconnectOptions = {}) {
    super();
    for (const name of ['initialDelay', 'maxDelay', 'factor', 'jitter'] as const) {
      const value = options[name];
      if (value === undefined) continue;
      const ok = name === 'factor' ? value >= 1 : value >= 0;
      if (!Number.isFinite(value) || !ok) {
        throw new InvalidOptionError(`options.${name} must be a finite number ${name === 'factor' ? '>= 1' : '>= 0'} (got ${value})`);
      }
      this[name] = value;
    }
    if (options.maxRetries !== undefined) {
      if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) {
        throw new InvalidOptionError(`options.maxRetries must be a non-negative integer (got ${options.maxRetries})`);
      }
      this.maxRetries = options.maxRetries;
    }
    if (options.clock) this.clock = options.clock;
    if (options.random) this.random = options.random;
  }

  /** Resets the backoff (also called by the default `buildProtocol`), and starts trying again after `stopTrying()`. */
  resetDelay(): void {
    this.delay = 0;
    this.retries = 0;
    this.callID = undefined;
    this.continueTrying = true;
  }

  /** Stops reconnecting: cancels the pending retry and any attempt in progress. */
  stopTrying(): void {
    this.continueTrying = false;
    this.callID?.cancel();
    this.callID = undefined;
    this.connector?.stopConnecting();
  }

  override buildProtocol(addr: Address): P | null {
    this.resetDelay();
    return super.buildProtocol(addr);
  }

  override clientConnectionFailed(connector: Connector, _reason: Error): void {
    if (this.continueTrying) {
      this.connector = connector;
      this.retry();
    }
  }

  override clientConnectionLost(connector: Connector, _reason: Error): void {
    if (this.continueTrying) {
      this.connector = connector;
      this.retry();
    }
  }

  /** Schedules the next attempt on `connector`, unless stopped or out of retries. */
  retry(connector: Connector | undefined = this.connector): void {
    if (!this.continueTrying || !connector) return;
    this.retries++;
    if (this.maxRetries !== undefined && this.retries > this.maxRetries) return;
    this.delay = this.retries === 1 ? this.initialDelay : Math.min(this.delay * this.factor, this.maxDelay);
    this.callID = connector.connectAfter(this.jittered(this.delay), this.clock);
  }

  /** `delay` spread by a normal variate (Box-Muller), never negative. */
  private jittered(delay: number): number {
    if (this.jitter === 0 || delay === 0) return delay;
    const u = 1 - this.random();
    const v = this.random();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(0, delay + normal * delay * this.jitter);
  }
}
