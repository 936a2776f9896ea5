import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { eventually, freePort, startServer } from './helpers/server.js';

const OPS = fileURLToPath(new URL('./fixtures/ops-protocol.ts', import.meta.url));

/** Resolves with the error code of a connection attempt, or 'connected'. Never retries. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

/** Waits for the process to exit on its own; its exit code. */
async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return child.exitCode;
}

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, answers every accepted request before exiting 0, and is not ready meanwhile', async () => {
    // The budget is generous: here every connection ends because its client closes it.
    const server = await startServer([OPS, '--port', '0', '--workers', '2', '--pool-threads', '2', '--shutdown-timeout', '60', '--metrics-port', String(await freePort())]);
    const metricsPort = server.metricsPort!;
    expect(await status(metricsPort, '/readyz')).toBe(200);

    // Slow offloaded work in flight on every worker (round-robin spreads the clients).
    const busy = await Promise.all([0, 1, 2, 3].map(() => connectClient(server.port)));
    busy.forEach((c, i) => c.write(`slow 1000 c${i}-a\nslow 200 c${i}-b\n`));
    await Promise.all(busy.map((c, i) => c.waitFor((t) => t.includes(`accepted c${i}-b\n`))));
    // An idle session: the default drain waits for its peer to close it.
    const idle = await connectClient(server.port);
    idle.write('hello\n');
    await idle.waitFor((t) => t === 'echo: hello\n');

    expect(server.child.kill('SIGTERM')).toBe(true);
    // Draining: not ready (503), still alive, and new connections are refused.
    await eventually(async () => (await status(metricsPort, '/readyz')) === 503);
    expect(await status(metricsPort, '/healthz')).toBe(200);
    await eventually(async () => (await tryConnect(server.port)) === 'ECONNREFUSED');

    // Every accepted request is answered, in order, before the worker exits.
    await Promise.all(busy.map((c, i) => c.waitFor((t) => t.endsWith(`done: c${i}-a\ndone: c${i}-b\n`))));
    for (const c of busy) c.end();
    await Promise.all(busy.map((c) => c.closed()));
    // The idle session was not cut: it is still served until it leaves.
    idle.write('still here\n');
    await idle.waitFor((t) => t.endsWith('echo: still here\n'));
    idle.end();
    await idle.closed();

    expect(await exitCode(server.child)).toBe(0);
    const fixtureLines = server.logs.filter((l) => l.msg.startsWith('fixture:'));
    expect(fixtureLines.filter((l) => l.msg === 'fixture: stopFactory')).toHaveLength(2);
    const lost = fixtureLines.filter((l) => l.msg === 'fixture: connectionLost').map((l) => l.code);
    expect(lost).toEqual(Array(5).fill('SKEIN_ERR_CONNECTION_DONE'));
  });

  it('on SIGTERM, `lines` and `processed --offload` answer every line already sent (2,000 pipelined) before exiting 0', async () => {
    for (const args of [['lines'], ['processed', '--offload']]) {
      const server = await startServer([...args, '--port', '0', '--workers', '1', '--pool-threads', '1', '--metrics-port', '0', '--shutdown-timeout', '60']);
      const client = await connectClient(server.port);
      if (args[0] === 'processed') await client.waitFor((t) => t.includes('\n')); // its welcome line
      const sent = Array.from({ length: 2000 }, (_, i) => `m${i}`);
      client.write(sent.map((m) => `${m}\r\n`).join(''));
      expect(server.child.kill('SIGTERM')).toBe(true);
      // Drain: nothing already sent is dropped, in order; the connection stays until its client leaves.
      const replies = await client.waitFor((t) => (t.match(/m\d+/g) ?? []).length >= sent.length, 30_000);
      expect(replies.match(/m\d+/g)).toEqual(sent);
      client.end();
      await client.closed();
      expect(await exitCode(server.child)).toBe(0);
    }
  });

  it('with --shutdown-delay, is not ready but still serves for the delay, then drains and exits 0', async () => {
    const server = await startServer([OPS, '--port', '0', '--workers', '1', '--shutdown-delay', '3', '--metrics-port', String(await freePort())]);
    server.child.kill('SIGTERM');
    await server.waitForLog((l) => l.msg === 'not ready; draining in 3s');
    expect(await status(server.metricsPort!, '/readyz')).toBe(503);
    // Still accepting: a balancer that has not noticed yet loses nothing.
    const late = await connectClient(server.port);
    late.write('hello\n');
    await late.waitFor((t) => t === 'echo: hello\n');
    late.end();
    await late.closed();
    expect(await exitCode(server.child)).toBe(0);
  });

  it('closes what is still open at --shutdown-timeout with ShutdownError, and exits 0', async () => {
    const server = await startServer([OPS, '--port', '0', '--workers', '1', '--shutdown-timeout', '1', '--metrics-port', '0']);
    const held = await connectClient(server.port);
    held.write('hello\n');
    await held.waitFor((t) => t === 'echo: hello\n');
    server.child.kill('SIGTERM');
    await held.closed();
    expect(await exitCode(server.child)).toBe(0);
    expect(server.logs.filter((l) => l.msg === 'fixture: connectionLost').map((l) => l.code)).toEqual(['SKEIN_ERR_SHUTDOWN']);
  });

  it('a second signal closes what is left at once and still exits 0', async () => {
    const server = await startServer([OPS, '--port', '0', '--workers', '1', '--shutdown-timeout', '60', '--metrics-port', '0']);
    const held = await connectClient(server.port);
    held.write('hello\n');
    await held.waitFor((t) => t === 'echo: hello\n');
    server.child.kill('SIGTERM');
    await server.waitForLog((l) => l.msg === 'draining');
    server.child.kill('SIGINT');
    await held.closed();
    expect(await exitCode(server.child)).toBe(0);
    expect(server.logs.some((l) => l.msg === 'fixture: connectionLost' && l.code === 'SKEIN_ERR_SHUTDOWN')).toBe(true);
  });
});
