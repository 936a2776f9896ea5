import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Factory } from '../../src/shared/protocol/factory.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import { ProtocolCallbackError } from '../../src/shared/protocol/errors.js';
import { Reactor } from '../../src/worker/reactor.js';
import { connectClient } from '../helpers/client.js';

let reactor: Reactor | undefined;
afterEach(async () => {
  await reactor?.stop();
  reactor = undefined;
});

const lost: Error[] = [];

class Hello extends Protocol {
  override connectionMade(): void {
    this.transport.write('hi\n');
  }
  override connectionLost(reason: Error): void {
    lost.push(reason);
  }
}

class BadDrain extends Hello {
  override drain(): void {
    throw new Error('drain hook broke');
  }
}

async function start(protocol: new () => Protocol): Promise<number> {
  reactor = new Reactor({ log: pino({ level: 'silent' }), pool: { threads: 1 } });
  const bound = await reactor.listen('tcp:0:interface=127.0.0.1', Factory.forProtocol(protocol), 'svc');
  return bound.port!;
}

describe('the reactor drain', () => {
  it('routes a throwing drain hook through the driver: counted, connection aborted, drain not held up', async () => {
    lost.length = 0;
    const port = await start(BadDrain);
    const client = await connectClient(port);
    await client.waitFor((t) => t === 'hi\n');
    // A long budget: only the abort can end this connection before the deadline.
    const drained = reactor!.drain(60_000);
    await client.closed();
    await drained;
    expect(reactor!.metrics.service('svc').errors.get(ProtocolCallbackError.code)).toBe(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(ProtocolCallbackError);
    expect(lost[0]!.message).toContain('drain failed');
  });

  it('finishes as soon as the last connection closes, without waiting for the deadline', async () => {
    lost.length = 0;
    const port = await start(Hello);
    const client = await connectClient(port);
    await client.waitFor((t) => t === 'hi\n');
    let done = false;
    const drained = reactor!.drain(60_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // the default drain hook waits for the peer
    client.end();
    await drained;
    expect(lost).toHaveLength(1);
    expect(reactor!.metrics.service('svc').errors.size).toBe(0);
  });
});
