/**
 * The offload pool over real sockets: `skein serve` of a TypeScript protocol
 * whose TypeScript processors run on pool threads without a build step.
 */
import fc from 'fast-check';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries, type TestClient } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const PROTOCOL = 'test/fixtures/offload-protocol.ts';
const LABEL = 'protocol="offload-protocol"';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Sends `commands` (one per line, pipelined in one write) and waits for as many reply lines. */
async function exchange(client: TestClient, commands: string[]): Promise<string[]> {
  const before = lines(client.received()).length;
  client.write(commands.map((c) => `${c}\n`).join(''));
  const text = await client.waitFor((t) => lines(t).length >= before + commands.length);
  return lines(text).slice(before);
}

async function tasks(metricsPort: number, status: string): Promise<number> {
  return sumSeries(await scrape(metricsPort), 'skein_offload_tasks_total', `status="${status}"`);
}

describe('offload: TypeScript processors on pool threads (1 worker, 2 threads, queue 4, 64 MiB each)', () => {
  let server: StartedServer;
  let metricsPort: number;

  beforeAll(async () => {
    metricsPort = await freePort();
    server = await startServer([
      PROTOCOL,
      ...['--port', '0', '--workers', '1', '--pool-threads', '2', '--pool-max-queue', '4', '--pool-thread-memory', '64'],
      ...['--metrics-port', String(metricsPort)],
    ]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('runs the processor on a pool thread, not the worker main thread', async () => {
    const client = await connectClient(server.port);
    const [threadId] = await exchange(client, ['thread']);
    expect(Number(threadId)).toBeGreaterThan(0);
    client.end();
  });

  it('answers pipelined requests in request order while their tasks finish out of order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (delays, cuts) => {
          const client = await connectClient(server.port);
          const text = delays.map((ms, id) => `sleep ${JSON.stringify({ id, ms })}\n`).join('');
          // Split the pipeline at arbitrary byte offsets: chunk boundaries carry no meaning.
          const offsets = [...new Set(cuts.map((c) => c % text.length))].sort((a, b) => a - b);
          let from = 0;
          for (const at of [...offsets, text.length]) {
            client.write(text.slice(from, at));
            from = at;
          }
          const replies = lines(await client.waitFor((t) => lines(t).length >= delays.length));
          client.end();
          await client.closed();
          expect(replies).toEqual(delays.map((_, id) => String(id)));
        },
      ),
      { numRuns: 12 },
    );
  });

  it('gives the protocol the processor’s error with its name, code and message; the connection goes on', async () => {
    const client = await connectClient(server.port);
    expect(await exchange(client, ['fail "bad input"', 'echo "after"'])).toEqual(['ERR CustomError E_CUSTOM bad input', '"after"']);
    client.end();
  });

  it('a thread that calls process.exit fails only its own task; the pool replaces it', async () => {
    const failedBefore = await tasks(metricsPort, 'failed');
    const bystander = await connectClient(server.port);
    const victim = await connectClient(server.port);
    bystander.write(`sleep ${JSON.stringify({ id: 7, ms: 150 })}\n`);
    const replies = await exchange(victim, ['exit', 'echo "alive"', 'thread', 'thread']);
    expect(replies[0]).toMatch(/^ERR OffloadThreadError SKEIN_ERR_OFFLOAD_THREAD pool thread died while running 'exit'/);
    expect(replies[1]).toBe('"alive"');
    expect(Number(replies[2])).toBeGreaterThan(0);
    expect(lines(await bystander.waitFor((t) => lines(t).length >= 1))).toEqual(['7']);
    expect(await tasks(metricsPort, 'failed')).toBe(failedBefore + 1);
    victim.end();
    bystander.end();
  });

  it('a processor that allocates without bound loses its thread at --pool-thread-memory; the worker and its connections go on', async () => {
    const failedBefore = await tasks(metricsPort, 'failed');
    const bystander = await connectClient(server.port);
    const victim = await connectClient(server.port);
    bystander.write(`sleep ${JSON.stringify({ id: 8, ms: 150 })}\n`);
    const dir = mkdtempSync(join(tmpdir(), 'skein-hog-'));
    const replies = await exchange(victim, [`hog ${JSON.stringify({ dir })}`, 'echo "alive"', 'thread']);
    expect(replies[0]).toMatch(/^ERR OffloadThreadError SKEIN_ERR_OFFLOAD_THREAD pool thread died while running 'hog': .*memory limit/);
    // It was stopped near the limit (V8's default would have let it take about a quarter of the host's memory).
    const held = Number(readFileSync(join(dir, 'hog'), 'utf8'));
    rmSync(dir, { recursive: true, force: true });
    expect(held).toBeGreaterThan(8 * 1024 * 1024);
    expect(held).toBeLessThanOrEqual(64 * 1024 * 1024);
    // The same connection, the same worker process: the next tasks run on a replacement thread.
    expect(replies[1]).toBe('"alive"');
    expect(Number(replies[2])).toBeGreaterThan(0);
    expect(lines(await bystander.waitFor((t) => lines(t).length >= 1))).toEqual(['8']);
    expect(await tasks(metricsPort, 'failed')).toBe(failedBefore + 1);
    victim.end();
    bystander.end();
  });

  it('on connection loss (reset), drops its queued tasks and its running tasks see an aborted signal (threads survive)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-cancel-'));
    try {
      const cancelledBefore = await tasks(metricsPort, 'cancelled');
      const client = await connectClient(server.port);
      // Two tasks occupy both threads until cancelled (a sync loop and an async wait); two more queue behind them.
      client.write(
        [
          `loop ${JSON.stringify({ dir, id: 1 })}`,
          `wait ${JSON.stringify({ dir, id: 2 })}`,
          `loop ${JSON.stringify({ dir, id: 3 })}`,
          `wait ${JSON.stringify({ dir, id: 4 })}`,
        ].join('\n') + '\n',
      );
      await eventually(() => existsSync(join(dir, 'started-1')) && existsSync(join(dir, 'started-2')));
      // A reset: a FIN alone is a half-close, whose requests the server still answers.
      client.socket.resetAndDestroy();
      await eventually(() => existsSync(join(dir, 'aborted-1')) && existsSync(join(dir, 'aborted-2')));
      // The processor writes the file after creating it: wait for its content.
      await eventually(() => / OffloadCancelledError$/.test(readFileSync(join(dir, 'aborted-2'), 'utf8')));
      await eventually(async () => (await tasks(metricsPort, 'cancelled')) === cancelledBefore + 4);
      expect(readdirSync(dir).sort()).toEqual(['aborted-1', 'aborted-2', 'started-1', 'started-2']);
      // The cancelled tasks' threads were not terminated: new tasks run on them.
      const threads = new Set(['started-1', 'started-2'].map((f) => readFileSync(join(dir, f), 'utf8')));
      const next = await connectClient(server.port);
      for (const id of await exchange(next, ['thread', 'thread'])) expect(threads).toContain(id);
      next.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('under overload answers every pipelined request in order and never queues more than --pool-max-queue', async () => {
    const completedBefore = await tasks(metricsPort, 'completed');
    const clients = await Promise.all([0, 1, 2].map(() => connectClient(server.port)));
    let maxQueue = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxQueue = Math.max(maxQueue, sumSeries(await scrape(metricsPort), 'skein_offload_queue_size', LABEL));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const N = 40;
    const answers = await Promise.all(
      clients.map((c, k) => exchange(c, Array.from({ length: N }, (_, i) => `spin ${JSON.stringify({ id: k * 1000 + i, ms: 4 })}`))),
    );
    sampling = false;
    await sampler;
    answers.forEach((replies, k) => expect(replies).toEqual(Array.from({ length: N }, (_, i) => String(k * 1000 + i))));
    expect(maxQueue).toBeLessThanOrEqual(4);
    expect(await tasks(metricsPort, 'completed')).toBe(completedBefore + 3 * N);
    for (const c of clients) c.end();
  });
});

describe('offload: --pool-task-timeout', () => {
  it('cancels a task that runs past the limit with OffloadTimeoutError; its thread and the connections go on', async () => {
    const metricsPort = await freePort();
    const server = await startServer([
      PROTOCOL,
      ...['--port', '0', '--workers', '1', '--pool-threads', '1', '--pool-task-timeout', '0.5'],
      ...['--metrics-port', String(metricsPort)],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'skein-timeout-'));
    try {
      const victim = await connectClient(server.port);
      const bystander = await connectClient(server.port);
      // A processor that never finishes on its own (it stops when its signal aborts) holds the only thread...
      victim.write(`loop ${JSON.stringify({ dir, id: 1 })}\n`);
      await eventually(() => existsSync(join(dir, 'started-1')));
      // ...and another connection's task waits for it.
      bystander.write(`echo "waited"\n`);
      expect(lines(await victim.waitFor((t) => lines(t).length >= 1))).toEqual([
        "ERR OffloadTimeoutError SKEIN_ERR_OFFLOAD_TIMEOUT task 'loop' ran longer than the pool's task timeout (0.5 s)",
      ]);
      expect(lines(await bystander.waitFor((t) => lines(t).length >= 1))).toEqual(['"waited"']);
      expect(existsSync(join(dir, 'aborted-1'))).toBe(true);
      // The processor honoured its signal: its thread was not replaced, and the victim's connection is still served.
      expect(await exchange(victim, ['thread'])).toEqual([readFileSync(join(dir, 'started-1'), 'utf8')]);
      expect(await tasks(metricsPort, 'cancelled')).toBe(1);
      victim.end();
      bystander.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('offload: --pool-overload reject', () => {
  it('answers requests that find the queue full with OffloadOverloadError, in order, and counts them', async () => {
    const metricsPort = await freePort();
    const server = await startServer([
      PROTOCOL,
      ...['--port', '0', '--workers', '1', '--pool-threads', '1', '--pool-max-queue', '1', '--pool-overload', 'reject'],
      ...['--metrics-port', String(metricsPort)],
    ]);
    try {
      const client = await connectClient(server.port);
      const N = 8;
      const replies = await exchange(
        client,
        Array.from({ length: N }, (_, id) => `spin ${JSON.stringify({ id, ms: 30 })}`),
      );
      const rejected = replies.filter((r) => r.startsWith('ERR OffloadOverloadError SKEIN_ERR_OFFLOAD_OVERLOAD ')).length;
      replies.forEach((r, id) => expect([String(id), 'ERR']).toContain(r === String(id) ? r : r.slice(0, 3)));
      expect(rejected).toBeGreaterThan(0);
      expect(await tasks(metricsPort, 'rejected')).toBe(rejected);
      expect(await tasks(metricsPort, 'completed')).toBe(N - rejected);
      client.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('offload: drain', () => {
  it('on SIGTERM lets in-flight offloaded work finish and its reply go out, then exits 0', async () => {
    const server = await startServer([PROTOCOL, '--port', '0', '--workers', '1', '--metrics-port', '0']);
    const client = await connectClient(server.port);
    expect(await exchange(client, ['thread'])).toHaveLength(1); // the pool is up
    client.write(`sleep ${JSON.stringify({ id: 42, ms: 300 })}\n`);
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await client.waitFor((t) => lines(t).includes('42'));
    client.end();
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });
});
