import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Factory } from '../../src/shared/protocol/factory.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import type { Producer } from '../../src/shared/protocol/transport.js';
import { eventually } from '../helpers/server.js';
import { Reactor } from '../../src/worker/reactor.js';
import type { SocketTransport } from '../../src/shared/net/socket-transport.js';

let reactor: Reactor | undefined;
afterEach(async () => {
  await reactor?.stop();
  reactor = undefined;
});

/** Serves `make()` protocols in this process; returns the port. */
async function serve(make: () => Protocol, options: { highWaterMark?: number; lowWaterMark?: number } = {}): Promise<number> {
  reactor = new Reactor({ log: pino({ level: 'silent' }), ...options });
  const factory = new Factory();
  factory.buildProtocol = () => {
    const p = make();
    p.factory = factory;
    return p;
  };
  return (await reactor.listen('tcp:0:interface=127.0.0.1', factory, 'test')).port!;
}

/** A raw client that keeps what it read, and whether the server ended its side. */
async function client(port: number, allowHalfOpen = false): Promise<{ socket: Socket; text: () => string; ended: Promise<unknown>; closed: Promise<unknown> }> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  socket.on('error', () => {});
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString()));
  return { socket, text: () => text, ended: once(socket, 'end'), closed: once(socket, 'close') };
}

describe('SocketTransport', () => {
  it('peer half-close: readConnectionLost runs, and the protocol can still answer before closing', async () => {
    const events: string[] = [];
    const port = await serve(
      () =>
        new (class extends LineReceiver {
          override lineReceived(line: Buffer): void {
            events.push(`line:${line}`);
          }
          override readConnectionLost(): void {
            events.push('readConnectionLost');
            this.sendLine('goodbye');
            this.transport.loseConnection();
          }
          override connectionLost(reason: Error): void {
            events.push(`connectionLost:${reason.name}`);
          }
        })(),
    );
    const c = await client(port);
    c.socket.end('last words\r\n');
    await c.closed;
    expect(c.text()).toBe('goodbye\r\n');
    await eventually(() => events.length === 3);
    expect(events).toEqual(['line:last words', 'readConnectionLost', 'connectionLost:ConnectionDone']);
  });

  it('loseWriteConnection: the peer sees end-of-stream, writeConnectionLost runs, and reading continues', async () => {
    const events: string[] = [];
    const port = await serve(
      () =>
        new (class extends LineReceiver {
          override connectionMade(): void {
            this.sendLine('no more from me');
            this.transport.loseWriteConnection();
            this.transport.write('dropped: written after the half-close');
          }
          override writeConnectionLost(): void {
            events.push('writeConnectionLost');
          }
          override lineReceived(line: Buffer): void {
            events.push(`line:${line}`);
            this.transport.loseConnection();
          }
        })(),
    );
    const c = await client(port, true);
    await c.ended;
    expect(c.text()).toBe('no more from me\r\n');
    c.socket.write('still listening?\r\n');
    await eventually(() => events.length === 2);
    expect(events).toEqual(['writeConnectionLost', 'line:still listening?']);
    c.socket.end();
    await c.closed;
  });

  it('pauseProducing stops reading until resumeProducing; setTcpNoDelay and setTcpKeepAlive apply to the socket', async () => {
    let transport: SocketTransport | undefined;
    const lines: string[] = [];
    const port = await serve(
      () =>
        new (class extends LineReceiver {
          override connectionMade(): void {
            transport = this.transport as SocketTransport;
            this.transport.setTcpNoDelay(true);
            this.transport.setTcpKeepAlive(true, 30);
          }
          override lineReceived(line: Buffer): void {
            lines.push(line.toString());
            if (line.toString() === 'pause') this.transport.pauseProducing();
          }
        })(),
    );
    const c = await client(port);
    c.socket.write('pause\r\n');
    await eventually(() => lines.length === 1);
    expect([...transport!.readingPausedFor]).toEqual(['protocol']);
    expect(transport!.socket.isPaused()).toBe(true);
    c.socket.write('queued\r\n');
    transport!.resumeProducing();
    await eventually(() => lines.length === 2);
    expect(lines).toEqual(['pause', 'queued']);
    c.socket.end();
  });

  it('a pull producer is asked for more while the output buffer is low, and loseConnection waits for a streaming producer', async () => {
    const port = await serve(
      () =>
        new (class extends LineReceiver implements Producer {
          private left = 200;
          override connectionMade(): void {
            this.transport.registerProducer(this, false);
          }
          resumeProducing(): void {
            this.transport.write(Buffer.alloc(1024, 0x62));
            if (--this.left === 0) {
              this.transport.unregisterProducer();
              this.transport.loseConnection();
            }
          }
          stopProducing(): void {}
        })(),
      { highWaterMark: 8 * 1024, lowWaterMark: 2 * 1024 },
    );
    const c = await client(port);
    await c.closed;
    expect(c.text().length).toBe(200 * 1024);

    // Streaming: loseConnection is held until the producer unregisters (Twisted's rule).
    let producerTransport: SocketTransport | undefined;
    await reactor!.stop();
    const port2 = await serve(
      () =>
        new (class extends Protocol implements Producer {
          override connectionMade(): void {
            producerTransport = this.transport as SocketTransport;
            this.transport.registerProducer(this, true);
            this.transport.write('first ');
            this.transport.loseConnection();
          }
          // A plain Protocol still hears data while disconnecting (a LineReceiver stops parsing).
          override dataReceived(): void {
            this.transport.write('last');
            this.transport.unregisterProducer();
          }
          pauseProducing(): void {}
          resumeProducing(): void {}
          stopProducing(): void {}
        })(),
    );
    const d = await client(port2);
    await eventually(() => d.text() === 'first ');
    expect(producerTransport!.disconnecting).toBe(true);
    d.socket.write('go\r\n');
    await d.closed;
    expect(d.text()).toBe('first last');
  });

  describe('TCP_NODELAY on accepted connections: set before the first write Nagle could hold, and only then', () => {
    /**
     * Serves a protocol that answers line i with `replies[i]` bytes, after
     * `setup` ran in connectionMade; returns what reached the socket, in order: writes and setNoDelay calls.
     */
    async function socketCalls(replies: number[], setup: (transport: SocketTransport) => void = () => {}): Promise<string[]> {
      const calls: string[] = [];
      // On the prototype, so a call made when the connection is accepted (before connectionMade) counts too.
      const setNoDelay = Socket.prototype.setNoDelay;
      Socket.prototype.setNoDelay = function (this: Socket, enable?: boolean) {
        calls.push(`noDelay:${enable}`);
        return setNoDelay.call(this, enable);
      };
      try {
        return await served(calls, replies, setup);
      } finally {
        Socket.prototype.setNoDelay = setNoDelay;
      }
    }

    async function served(calls: string[], replies: number[], setup: (transport: SocketTransport) => void): Promise<string[]> {
      const port = await serve(
        () =>
          new (class extends LineReceiver {
            private n = 0;
            override connectionMade(): void {
              const socket = (this.transport as SocketTransport).socket;
              const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
              socket.write = ((chunk: Buffer) => (calls.push(`write:${chunk.length}`), write(chunk))) as typeof socket.write;
              setup(this.transport as SocketTransport);
            }
            override lineReceived(): void {
              const size = replies[this.n++];
              if (size !== undefined) this.transport.write(Buffer.alloc(size, 'a'));
            }
          })(),
      );
      const c = await client(port);
      // One line at a time, each after the previous reply: one read, so one write, per reply.
      let expected = 0;
      for (const size of replies) {
        c.socket.write('x\r\n');
        expected += size;
        await eventually(() => c.text().length === expected);
      }
      c.socket.end();
      return calls;
    }

    // A one-segment first write leaves at once with or without Nagle (nothing of ours is in flight): no setsockopt.
    it('a connection that answers once with a small reply never calls setsockopt', async () => {
      expect(await socketCalls([100])).toEqual(['write:100']);
    });

    it('the second write turns it on first', async () => {
      expect(await socketCalls([100, 100, 100])).toEqual(['write:100', 'noDelay:true', 'write:100', 'write:100']);
    });

    it('a first write of more than one segment (536 bytes) turns it on first', async () => {
      expect(await socketCalls([537, 100])).toEqual(['noDelay:true', 'write:537', 'write:100']);
    });

    it("the protocol's setTcpNoDelay(true) keeps the deferral; setTcpNoDelay(false) ends it", async () => {
      expect(await socketCalls([100, 100], (t) => t.setTcpNoDelay(true))).toEqual(['write:100', 'noDelay:true', 'write:100']);
      expect(await socketCalls([100, 100], (t) => t.setTcpNoDelay(false))).toEqual(['noDelay:false', 'write:100', 'write:100']);
    });
  });
});
