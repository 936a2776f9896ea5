import { describe, expect, it } from 'vitest';
import { Factory } from '../../src/shared/protocol/factory.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import type { Producer } from '../../src/shared/protocol/transport.js';
import { connectedPair, connectProtocol, FakeClock, MemoryReactor } from '../../src/testing.js';

class Echo extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.sendLine(`Processed: ${line.toString()}`);
  }
}

class Client extends LineReceiver {
  answers: string[] = [];
  lost: Error | undefined;
  override lineReceived(line: Buffer): void {
    this.answers.push(line.toString());
  }
  override connectionLost(reason: Error): void {
    this.lost = reason;
  }
}

describe('FakeClock', () => {
  it('runs calls in time order when advanced, and not before', () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.callLater(2, () => ran.push('b'));
    clock.callLater(1, () => ran.push(`a@${clock.seconds()}`));
    const c = clock.callLater(1.5, () => ran.push('cancelled'));
    c.cancel();
    clock.advance(0.5);
    expect(ran).toEqual([]);
    clock.advance(2);
    expect(ran).toEqual(['a@1', 'b']);
    expect(clock.seconds()).toBe(2.5);
    expect(c.active()).toBe(false);
  });

  it('reset moves a call; calls scheduled while advancing run if they fall due', () => {
    const clock = new FakeClock();
    const ran: number[] = [];
    const call = clock.callLater(1, () => ran.push(clock.seconds()));
    clock.advance(0.9);
    call.reset(1); // now due at 1.9
    clock.advance(0.5);
    expect(ran).toEqual([]);
    clock.callLater(0.1, () => clock.callLater(0.2, () => ran.push(clock.seconds()))); // due at 1.4 + 0.1 + 0.2
    clock.advance(1);
    expect(ran).toEqual([expect.closeTo(1.7, 9), expect.closeTo(1.9, 9)]);
    expect(clock.getDelayedCalls()).toEqual([]);
  });
});

describe('MemoryReactor', () => {
  it('runs offloaded work inline and lends its fake clock to callLater', async () => {
    class Hasher extends Protocol {
      override dataReceived(data: Buffer): void {
        this.reply(this.offload<string>('upper', data.toString()));
        this.callLater(5, () => this.transport.write('tick'));
      }
    }
    const factory = Factory.forProtocol(Hasher);
    factory.processors = 'inline';
    const reactor = new MemoryReactor({ processors: { upper: (s: unknown) => String(s).toUpperCase() } });
    const h = connectProtocol(new Hasher(), { factory, reactor });
    h.receive('abc');
    await new Promise((r) => setImmediate(r));
    expect(h.written()).toBe('ABC');
    expect(reactor.offloaded.map((r) => r.task)).toEqual(['upper']);
    h.advance(5);
    expect(h.written()).toBe('ABCtick');
  });

  it('hands each processor a { signal } context that aborts when the connection is lost', async () => {
    let seen: AbortSignal | undefined;
    const reactor = new MemoryReactor({
      processors: {
        wait: (_payload: unknown, { signal }: { signal: AbortSignal }) => {
          seen = signal;
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve('stopped')));
        },
      },
    });
    class Waiter extends Protocol {
      result: Promise<unknown> | undefined;
      override dataReceived(): void {
        this.result = this.offload('wait');
      }
    }
    const factory = Factory.forProtocol(Waiter);
    factory.processors = 'inline';
    const h = connectProtocol(new Waiter(), { factory, reactor });
    h.receive('go');
    await new Promise((r) => setImmediate(r));
    expect(seen?.aborted).toBe(false);
    h.connectionLost();
    expect(seen?.aborted).toBe(true);
    await expect(h.protocol.result).resolves.toBe('stopped');
  });

  it('rejects an unknown processor with NoProcessorError', async () => {
    const reactor = new MemoryReactor({ processors: {} });
    await expect(reactor.offload({ processors: 'x', task: 'nope', payload: 1, protocol: 'p' })).rejects.toMatchObject({ code: 'SKEIN_ERR_NO_PROCESSOR' });
  });
});

describe('connectProtocol', () => {
  it('keeps the lifecycle: a throwing callback aborts and connectionLost runs once', () => {
    let lost = 0;
    class Fragile extends Protocol {
      override dataReceived(): void {
        throw new Error('boom');
      }
      override connectionLost(): void {
        lost++;
      }
    }
    const h = connectProtocol(new Fragile());
    h.receive('x').receive('y');
    expect(h.errorCodes).toEqual(['SKEIN_ERR_PROTOCOL_CALLBACK']);
    expect(h.transport.aborted).toBe(true);
    expect(lost).toBe(1);
    expect(h.lostReason?.name).toBe('ProtocolCallbackError');
    h.connectionLost();
    expect(lost).toBe(1);
  });

  it('delivers connectionLost(ConnectionDone) after the protocol closes cleanly', () => {
    class Bye extends Protocol {
      override connectionMade(): void {
        this.transport.write('bye');
        this.transport.loseConnection();
      }
    }
    const h = connectProtocol(new Bye());
    expect(h.written()).toBe('bye');
    expect(h.lostReason?.name).toBe('ConnectionDone');
  });
});

describe('connectedPair', () => {
  it('moves bytes both ways on pump, in any chunk size', () => {
    for (const chunkSize of [1, 3, undefined]) {
      const pair = connectedPair(new Client(), new Echo(), { chunkSize });
      pair.client.protocol.sendLine('hello');
      pair.client.protocol.sendLine('world');
      expect(pair.server.transport.value().length).toBe(0);
      pair.pump();
      expect(pair.client.protocol.answers).toEqual(['Processed: hello', 'Processed: world']);
    }
  });

  it('a clean close reaches both sides once the output is delivered', () => {
    const pair = connectedPair(new Client(), new Echo());
    pair.client.protocol.sendLine('last');
    pair.client.transport.loseConnection();
    pair.pump();
    expect(pair.server.lostReason?.name).toBe('ConnectionDone');
    expect(pair.client.protocol.lost?.name).toBe('ConnectionDone');
    // The reply was written after the client closed: it is not delivered to a closed client.
    expect(pair.client.protocol.answers).toEqual([]);
  });

  it('an over-long line from one side closes both, and the server side records the code', () => {
    const pair = connectedPair(new Client(), Object.assign(new Echo(), { maxLength: 10 }));
    pair.client.protocol.sendLine('x'.repeat(50));
    pair.pump();
    expect(pair.server.errorCodes).toEqual(['SKEIN_ERR_LINE_TOO_LONG']);
    expect(pair.server.lostReason?.name).toBe('LineTooLongError');
    expect(pair.client.lostReason?.name).toBe('ConnectionLost');
  });

  it('half-close: the peer hears readConnectionLost, the closer writeConnectionLost', () => {
    const events: string[] = [];
    class HalfServer extends Protocol {
      override readConnectionLost(): void {
        events.push('server:readConnectionLost');
        this.transport.write('after');
        this.transport.loseConnection();
      }
    }
    class HalfClient extends Client {
      override dataReceived(data: Buffer): void {
        events.push(`client:data:${data.toString()}`);
      }
      override writeConnectionLost(): void {
        events.push('client:writeConnectionLost');
      }
    }
    const pair = connectedPair(new HalfClient(), new HalfServer());
    pair.client.transport.loseWriteConnection();
    pair.pump();
    expect(events).toEqual(['server:readConnectionLost', 'client:writeConnectionLost', 'client:data:after']);
    expect(pair.client.lostReason?.name).toBe('ConnectionDone');
  });

  it('pauses a streaming producer above the high-water mark and resumes it below the low mark', () => {
    class Streamer extends Protocol implements Producer {
      paused = false;
      sent = 0;
      override connectionMade(): void {
        this.transport.registerProducer(this, true);
        this.produce();
      }
      produce(): void {
        while (!this.paused && this.sent < 1000) {
          this.transport.write(Buffer.alloc(1024));
          this.sent++;
        }
        if (this.sent === 1000) {
          this.transport.unregisterProducer();
          this.transport.loseConnection();
        }
      }
      pauseProducing(): void {
        this.paused = true;
      }
      resumeProducing(): void {
        this.paused = false;
        this.produce();
      }
      stopProducing(): void {}
    }
    let received = 0;
    class Sink extends Protocol {
      override dataReceived(data: Buffer): void {
        received += data.length;
      }
    }
    const pair = connectedPair(new Sink(), new Streamer(), { highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 });
    // Before any pump, the producer stopped just above the high-water mark instead of queueing 1000 KiB.
    expect(pair.server.transport.pending).toBeLessThanOrEqual(65 * 1024);
    expect(pair.server.transport.producerPauses).toBe(1);
    pair.pump();
    expect(received).toBe(1000 * 1024);
    expect(pair.server.transport.producerResumes).toBeGreaterThan(5);
    expect(pair.client.lostReason?.name).toBe('ConnectionDone');
  });

  it('does not deliver to a side that paused reading', () => {
    const pair = connectedPair(new Client(), new Echo());
    pair.server.transport.pauseProducing();
    pair.client.protocol.sendLine('wait');
    pair.pump();
    expect(pair.client.protocol.answers).toEqual([]);
    pair.server.transport.resumeProducing();
    pair.pump();
    expect(pair.client.protocol.answers).toEqual(['Processed: wait']);
  });
});
