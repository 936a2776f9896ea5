import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientFactory, type Connector } from '../../src/client/client-factory.js';
import { connectTCP } from '../../src/client/connector.js';
import { ConnectError, ConnectionDone, ConnectTimeoutError, InvalidOptionError } from '../../src/shared/protocol/errors.js';
import { Factory } from '../../src/shared/protocol/factory.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import { Reactor } from '../../src/worker/reactor.js';
import { ProcessedProtocol } from '../../src/protocols/processed.js';
import { FakeClock } from '../../src/shared/protocol/testing/fake-clock.js';
import { eventually, freePort } from '../helpers/server.js';


const silent = pino({ level: 'silent' });
let reactor: Reactor | undefined;

afterEach(async () => {
  await reactor?.stop();
  reactor = undefined;
});

/** An in-process `processed` server on a free port. */
async function processedServer(): Promise<number> {
  reactor = new Reactor({ log: silent });
  const bound = await reactor.listen('tcp:0:interface=127.0.0.1', Factory.forProtocol(ProcessedProtocol), 'processed');
  return bound.port!;
}

class Recorder extends Protocol {
  received = '';
  lost: Error | undefined;
  override dataReceived(data: Buffer): void {
    this.received += data.toString();
  }
  override connectionLost(reason: Error): void {
    this.lost = reason;
  }
}

class RecordingFactory extends ClientFactory<Recorder> {
  override protocol = Recorder;
  events: string[] = [];
  reasons: Error[] = [];
  override startFactory(): void {
    this.events.push('startFactory');
  }
  override stopFactory(): void {
    this.events.push('stopFactory');
  }
  override startedConnecting(_connector: Connector): void {
    this.events.push('startedConnecting');
  }
  override clientConnectionFailed(_connector: Connector, reason: Error): void {
    this.events.push('clientConnectionFailed');
    this.reasons.push(reason);
  }
  override clientConnectionLost(_connector: Connector, reason: Error): void {
    this.events.push('clientConnectionLost');
    this.reasons.push(reason);
  }
}

describe('connectTCP', () => {
  it('resolves with the connected protocol, which talks to a real server and hears connectionLost once', async () => {
    const port = await processedServer();
    const factory = new RecordingFactory();
    const protocol = await connectTCP('127.0.0.1', port, factory);
    expect(protocol).toBeInstanceOf(Recorder);
    expect(protocol.connected).toBe(true);
    expect(protocol.transport.getPeer()).toMatchObject({ type: 'TCP', host: '127.0.0.1', port });
    await eventually(() => protocol.received.includes('Welcome'));
    protocol.transport.write('hello');
    await eventually(() => protocol.received.endsWith('Processed: hello'));
    protocol.transport.loseConnection();
    await eventually(() => factory.events.includes('stopFactory'));
    expect(protocol.lost).toBeInstanceOf(ConnectionDone);
    expect(factory.reasons).toEqual([protocol.lost]);
    expect(factory.events).toEqual(['startFactory', 'startedConnecting', 'clientConnectionLost', 'stopFactory']);
  });

  it('accepts a plain Factory', async () => {
    const port = await processedServer();
    const protocol = await connectTCP('127.0.0.1', port, Factory.forProtocol(Recorder));
    await eventually(() => protocol.received.includes('Welcome'));
    protocol.transport.abortConnection();
  });

  it('rejects with ConnectError and calls clientConnectionFailed when the connection is refused', async () => {
    const port = await freePort();
    const factory = new RecordingFactory();
    const error = await connectTCP('127.0.0.1', port, factory).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).message).toMatch(/ECONNREFUSED/);
    expect(factory.events).toEqual(['startFactory', 'startedConnecting', 'clientConnectionFailed', 'stopFactory']);
  });

  it('fails with ConnectTimeoutError when the attempt outlasts its timeout on the reactor clock', async () => {
    const port = await processedServer();
    const clock = new FakeClock();
    const factory = new RecordingFactory();
    factory.clock = clock;
    const result = connectTCP('127.0.0.1', port, factory, { timeout: 5 }).catch((e: unknown) => e);
    // The socket opens after startFactory settles (a microtask); the connect completes only in a later macrotask.
    for (let i = 0; i < 20 && clock.pending().length === 0; i++) await Promise.resolve();
    expect(clock.pending()).toEqual([5]);
    clock.advance(5);
    expect(await result).toBeInstanceOf(ConnectTimeoutError);
    expect(factory.events).toContain('clientConnectionFailed');
  });

  it('rejects when the factory refuses the connection', async () => {
    const port = await processedServer();
    const factory = new RecordingFactory();
    factory.buildProtocol = () => null;
    await expect(connectTCP('127.0.0.1', port, factory)).rejects.toThrow(/refused the connection/);
  });

  it('validates its options, naming them', () => {
    expect(() => connectTCP('127.0.0.1', 0, new ClientFactory())).toThrow(InvalidOptionError);
    expect(() => connectTCP('127.0.0.1', 70000, new ClientFactory())).toThrow(/port/);
    expect(() => connectTCP('127.0.0.1', 1, new ClientFactory(), { timeout: 0 })).toThrow(/options.timeout/);
  });
});
