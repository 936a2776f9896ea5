/**
 * Port-0 endpoints get a concrete port before any worker forks. The port is
 * held until a worker is about to bind it: between the pick and the bind,
 * nothing else on the host may take it (a client's ephemeral port, another
 * server's port 0), which once failed a start-up with "address already in use".
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PortPins } from '../../src/master/port-pins.js';
import type { ServiceConfig } from '../../src/shared/config/options.js';

function service(name: string, ...listen: string[]): ServiceConfig {
  return { name, protocol: 'lines', listen, options: {} } as unknown as ServiceConfig;
}

/** Binds `port` on 127.0.0.1, or says why not. */
async function tryBind(port: number): Promise<'bound' | string> {
  const server = createServer();
  const outcome = await new Promise<string>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host: '127.0.0.1' }, () => resolve('bound'));
  });
  if (outcome === 'bound') await new Promise((resolve) => server.close(resolve));
  return outcome;
}

describe('PortPins', () => {
  let pins = new PortPins();
  afterEach(() => {
    pins.releaseAll();
    pins = new PortPins();
  });

  it('gives each port-0 endpoint its own port, and leaves the others as written', async () => {
    const services = [service('a', 'tcp:0:interface=127.0.0.1', 'unix:/tmp/x.sock', 'tcp:7000'), service('b', 'tcp:0:interface=127.0.0.1')];
    await pins.pin(services);
    const applied = pins.apply(services);
    const a = Number(/^tcp:(\d+)/.exec(applied[0]!.listen[0]!)![1]);
    const b = Number(/^tcp:(\d+)/.exec(applied[1]!.listen[0]!)![1]);
    expect(a).toBeGreaterThan(0);
    expect(b).not.toBe(a);
    expect(applied[0]!.listen.slice(1)).toEqual(['unix:/tmp/x.sock', 'tcp:7000']);
    // Pinning again keeps the ports.
    await pins.pin(services);
    expect(pins.apply(services)).toEqual(applied);
  });

  it('holds a pinned port until it is released for the bind, then frees it at once', async () => {
    const services = [service('a', 'tcp:0:interface=127.0.0.1')];
    await pins.pin(services);
    const port = Number(/^tcp:(\d+)/.exec(pins.apply(services)[0]!.listen[0]!)![1]);
    expect(await tryBind(port)).toBe('EADDRINUSE');
    pins.release(port);
    expect(await tryBind(port)).toBe('bound');
    pins.release(port); // a second worker's release: nothing held, nothing happens
  });
});
