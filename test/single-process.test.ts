import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Factory, listenTCP, Protocol, reactor, ShutdownError } from '../src/index.js';
import { connectClient } from './helpers/client.js';
import { ROOT } from './helpers/server.js';

const events: string[] = [];

class Recorder extends Protocol {
  override connectionMade(): void {
    events.push('made');
    this.transport.write('hi\n');
  }
  override dataReceived(data: Buffer): void {
    events.push(`data:${data.toString()}`);
    this.transport.write(`got ${data.toString()}`);
  }
  override connectionLost(reason: Error): void {
    events.push(`lost:${reason.name}`);
  }
}

describe('listenTCP + reactor.run (one process)', () => {
  afterEach(async () => {
    await reactor.stop();
    events.length = 0;
  });

  it('runs a protocol over real sockets and delivers connectionLost once on stop', async () => {
    const bound = await listenTCP(0, Factory.forProtocol(Recorder), { interface: '127.0.0.1' });
    const running = reactor.run();
    const client = await connectClient(bound.port!);
    await client.waitFor((t) => t === 'hi\n');
    client.write('x');
    await client.waitFor((t) => t === 'hi\ngot x');
    await reactor.stop();
    await running;
    await client.closed();
    expect(events).toEqual(['made', 'data:x', `lost:${ShutdownError.name}`]);
  });

  it('delivers ConnectionDone when the peer closes cleanly', async () => {
    const bound = await listenTCP(0, Factory.forProtocol(Recorder), { interface: '127.0.0.1' });
    const client = await connectClient(bound.port!);
    await client.waitFor((t) => t === 'hi\n');
    client.end();
    await client.closed();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['made', 'lost:ConnectionDone']);
  });

  it('refuses a connection when buildProtocol returns null', async () => {
    class Refuser extends Factory {
      override buildProtocol() {
        return null;
      }
    }
    const bound = await listenTCP(0, new Refuser(), { interface: '127.0.0.1' });
    const client = await connectClient(bound.port!);
    expect(await client.closed()).toBeDefined();
    expect(client.received()).toBe('');
  });
});

describe('serve() from a user script', () => {
  it('becomes the primary and runs the same factory in every worker', async () => {
    const script = fileURLToPath(new URL('./fixtures/serve-script.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), 30_000);
        const check = () => {
          const line = out.split('\n').find((l) => l.includes('skein ready'));
          if (line) {
            clearTimeout(timer);
            resolve((JSON.parse(line) as { endpoints: Array<{ port: number }> }).endpoints[0]!.port);
          }
        };
        child.stdout.on('data', check);
      });
      const client = await connectClient(port);
      client.write('quiet');
      await client.waitFor((t) => t === 'QUIET');
      client.end();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode).toBe(0);
  });
});
