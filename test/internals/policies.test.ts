import { describe, expect, it } from 'vitest';
import { Factory, START, STOP } from '../../src/shared/protocol/factory.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { ThrottlingFactory } from '../../src/shared/protocol/policies/throttling.js';
import { TimeoutMixin } from '../../src/shared/protocol/policies/timeout.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import type { Producer } from '../../src/shared/protocol/transport.js';
import { connectProtocol, MemoryReactor } from '../../src/testing.js';

class Chat extends TimeoutMixin(LineReceiver) {
  override connectionMade(): void {
    this.setTimeout(30);
  }
  override lineReceived(line: Buffer): void {
    this.resetTimeout();
    this.sendLine(line);
  }
}

describe('TimeoutMixin', () => {
  it('closes an idle connection with SKEIN_ERR_IDLE_TIMEOUT on the reactor clock', () => {
    const h = connectProtocol(new Chat());
    h.advance(29.9);
    expect(h.transport.disconnecting).toBe(false);
    h.advance(0.2);
    expect(h.errorCodes).toEqual(['SKEIN_ERR_IDLE_TIMEOUT']);
    expect(h.lostReason?.name).toBe('IdleTimeoutError');
  });

  it('activity resets the timer; setTimeout(undefined) turns it off and returns the old value', () => {
    const h = connectProtocol(new Chat());
    for (let i = 0; i < 5; i++) {
      h.advance(20);
      h.receive('still here\r\n');
    }
    expect(h.transport.disconnecting).toBe(false);
    expect(h.protocol.setTimeout(undefined)).toBe(30);
    h.advance(1000);
    expect(h.transport.disconnecting).toBe(false);
    expect(h.protocol.setTimeout(5)).toBeUndefined();
    h.advance(5);
    expect(h.errorCodes).toEqual(['SKEIN_ERR_IDLE_TIMEOUT']);
  });

  it('cancels its timer when the connection is lost, and timeoutConnection can be overridden', () => {
    const reactor = new MemoryReactor();
    const h = connectProtocol(new Chat(), { reactor });
    expect(reactor.clock.getDelayedCalls()).toHaveLength(1);
    h.connectionLost();
    expect(reactor.clock.getDelayedCalls()).toHaveLength(0);

    class Polite extends TimeoutMixin(LineReceiver) {
      override connectionMade(): void {
        this.setTimeout(1);
      }
      override timeoutConnection(): void {
        this.sendLine('bye');
        this.transport.loseConnection();
      }
    }
    const p = connectProtocol(new Polite());
    p.advance(1);
    expect(p.written()).toBe('bye\r\n');
    expect(p.lostReason?.name).toBe('ConnectionDone');
    expect(p.errorCodes).toEqual([]);
  });
});

describe('ThrottlingFactory', () => {
  class Sink extends Protocol {
    received = 0;
    override dataReceived(data: Buffer): void {
      this.received += data.length;
    }
  }

  it('pauses reading on every connection for long enough to bring the read rate back to the limit', async () => {
    const reactor = new MemoryReactor();
    const throttle = new ThrottlingFactory(Factory.forProtocol(Sink), { readLimit: 1000 });
    await throttle[START](reactor);
    const a = connectProtocol(throttle.buildProtocol({ type: 'TCP', host: '1.2.3.4', port: 1 })!, { factory: throttle, reactor });
    const b = connectProtocol(throttle.buildProtocol({ type: 'TCP', host: '1.2.3.5', port: 2 })!, { factory: throttle, reactor });
    a.receive(Buffer.alloc(2000));
    b.receive(Buffer.alloc(1000));
    reactor.clock.advance(1); // 3000 bytes in a second: 3x the limit → paused for 2 s
    expect(a.transport.producerState).toBe('paused');
    expect(b.transport.producerState).toBe('paused');
    reactor.clock.advance(1.9);
    expect(a.transport.producerState).toBe('paused');
    reactor.clock.advance(0.2);
    expect(a.transport.producerState).toBe('producing');
    expect(b.transport.producerState).toBe('producing');
    await throttle[STOP]();
    expect(reactor.clock.getDelayedCalls()).toHaveLength(0);
  });

  it('pauses registered producers when the write rate is over the limit', async () => {
    const events: string[] = [];
    class Streamer extends Protocol implements Producer {
      override connectionMade(): void {
        this.transport.registerProducer(this, true);
        this.transport.write(Buffer.alloc(5000));
      }
      pauseProducing(): void {
        events.push('pause');
      }
      resumeProducing(): void {
        events.push('resume');
      }
      stopProducing(): void {}
    }
    const reactor = new MemoryReactor();
    const throttle = new ThrottlingFactory(Factory.forProtocol(Streamer), { writeLimit: 1000 });
    await throttle[START](reactor);
    connectProtocol(throttle.buildProtocol({ type: 'TCP', host: '1.2.3.4', port: 1 })!, { factory: throttle, reactor });
    reactor.clock.advance(1);
    expect(events).toEqual(['pause']);
    reactor.clock.advance(4);
    expect(events).toEqual(['pause', 'resume']);
    await throttle[STOP]();
  });

  it('forwards every event to the wrapped protocol and counts its protocol errors', async () => {
    const reactor = new MemoryReactor();
    const inner = Factory.forProtocol(class extends LineReceiver {
      override maxLength = 4;
      override lineReceived(line: Buffer): void {
        this.sendLine(line);
      }
    });
    const throttle = new ThrottlingFactory(inner, { readLimit: 1e9 });
    await throttle[START](reactor);
    expect(inner.reactor).toBe(reactor);
    const h = connectProtocol(throttle.buildProtocol({ type: 'TCP', host: '1.2.3.4', port: 1 })!, { factory: throttle, reactor });
    h.receive('hi\r\n');
    expect(h.written()).toBe('hi\r\n');
    h.receive('too long\r\n');
    expect(h.errorCodes).toEqual(['SKEIN_ERR_LINE_TOO_LONG']);
    expect(h.lostReason?.name).toBe('LineTooLongError');
    await throttle[STOP]();
  });
});
