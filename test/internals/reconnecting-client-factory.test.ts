import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/client/client-factory.js';
import { connectTCP } from '../../src/client/connector.js';
import { ReconnectingClientFactory } from '../../src/client/reconnecting-client-factory.js';
import type { Clock, DelayedCall } from '../../src/shared/protocol/clock.js';
import { ConnectError, InvalidOptionError } from '../../src/shared/protocol/errors.js';
import { Factory } from '../../src/shared/protocol/factory.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import { Reactor } from '../../src/worker/reactor.js';
import { FakeClock } from '../../src/shared/protocol/testing/fake-clock.js';
import { eventually, freePort } from '../helpers/server.js';


const silent = pino({ level: 'silent' });
let reactor: Reactor | undefined;
let factory: ReconnectingClientFactory | undefined;

afterEach(async () => {
  factory?.stopTrying();
  factory = undefined;
  await reactor?.stop();
  reactor = undefined;
});

class Quiet extends Protocol {}

class CountingFactory extends ReconnectingClientFactory<Quiet> {
  override protocol = Quiet;
  failures = 0;
  losses = 0;
  override clientConnectionFailed(connector: Connector, reason: Error): void {
    this.failures++;
    super.clientConnectionFailed(connector, reason);
  }
  override clientConnectionLost(connector: Connector, reason: Error): void {
    this.losses++;
    super.clientConnectionLost(connector, reason);
  }
}

/** A connector stub that records the delays it was asked to wait. */
function recordingConnector(delays: number[]): Connector {
  const call: DelayedCall = { getTime: () => 0, cancel: () => {}, reset: () => {}, active: () => true };
  return {
    state: 'disconnected',
    getDestination: () => ({ type: 'TCP', host: '127.0.0.1', port: 1 }),
    connect: () => {},
    connectAfter: (seconds: number, _clock: Clock) => (delays.push(seconds), call),
    stopConnecting: () => {},
    disconnect: () => {},
  };
}

describe('ReconnectingClientFactory', () => {
  it('backs off exponentially up to maxDelay (no jitter)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (initialDelay, factor, maxDelay) => {
          const delays: number[] = [];
          const f = new ReconnectingClientFactory({ initialDelay, factor, maxDelay, jitter: 0 });
          const connector = recordingConnector(delays);
          for (let i = 0; i < 12; i++) f.clientConnectionFailed(connector, new ConnectError());
          const expected = Array.from({ length: 12 }, (_, n) => (n === 0 ? initialDelay : Math.min(initialDelay * factor ** n, maxDelay)));
          delays.forEach((d, n) => expect(d).toBeCloseTo(expected[n]!, 6));
        },
      ),
    );
  });

  it('spreads delays with jitter, never below zero', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 40, maxLength: 40 }), (randoms) => {
        const delays: number[] = [];
        let i = 0;
        const f = new ReconnectingClientFactory({ initialDelay: 1, factor: 2, maxDelay: 8, jitter: 0.5, random: () => randoms[i++ % randoms.length]! });
        const connector = recordingConnector(delays);
        for (let n = 0; n < 10; n++) f.clientConnectionFailed(connector, new ConnectError());
        for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
      }),
    );
    const delays: number[] = [];
    const f = new ReconnectingClientFactory({ initialDelay: 10, factor: 1, jitter: 0.1 });
    const connector = recordingConnector(delays);
    for (let n = 0; n < 200; n++) f.clientConnectionFailed(connector, new ConnectError());
    expect(new Set(delays).size).toBeGreaterThan(150);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(9);
    expect(mean).toBeLessThan(11);
  });

  it('retries on the reactor clock until the server is up, then resets its delay and reconnects after a loss', async () => {
    const port = await freePort();
    const clock = new FakeClock();
    factory = new CountingFactory({ initialDelay: 1, factor: 2, maxDelay: 3, jitter: 0, clock });
    const f = factory as CountingFactory;
    const first = connectTCP('127.0.0.1', port, f);
    await eventually(() => f.failures === 1);
    expect(clock.pending()).toEqual([1]);
    clock.advance(1);
    await eventually(() => f.failures === 2);
    expect(clock.pending()).toEqual([2]);
    clock.advance(2);
    await eventually(() => f.failures === 3);
    expect(clock.pending()).toEqual([3]); // capped by maxDelay

    reactor = new Reactor({ log: silent });
    const served: Protocol[] = [];
    const server = Factory.forProtocol(Quiet);
    server.buildProtocol = () => {
      const p = new Quiet();
      served.push(p);
      return p;
    };
    await reactor.listen(`tcp:${port}:interface=127.0.0.1`, server, 'quiet');
    clock.advance(3);
    const protocol = await first;
    expect(protocol.connected).toBe(true);
    expect(f.retries).toBe(0);

    // The server drops the connection: the factory hears the loss and schedules a retry after initialDelay.
    await eventually(() => served.length === 1);
    served[0]!.transport.abortConnection();
    await eventually(() => f.losses === 1);
    expect(clock.pending()).toEqual([1]);
    f.stopTrying();
    expect(clock.pending()).toEqual([]);
  });

  it('gives up after maxRetries: connectTCP rejects with the last failure', async () => {
    const port = await freePort();
    const clock = new FakeClock();
    factory = new CountingFactory({ initialDelay: 1, jitter: 0, maxRetries: 2, clock });
    const f = factory as CountingFactory;
    const result = connectTCP('127.0.0.1', port, f).catch((e: unknown) => e);
    await eventually(() => f.failures === 1);
    clock.advance(1);
    await eventually(() => f.failures === 2);
    clock.advance(10);
    expect(await result).toBeInstanceOf(ConnectError);
    expect(f.failures).toBe(3);
    expect(clock.pending()).toEqual([]);
  });

  it('stopTrying() cancels a pending retry and rejects a pending connect', async () => {
    const port = await freePort();
    const clock = new FakeClock();
    factory = new CountingFactory({ jitter: 0, clock });
    const f = factory as CountingFactory;
    const result = connectTCP('127.0.0.1', port, f).catch((e: unknown) => e);
    await eventually(() => f.failures === 1);
    expect(clock.pending()).toHaveLength(1);
    f.stopTrying();
    expect(clock.pending()).toEqual([]);
    expect(await result).toBeInstanceOf(ConnectError);
    f.resetDelay();
    expect(f.continueTrying).toBe(true);
  });

  it('validates its options, naming them', () => {
    expect(() => new ReconnectingClientFactory({ factor: 0.5 })).toThrow(InvalidOptionError);
    expect(() => new ReconnectingClientFactory({ initialDelay: -1 })).toThrow(/options.initialDelay/);
    expect(() => new ReconnectingClientFactory({ maxRetries: 1.5 })).toThrow(/options.maxRetries/);
    expect(() => new ReconnectingClientFactory({ jitter: Number.NaN })).toThrow(/options.jitter/);
  });
});
