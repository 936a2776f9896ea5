import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Factory } from '../../src/shared/protocol/factory.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { FakeClock } from '../../src/testing.js';
import { Reactor, type ReactorOptions } from '../../src/worker/reactor.js';
import { connectClient, type TestClient } from '../helpers/client.js';

class Greeter extends LineReceiver {
  override connectionMade(): void {
    this.sendLine('hi');
  }
  override lineReceived(line: Buffer): void {
    this.sendLine(`Processed: ${line.toString()}`);
  }
}

let reactor: Reactor | undefined;
afterEach(async () => {
  await reactor?.stop();
  reactor = undefined;
});

async function start(options: ReactorOptions): Promise<number> {
  reactor = new Reactor({ log: pino({ level: 'silent' }), ...options });
  const bound = await reactor.listen('tcp:0:interface=127.0.0.1', Factory.forProtocol(Greeter), 'greeter');
  return bound.port!;
}

async function greeted(port: number, localAddress?: string): Promise<TestClient> {
  const c = await connectClient(port, '127.0.0.1', localAddress);
  await c.waitFor((t) => t.startsWith('hi\r\n'));
  return c;
}

describe('the reactor idle sweep (fake clock, real sockets)', () => {
  it('closes a connection idle longer than idleTimeout, counted as SKEIN_ERR_IDLE_TIMEOUT, and spares a busy one', async () => {
    const clock = new FakeClock();
    const port = await start({ clock, idleTimeout: 10 });
    const idle = await greeted(port);
    const busy = await greeted(port);
    for (let t = 0; t < 30; t += 2.5) {
      busy.write('ping\r\n');
      await busy.waitFor((text) => text.split('Processed: ping').length - 1 === t / 2.5 + 1);
      clock.advance(2.5);
    }
    await idle.closed();
    expect(busy.socket.destroyed).toBe(false);
    expect(reactor!.metrics.service('greeter').errors.get('SKEIN_ERR_IDLE_TIMEOUT')).toBe(1);
    busy.end();
  });
});

describe('the reactor connection limits (real sockets)', () => {
  it('refuses connections over the per-worker limit and counts the reason', async () => {
    const port = await start({ maxConnections: { limit: 2, reason: 'max_connections_per_worker' } });
    const a = await greeted(port);
    const b = await greeted(port);
    const refused = await connectClient(port);
    await refused.closed();
    expect(refused.received()).toBe('');
    expect(reactor!.metrics.service('greeter').rejected.get('max_connections_per_worker')).toBe(1);
    a.end();
    await a.closed();
    const c = await greeted(port); // a slot is free again
    b.end();
    c.end();
  });

  it('refuses a second connection from the same IP, not from another', async () => {
    const port = await start({ maxConnectionsPerIp: 1 });
    const first = await greeted(port, '127.0.0.1');
    const again = await connectClient(port, '127.0.0.1', '127.0.0.1');
    await again.closed();
    const other = await greeted(port, '127.0.0.2');
    expect(reactor!.metrics.service('greeter').rejected.get('max_connections_per_ip')).toBe(1);
    first.end();
    other.end();
  });
});
