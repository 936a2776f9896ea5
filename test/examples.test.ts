/**
 * Every folder of examples/, as a user runs it: copied into the app that installed the
 * packed tarball, type-checked under its strict tsconfig, its unit tests run with the
 * app's vitest, then served with `npx skein serve` (or its own script) and spoken to
 * by a real client over a real socket.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digest } from '../examples/offload/processors.js';
import { encodeFrame } from '../examples/binary/frames.js';
import { connectClient } from './helpers/client.js';
import { exec, packedApp, type PackedApp } from './helpers/packed-app.js';
import { eventually, freePort, ROOT, startServer, type StartedServer } from './helpers/server.js';

const QUIET = ['--metrics-port', '0'];

describe('examples/, from the packed tarball', { timeout: 300_000 }, () => {
  let app: PackedApp;
  const serve = (module: string, ...args: string[]) =>
    startServer([`./examples/${module}`, '--port', '0', '--workers', '1', ...QUIET, ...args], { cwd: app.app, cli: app.bin });

  /** One server for the examples that need nothing else: a service each (one start instead of five). */
  let shared: StartedServer;
  const portOf = (service: string) => shared.endpoints.find((e) => e.service === service)!.port!;

  beforeAll(async () => {
    app = await packedApp();
    cpSync(join(ROOT, 'examples'), join(app.app, 'examples'), { recursive: true });
    const services = ['seed/seed.ts', 'kv/kv.ts', 'http/app.ts', 'offload/hasher.ts', 'binary/calculator.ts'].map((module) => ({
      name: module.split('/')[0],
      protocol: `./examples/${module}`,
      listen: ['tcp:0:interface=127.0.0.1'],
    }));
    writeFileSync(join(app.app, 'examples.json'), JSON.stringify({ workers: 1, metricsPort: 0, services }));
    shared = await startServer(['--config', 'examples.json'], { cwd: app.app, cli: app.bin });
  }, 300_000);

  afterAll(async () => {
    expect(await shared?.stop()).toBe(0);
  });

  it('type-check under a strict tsconfig (declaration, noImplicitOverride) and pass their own unit tests', async () => {
    await exec(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--noEmit'], app.app);
    const out = await exec(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'examples/'], app.app);
    expect(out).toMatch(/Test Files\s+7 passed \(7\)/);
  });

  it('seed: skein serve, and serve() from its own script on two workers', async () => {
    const viaScript = await startServer([], {
      cwd: app.app,
      cli: join(app.app, 'examples/seed/main.ts'),
      execArgv: ['--import', 'tsx'],
      env: { PORT: '0', SKEIN_WORKERS: '2', SKEIN_METRICS_PORT: '0' },
    });
    try {
      expect(viaScript.pids).toHaveLength(2);
      for (const port of [portOf('seed'), viaScript.port]) {
        const c = await connectClient(port);
        c.write('hello');
        await c.waitFor((t) => t === 'Welcome to my network application!\r\nProcessed: hello');
        c.end();
      }
    } finally {
      expect(await viaScript.stop()).toBe(0);
    }
  });

  it('chat: clients on two workers share a room through the hub', async () => {
    const hub = await serve('chat/hub.ts');
    const chat = await serve('chat/chat.ts', '--workers', '2', '--balance', 'least-connections', '--option', `hub=127.0.0.1:${hub.port}`);
    try {
      const alice = await connectClient(chat.port);
      alice.write('alice\r\n');
      await alice.waitFor((t) => t.includes('hello alice, 1 here on this worker'));
      const bob = await connectClient(chat.port);
      bob.write('bob\r\n');
      // least-connections put bob on the other worker: a room of one there.
      await bob.waitFor((t) => t.includes('hello bob, 1 here on this worker'));
      alice.write('hi bob\r\n');
      await bob.waitFor((t) => t.endsWith('alice: hi bob\r\n'));
      alice.end();
      bob.end();
    } finally {
      expect(await chat.stop()).toBe(0);
      expect(await hub.stop()).toBe(0);
    }
  });

  it('kv: one store per worker, shared by its connections', async () => {
    const a = await connectClient(portOf('kv'));
    a.write('SET k v 1\r\n');
    await a.waitFor((t) => t === 'OK\r\n');
    const b = await connectClient(portOf('kv'));
    b.write('GET k\r\n');
    await b.waitFor((t) => t === 'VALUE v 1\r\n');
    a.end();
    b.end();
  });

  it('http: answers fetch()', async () => {
    const base = `http://127.0.0.1:${portOf('http')}`;
    expect(await (await fetch(`${base}/hello?name=you`)).json()).toEqual({ hello: 'you' });
    expect(await (await fetch(`${base}/echo`, { method: 'POST', body: 'ping' })).text()).toBe('ping');
    expect(await (await fetch(`${base}/uptime`)).text()).toMatch(/^up for \d+ s\n$/);
    expect((await fetch(`${base}/missing`)).status).toBe(404);
  });

  it('client: reconnects when its server comes back', async () => {
    const port = String(await freePort());
    const seed = () => startServer(['./examples/seed/seed.ts', '--port', port, '--workers', '1', '--shutdown-timeout', '1', ...QUIET], { cwd: app.app, cli: app.bin });
    let server = await seed();
    const client = spawn(process.execPath, ['--import', 'tsx', 'examples/client/client.ts', '127.0.0.1', port], { cwd: app.app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    client.stdout.on('data', (c: Buffer) => (out += c.toString()));
    client.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await eventually(() => out.includes('Processed: ping 1'), 30_000);
      expect(await server.stop()).toBe(0);
      await eventually(() => out.includes('connection lost'));
      server = await seed();
      await eventually(() => out.split('connected\n').length === 3 && /connected\n(.|\n)*Processed: ping 1\n(.|\n)*connected\n(.|\n)*Processed: ping/.test(out), 30_000);
    } finally {
      client.kill('SIGTERM');
      const [code] = (await once(client, 'exit')) as [number | null];
      expect(code, out).toBe(0);
      expect(await server.stop()).toBe(0);
    }
  });

  it('offload: digests computed on the pool, answered in order', async () => {
    const c = await connectClient(portOf('offload'));
    c.write('a\r\nb\r\n');
    const signal = new AbortController().signal;
    await c.waitFor((t) => t === `${digest(Buffer.from('a'), { signal })}\r\n${digest(Buffer.from('b'), { signal })}\r\n`, 30_000);
    c.end();
  });

  it('binary: frames over a real socket', async () => {
    const socket = connect(portOf('binary'), '127.0.0.1');
    const add = Buffer.alloc(8);
    add.writeInt32BE(40, 0);
    add.writeInt32BE(2, 4);
    socket.end(Buffer.concat([encodeFrame(1, Buffer.from('x')), encodeFrame(3, add)]));
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const sum = Buffer.alloc(4);
    sum.writeInt32BE(42);
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([encodeFrame(2, Buffer.from('x')), encodeFrame(4, sum)]));
  });
});
